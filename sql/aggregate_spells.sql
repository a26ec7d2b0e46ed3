-- Admitted-patient-care spells -> area x month counts (the panel's integer core).
-- One definition for every engine: evidence.records runs this same text on DuckDB and on Spark SQL, and turns the
-- integer answers into rates, means and pounds in Python (evidence.records.aggregate), so both engines give
-- identical panels.
-- Placeholders: records = the records view; geo_map = code -> unit (2021 footprint) table; geo_column =
-- lsoa11_code (residence) or provider_code (provider); age_map = age_band -> broad band table; cost_map =
-- (setting, currency_code) -> cost_pence table; hrg_code = the hrg_code column or a typed NULL when absent;
-- default_cost_pence = the emergency_admission unit cost in pence; start, end = the window [start, end).
-- Codes missing from geo_map give unit NULL: the caller reports them (never dropped silently).
WITH spell AS (
    SELECT
        g.unit AS unit,
        CAST(year(s.admission_date) * 100 + month(s.admission_date) AS BIGINT) AS yyyymm,
        CASE WHEN s.admission_method = 'emergency' THEN 1 ELSE 0 END AS emergency,
        CASE WHEN s.admission_method = 'elective' THEN 1 ELSE 0 END AS elective,
        CAST(s.length_of_stay AS BIGINT) AS los,
        a.band AS band,
        s.sex AS sex,
        c.cost_pence AS hrg_cost_pence
    FROM {records} s
    LEFT JOIN {geo_map} g ON s.{geo_column} = g.code
    JOIN {age_map} a ON s.age_band = a.age_band
    LEFT JOIN {cost_map} c
        ON c.currency_code = {hrg_code}
        AND c.setting = CASE WHEN s.length_of_stay <= 1 THEN 'short_stay' ELSE 'long_stay' END
    WHERE s.admission_date >= DATE '{start}' AND s.admission_date < DATE '{end}'
)
SELECT
    unit,
    yyyymm,
    CAST(COUNT(*) AS BIGINT) AS n_records,
    CAST(SUM(emergency) AS BIGINT) AS emergency_admissions,
    CAST(SUM(elective) AS BIGINT) AS elective_admissions,
    CAST(SUM(emergency * los) AS BIGINT) AS emergency_bed_days,
    CAST(SUM(elective * los) AS BIGINT) AS elective_bed_days,
    CAST(SUM(CASE WHEN band = 'pop_0_17' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_0_17,
    CAST(SUM(CASE WHEN band = 'pop_18_64' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_18_64,
    CAST(SUM(CASE WHEN band = 'pop_65_74' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_65_74,
    CAST(SUM(CASE WHEN band = 'pop_75_plus' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_75_plus,
    CAST(SUM(CASE WHEN band = 'pop_0_17' AND sex = 'F' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_0_17_female,
    CAST(SUM(CASE WHEN band = 'pop_18_64' AND sex = 'F' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_18_64_female,
    CAST(SUM(CASE WHEN band = 'pop_65_74' AND sex = 'F' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_65_74_female,
    CAST(SUM(CASE WHEN band = 'pop_75_plus' AND sex = 'F' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_75_plus_female,
    CAST(SUM(CASE WHEN band = 'pop_0_17' AND sex = 'M' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_0_17_male,
    CAST(SUM(CASE WHEN band = 'pop_18_64' AND sex = 'M' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_18_64_male,
    CAST(SUM(CASE WHEN band = 'pop_65_74' AND sex = 'M' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_65_74_male,
    CAST(SUM(CASE WHEN band = 'pop_75_plus' AND sex = 'M' THEN emergency ELSE 0 END) AS BIGINT) AS emergency_admissions_75_plus_male,
    CAST(SUM(emergency * COALESCE(hrg_cost_pence, {default_cost_pence})) AS BIGINT) AS emergency_cost_pence,
    CAST(SUM(CASE WHEN hrg_cost_pence IS NULL THEN emergency ELSE 0 END) AS BIGINT) AS emergency_cost_fallback
FROM spell
GROUP BY unit, yyyymm
