-- Value checks on admitted-patient-care spells: one scan, integer answers only (unique ids: sql/count_ids.sql).
-- One definition for every engine: evidence.records runs this same text on DuckDB and on Spark SQL.
-- Placeholders (filled by evidence.records.sql.render): records = the records view; admission_methods, sexes,
-- age_bands = quoted allowed codes from evidence.records.schema; start, end = the window [start, end) as
-- YYYY-MM-DD; synthetic = the synthetic column or FALSE when absent.
SELECT
    CAST(COUNT(*) AS BIGINT) AS n_records,
    CAST(SUM(CASE WHEN patient_id IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_patient_id,
    CAST(SUM(CASE WHEN spell_id IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_spell_id,
    CAST(SUM(CASE WHEN provider_code IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_provider_code,
    CAST(SUM(CASE WHEN lsoa11_code IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_lsoa11_code,
    CAST(SUM(CASE WHEN admission_date IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_admission_date,
    CAST(SUM(CASE WHEN admission_method IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_admission_method,
    CAST(SUM(CASE WHEN age_band IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_age_band,
    CAST(SUM(CASE WHEN sex IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_sex,
    CAST(SUM(CASE WHEN length_of_stay IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS missing_length_of_stay,
    CAST(SUM(CASE WHEN admission_method NOT IN ({admission_methods}) THEN 1 ELSE 0 END) AS BIGINT) AS bad_admission_method,
    CAST(SUM(CASE WHEN sex NOT IN ({sexes}) THEN 1 ELSE 0 END) AS BIGINT) AS bad_sex,
    CAST(SUM(CASE WHEN age_band NOT IN ({age_bands}) THEN 1 ELSE 0 END) AS BIGINT) AS bad_age_band,
    CAST(SUM(CASE WHEN length_of_stay < 0 THEN 1 ELSE 0 END) AS BIGINT) AS bad_length_of_stay,
    CAST(SUM(CASE WHEN admission_date < DATE '{start}' OR admission_date >= DATE '{end}' THEN 1 ELSE 0 END) AS BIGINT) AS outside_window,
    CAST(MIN(year(admission_date) * 100 + month(admission_date)) AS BIGINT) AS first_month,
    CAST(MAX(year(admission_date) * 100 + month(admission_date)) AS BIGINT) AS last_month,
    CAST(SUM(CASE WHEN {synthetic} THEN 1 ELSE 0 END) AS BIGINT) AS n_synthetic
FROM {records}
