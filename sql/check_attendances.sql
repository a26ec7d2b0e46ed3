-- Value checks on A&E attendances: one scan, integer answers only (unique ids: sql/count_ids.sql).
-- One definition for every engine: evidence.records runs this same text on DuckDB and on Spark SQL.
-- Placeholders as in check_spells.sql (admission_methods is not used here).
SELECT
    CAST(COUNT(*) AS BIGINT) AS n_records,
    CAST(SUM(CASE WHEN patient_id IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_patient_id,
    CAST(SUM(CASE WHEN attendance_id IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_attendance_id,
    CAST(SUM(CASE WHEN provider_code IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_provider_code,
    CAST(SUM(CASE WHEN lsoa11_code IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_lsoa11_code,
    CAST(SUM(CASE WHEN arrival_date IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_arrival_date,
    CAST(SUM(CASE WHEN age_band IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_age_band,
    CAST(SUM(CASE WHEN sex IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_sex,
    CAST(SUM(CASE WHEN sex NOT IN ({sexes}) THEN 1 ELSE 0 END) AS BIGINT) AS bad_sex,
    CAST(SUM(CASE WHEN age_band NOT IN ({age_bands}) THEN 1 ELSE 0 END) AS BIGINT) AS bad_age_band,
    CAST(SUM(CASE WHEN arrival_date < DATE '{start}' OR arrival_date >= DATE '{end}' THEN 1 ELSE 0 END) AS BIGINT) AS outside_window,
    CAST(MIN(year(arrival_date) * 100 + month(arrival_date)) AS BIGINT) AS first_month,
    CAST(MAX(year(arrival_date) * 100 + month(arrival_date)) AS BIGINT) AS last_month,
    CAST(SUM(CASE WHEN {synthetic} THEN 1 ELSE 0 END) AS BIGINT) AS n_synthetic
FROM {records}
