-- Codes (LSOA or provider) inside the window that the geography lookup does not know, with their record counts.
-- One definition for every engine (DuckDB and Spark SQL). Placeholders: records, geo_map, geo_column,
-- date_column, start, end.
SELECT s.{geo_column} AS code, CAST(COUNT(*) AS BIGINT) AS n
FROM {records} s
LEFT JOIN {geo_map} g ON s.{geo_column} = g.code
WHERE g.code IS NULL AND s.{date_column} >= DATE '{start}' AND s.{date_column} < DATE '{end}'
GROUP BY s.{geo_column}
ORDER BY n DESC, code
