-- The commonest offending values of one column (for error messages), run only after a check found some.
-- One definition for every engine (DuckDB and Spark SQL). Placeholders: records, column, condition (a boolean
-- SQL expression built from evidence.records.schema).
SELECT CAST({column} AS STRING) AS value, CAST(COUNT(*) AS BIGINT) AS n
FROM {records}
WHERE {condition}
GROUP BY CAST({column} AS STRING)
ORDER BY n DESC, value
LIMIT 3
