-- Distinct record ids (compared with the record count to find duplicates): a query of its own, so that the engines
-- group by the id column alone instead of carrying every check's running sums per id.
-- One definition for every engine (DuckDB and Spark SQL). Placeholders: records, id_column.
SELECT CAST(COUNT(DISTINCT {id_column}) AS BIGINT) AS n_distinct_ids
FROM {records}
