-- A&E attendances -> area x month counts (the panel's integer core).
-- One definition for every engine: evidence.records runs this same text on DuckDB and on Spark SQL.
-- Placeholders as in aggregate_spells.sql; cost_map rows for attendances have setting 'ae' and default_cost_pence
-- is the ae_attendance unit cost in pence.
WITH attendance AS (
    SELECT
        g.unit AS unit,
        CAST(year(s.arrival_date) * 100 + month(s.arrival_date) AS BIGINT) AS yyyymm,
        a.band AS band,
        s.sex AS sex,
        c.cost_pence AS hrg_cost_pence
    FROM {records} s
    LEFT JOIN {geo_map} g ON s.{geo_column} = g.code
    JOIN {age_map} a ON s.age_band = a.age_band
    LEFT JOIN {cost_map} c ON c.currency_code = {hrg_code} AND c.setting = 'ae'
    WHERE s.arrival_date >= DATE '{start}' AND s.arrival_date < DATE '{end}'
)
SELECT
    unit,
    yyyymm,
    CAST(COUNT(*) AS BIGINT) AS n_records,
    CAST(COUNT(*) AS BIGINT) AS attendances,
    CAST(SUM(CASE WHEN band = 'pop_0_17' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_0_17,
    CAST(SUM(CASE WHEN band = 'pop_18_64' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_18_64,
    CAST(SUM(CASE WHEN band = 'pop_65_74' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_65_74,
    CAST(SUM(CASE WHEN band = 'pop_75_plus' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_75_plus,
    CAST(SUM(CASE WHEN band = 'pop_0_17' AND sex = 'F' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_0_17_female,
    CAST(SUM(CASE WHEN band = 'pop_18_64' AND sex = 'F' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_18_64_female,
    CAST(SUM(CASE WHEN band = 'pop_65_74' AND sex = 'F' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_65_74_female,
    CAST(SUM(CASE WHEN band = 'pop_75_plus' AND sex = 'F' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_75_plus_female,
    CAST(SUM(CASE WHEN band = 'pop_0_17' AND sex = 'M' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_0_17_male,
    CAST(SUM(CASE WHEN band = 'pop_18_64' AND sex = 'M' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_18_64_male,
    CAST(SUM(CASE WHEN band = 'pop_65_74' AND sex = 'M' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_65_74_male,
    CAST(SUM(CASE WHEN band = 'pop_75_plus' AND sex = 'M' THEN 1 ELSE 0 END) AS BIGINT) AS attendances_75_plus_male,
    CAST(SUM(COALESCE(hrg_cost_pence, {default_cost_pence})) AS BIGINT) AS attendance_cost_pence,
    CAST(SUM(CASE WHEN hrg_cost_pence IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS attendance_cost_fallback
FROM attendance
GROUP BY unit, yyyymm
