-- Record ids that occur more than once (for error messages), run only after the check found duplicates.
-- One definition for every engine (DuckDB and Spark SQL). Placeholders: records, id_column.
SELECT CAST({id_column} AS STRING) AS id, CAST(COUNT(*) AS BIGINT) AS n
FROM {records}
GROUP BY CAST({id_column} AS STRING)
HAVING COUNT(*) > 1
ORDER BY n DESC, id
LIMIT 3
