"""Record-level hospital data -> area x month :class:`~evidence.panel.Panel`, on DuckDB or Spark.

Steps of :func:`panel_from_records`
-----------------------------------
1. **Find the files** (a Parquet file, a folder of them, or a glob) and check each file's columns and types from its
   Parquet footer (:func:`evidence.records.schema.check_columns`); the id column tells spells from attendances.
2. **Open the engine** (DuckDB with a memory limit and spill folder, or a Spark session) and expose the files as the
   view ``records``, plus three small tables: geography (code -> footprint), age bands, HRG costs in pence.
3. **Check values** with the shared query ``sql/check_<kind>.sql`` (one scan): missing values, codes outside the
   allowed lists, negative lengths of stay, duplicate ids, dates outside the window. Each problem stops the build
   with a one-line :class:`~evidence.errors.DataError` naming the column and an example (examples come from
   ``sql/bad_values.sql`` and ``sql/duplicate_ids.sql``); records outside the window may instead be left out when
   ``outside_window="drop"`` (counted in the notes).
4. **Aggregate** with ``sql/aggregate_<kind>.sql`` (one scan): integer counts by footprint and month (``yyyymm``).
   Records whose LSOA or provider code the lookup does not know come back under a missing footprint; their codes
   and shares are listed by ``sql/unknown_codes.sql``. With ``unknown_codes="error"`` (the default) they stop the
   build; with ``"drop"`` the build goes on without them and the notes and ``Panel.extras['records']`` list them.
5. **Assemble the panel** in Python, identically for both engines: the full footprint x month grid (zero where no
   records), means, pounds, rates per 1,000 and directly standardised rates, footprint population and baseline
   covariates, then :func:`evidence.panel.validate_panel`.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Month of a record
    Context: a spell can span months. Decision: a spell counts in the month of its admission (an attendance in the
    month of arrival), and all its bed days count there too. Consequences: bed days are "bed days of spells
    admitted in the month" (the HES convention for spell-based counts), not occupied bed days in the month; long
    stays that straddle the window's end are counted in full.
Population
    Context: no population by LSOA ships; footprint populations do (ONS mid-year estimates by band). Decision:
    rates use the footprint's ONS population interpolated to the month (``evidence.data.ae.monthly_population``),
    for residence and provider panels alike (as the built-in A&E panel does). Consequences: residence rates are
    true population rates; provider rates divide by the host footprint's residents, so flows across boundaries
    distort them, and the notes say so.
Direct standardisation
    Context: record data give emergency admissions by age band. Decision: ``<outcome>_dsr`` is the directly
    standardised rate per 1,000 residents per month with European Standard Population 2013 weights over the four
    broad bands (:func:`evidence.standardise.direct_standardised_rate`). Consequences: areas with older populations
    are compared as if they had the same age mix; sex is reported (age-sex counts) but not standardised, since the
    ONS file has no population by age and sex.
"""

from __future__ import annotations

import glob as _glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.ae import COVARIATES, DEPRIVATION, POPULATION, TRUST_REGION, TRUST_STP, footprint_covariates, monthly_population
from ..errors import DataError
from ..panel import Panel, sha256, validate_panel
from ..paths import display, resolve
from ..standardise import BANDS, ESP_BANDS, direct_standardised_rate, esp_weights
from . import sql as sqlmod
from .costs import activity_cost, cost_map, pence
from .engines import DuckDBEngine, Engine, SparkEngine
from .lookups import footprint_names, geo_map, lookup_files
from .schema import ADMISSION_METHODS, AGE_BAND_MAP, BAND_SUFFIX, SEXES, RecordSchema, age_band_table, canonical_arrow, check_columns, detect_schema

ENGINES: tuple[str, ...] = ("duckdb", "spark")
GEOGRAPHIES: tuple[str, ...] = ("residence", "provider")
POLICIES: tuple[str, ...] = ("error", "drop")
_REMOTE = ("s3://", "s3a://", "gs://", "hdfs://", "abfs://", "abfss://", "http://", "https://", "file://", "dbfs:/")
_FAR_START, _FAR_END = "0001-01-01", "9999-12-01"


@dataclass
class RecordsReport:
    """What the record pipeline read, checked and left out.

    Attributes
    ----------
    kind
        ``spells`` or ``attendances``.
    engine, geography
        How the panel was built.
    source
        The path or glob as given (project-relative when inside the project).
    files
        Local record files read (empty for remote paths).
    n_records
        Records in the files.
    n_outside_window, n_unknown
        Records left out because their date lies outside the window (``outside_window="drop"``) or their code is
        unknown to the geography lookup (``unknown_codes="drop"``).
    unknown
        Unknown codes: ``code``, ``n``, ``share`` (of the records inside the window).
    share_unknown
        Share of in-window records with unknown codes.
    n_costed, cost_fallback
        Records valued in pounds, and how many of them at the activity average (no or unknown HRG).
    window
        First and last month of the panel.
    synthetic
        Whether any record (or file) is marked synthetic.
    queries
        The SQL texts run, by step (the same for every engine).
    """

    kind: str
    engine: str
    geography: str
    source: str
    files: list[str]
    n_records: int
    n_outside_window: int
    n_unknown: int
    unknown: pd.DataFrame
    share_unknown: float
    n_costed: int
    cost_fallback: int
    window: tuple[str, str]
    synthetic: bool
    queries: dict[str, str] = field(default_factory=dict)


# --- inputs ----------------------------------------------------------------------------------------------------------


def _month(value: Any, what: str) -> pd.Period:
    """A month from ``YYYY-MM``, ``YYYY-MM-DD``, a date, a Timestamp or a Period."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value.strip()):
        raise DataError(f"{what} {value!r} is not a month; write it as YYYY-MM (for example 2016-04).")
    try:
        return pd.Period(value.to_timestamp() if isinstance(value, pd.Period) else value, "M")
    except (ValueError, TypeError):
        raise DataError(f"{what} {value!r} is not a month; write it as YYYY-MM (for example 2016-04).") from None


def resolve_files(path_or_glob: str | os.PathLike[str]) -> tuple[list[str] | str, str, bool]:
    """Expand a record path into Parquet files.

    Parameters
    ----------
    path_or_glob
        A Parquet file, a folder (every ``*.parquet`` below it), a glob (``data/spells/*.parquet``, ``**`` allowed),
        or a remote URL (``s3://``, ``hdfs://`` ..., passed to the engine unchanged).

    Returns
    -------
    (files, name, local)
        Sorted local file list (or the URL), the name used in messages, and whether the files are local.

    Raises
    ------
    DataError
        Nothing matches.
    """
    text = str(path_or_glob)
    if text.startswith(_REMOTE):
        return text, text, False
    p = resolve(text)
    name = display(p)
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*.parquet") if f.is_file())
    elif any(ch in text for ch in "*?["):
        files = sorted(f for f in _glob.glob(str(p), recursive=True) if os.path.isfile(f))
    elif p.is_file():
        files = [str(p)]
    else:
        raise DataError(f"{name} does not exist (data.records.path); give a Parquet file, a folder of Parquet files or a glob.")
    if not files:
        raise DataError(f"{name}: no Parquet files found (data.records.path); give a Parquet file, a folder of them or a glob like data/spells/*.parquet.")
    return files, name, True


def _footer_check(files: list[str]) -> tuple[RecordSchema, dict[str, bool], bool]:
    """Check every local file's columns and types from its footer; return the schema, optional columns, synthetic flag."""
    import pyarrow.parquet as pq

    schema: RecordSchema | None = None
    optional: dict[str, bool] | None = None
    synthetic = False
    for f in files:
        name = display(f)
        try:
            s = pq.read_schema(f)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for non-Parquet files
            raise DataError(f"{name} is not a readable Parquet file ({str(exc).splitlines()[0][:200]}); remove it from data.records.path.") from None
        types = {fld.name: canonical_arrow(fld.type) for fld in s}
        this = detect_schema(types, name)
        if schema is None:
            schema = this
        elif this.kind != schema.kind:
            raise DataError(f"{name} holds {this.kind} but {display(files[0])} holds {schema.kind}; keep one kind of record per data.records.path.")
        opt = check_columns(types, schema, name)
        if optional is None:
            optional = opt
        elif opt != optional:
            diff = next(k for k in opt if opt[k] != optional[k])
            raise DataError(f"{name}: optional column '{diff}' is {'present' if opt[diff] else 'absent'} here but {'present' if optional[diff] else 'absent'} in {display(files[0])}; give every file the same columns.")
        meta = s.metadata or {}
        synthetic = synthetic or meta.get(b"evidence.synthetic") == b"true"
    assert schema is not None and optional is not None
    return schema, optional, synthetic


# --- the query steps -------------------------------------------------------------------------------------------------


def _open_engine(engine: str, spark_master: str | None, memory_limit: str | None, temp_dir: str | os.PathLike[str] | None, spark_session: Any) -> Engine:
    if engine == "duckdb":
        return DuckDBEngine(memory_limit=memory_limit, temp_dir=temp_dir)
    if engine == "spark":
        return SparkEngine(master=spark_master, memory_limit=memory_limit, temp_dir=temp_dir, session=spark_session)
    raise DataError(f"data.records.engine {engine!r} is not an engine; use one of {', '.join(ENGINES)}.")


def _examples(eng: Engine, column: str, condition: str, slots: dict[str, Any], queries: dict[str, str]) -> str:
    text = sqlmod.render("bad_values", **slots, column=column, condition=condition)
    queries[f"bad_values:{column}"] = text
    ex = eng.sql(text, f"listing bad values of {column}")
    return ", ".join(f"{v!r} ({int(n):,})" for v, n in zip(ex["value"], ex["n"]))


def _check_values(eng: Engine, schema: RecordSchema, name: str, slots: dict[str, Any], queries: dict[str, str], window_given: bool, outside_window: str, window_text: str) -> pd.Series:
    text = sqlmod.render(f"check_{schema.kind}", **slots)
    queries["check"] = text
    c = eng.sql(text, f"checking the {schema.kind} records").iloc[0]
    n = int(c["n_records"])
    if n == 0:
        raise DataError(f"{name}: has no {schema.kind} records (data.records.path).")
    for col in schema.required:
        miss = int(c[f"missing_{col}"])
        if miss:
            raise DataError(f"{name}: column '{col}' has {miss:,} missing values ({miss / n:.2%} of records); every {schema.kind[:-1]} record needs one.")
    rules = [("age_band", f"age_band NOT IN ({sqlmod.quoted_list(tuple(AGE_BAND_MAP))})", "allowed age bands (0-17, 18-64, 65-74, 75+, or 5-year bands with 15-19 split into 15-17 and 18-19)"),
             ("sex", f"sex NOT IN ({sqlmod.quoted_list(SEXES)})", f"allowed codes {', '.join(SEXES)}")]
    if schema.kind == "spells":
        rules = [("admission_method", f"admission_method NOT IN ({sqlmod.quoted_list(ADMISSION_METHODS)})", f"allowed values {', '.join(ADMISSION_METHODS)}")] + rules
        rules.append(("length_of_stay", "length_of_stay < 0", "whole days >= 0"))
    for col, cond, allowed in rules:
        bad = int(c[f"bad_{col}"])
        if bad:
            ex = _examples(eng, col, cond, slots, queries)
            hint = "; re-band 15-19 from age in years (15-17 and 18-19)" if col == "age_band" and "'15-19'" in ex else ""
            raise DataError(f"{name}: column '{col}' has {bad:,} values outside the {allowed}, e.g. {ex}{hint}.")
    text = sqlmod.render("count_ids", **slots)
    queries["count_ids"] = text
    dup = n - int(eng.sql(text, f"counting distinct {schema.id_column} values").iloc[0]["n_distinct_ids"])
    if dup:
        text = sqlmod.render("duplicate_ids", **slots)
        queries["duplicate_ids"] = text
        ex = eng.sql(text, "listing duplicate ids")
        shown = ", ".join(f"{i} (x{int(k)})" for i, k in zip(ex["id"], ex["n"]))
        raise DataError(f"{name}: {dup:,} duplicate {schema.id_column} values, e.g. {shown}; each {schema.kind[:-1]} must appear once (remove repeated rows or episodes of the same spell).")
    out = int(c["outside_window"])
    if out and outside_window == "error":
        first, last = int(c["first_month"]), int(c["last_month"])
        raise DataError(f"{name}: {out:,} records ({out / n:.2%}) have {schema.date_column} outside the window {window_text} (records run {first // 100}-{first % 100:02d} to {last // 100}-{last % 100:02d}); widen start/end (design.start, design.end) or set data.records.outside_window: drop.")
    return c


def aggregate_records(
    path_or_glob: str | os.PathLike[str],
    *,
    engine: str = "duckdb",
    geography: str = "residence",
    start: Any = None,
    end: Any = None,
    spark_master: str | None = None,
    memory_limit: str | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
    unit_costs: str | os.PathLike[str] | pd.DataFrame | None = None,
    hrg_costs: str | os.PathLike[str] | pd.DataFrame | bool | None = None,
    unknown_codes: str = "error",
    outside_window: str = "error",
    spark_session: Any = None,
) -> tuple[pd.DataFrame, RecordsReport]:
    """Check records and count them by footprint and month with the chosen engine (steps 1-4 of the module).

    Parameters are those of :func:`panel_from_records`.

    Returns
    -------
    (counts, report)
        ``counts``: one row per footprint and month that has records: ``unit`` (2021 footprint code), ``yyyymm``
        and the integer columns of ``sql/aggregate_<kind>.sql``; ``report``: :class:`RecordsReport`.
    """
    if geography not in GEOGRAPHIES:
        raise DataError(f"data.records.geography {geography!r} is not a geography; use residence or provider.")
    for key, val in (("unknown_codes", unknown_codes), ("outside_window", outside_window)):
        if val not in POLICIES:
            raise DataError(f"data.records.{key} {val!r} must be error or drop.")
    if engine not in ENGINES:
        raise DataError(f"data.records.engine {engine!r} is not an engine; use one of {', '.join(ENGINES)}.")
    s_month = _month(start, "start (design.start)") if start is not None else None
    e_month = _month(end, "end (design.end)") if end is not None else None
    if s_month is not None and e_month is not None and e_month < s_month:
        raise DataError(f"end (design.end) {e_month} is before start (design.start) {s_month}.")
    window_text = f"{s_month or 'open'}..{e_month or 'open'}"

    files, name, local = resolve_files(path_or_glob)
    schema: RecordSchema | None = None
    optional: dict[str, bool] = {}
    footer_synthetic = False
    if local:
        schema, optional, footer_synthetic = _footer_check(files)  # type: ignore[arg-type]

    default_cost, _price_year = activity_cost(("emergency_admission" if schema is None or schema.kind == "spells" else "ae_attendance"), unit_costs)

    eng = _open_engine(engine, spark_master, memory_limit, temp_dir, spark_session)
    queries: dict[str, str] = {}
    try:
        types = eng.register_parquet("records", files)
        if schema is None:
            schema = detect_schema(types, name)
            default_cost, _price_year = activity_cost(schema.activity, unit_costs)
        optional = check_columns(types, schema, name)
        eng.register_frame("age_map", age_band_table())
        eng.register_frame("geo_map", geo_map(geography))
        cmap = cost_map(schema.kind, hrg_costs) if optional.get("hrg_code") else cost_map(schema.kind, False)
        eng.register_frame("cost_map", cmap)

        slots: dict[str, Any] = {
            "records": "records", "geo_map": "geo_map", "age_map": "age_map", "cost_map": "cost_map",
            "geo_column": "lsoa11_code" if geography == "residence" else "provider_code",
            "date_column": schema.date_column, "id_column": schema.id_column,
            "hrg_code": "s.hrg_code" if optional.get("hrg_code") else "CAST(NULL AS STRING)",
            "synthetic": "synthetic" if optional.get("synthetic") else "FALSE",
            "admission_methods": sqlmod.quoted_list(ADMISSION_METHODS), "sexes": sqlmod.quoted_list(SEXES),
            "age_bands": sqlmod.quoted_list(tuple(AGE_BAND_MAP)), "default_cost_pence": pence(default_cost),
            "start": s_month.start_time.strftime("%Y-%m-%d") if s_month is not None else _FAR_START,
            "end": (e_month + 1).start_time.strftime("%Y-%m-%d") if e_month is not None else _FAR_END,
        }
        checks = _check_values(eng, schema, name, slots, queries, start is not None or end is not None, outside_window, window_text)
        n_records = int(checks["n_records"])
        n_outside = int(checks["outside_window"])
        first, last = int(checks["first_month"]), int(checks["last_month"])
        s_month = s_month or pd.Period(year=first // 100, month=first % 100, freq="M")
        e_month = e_month or pd.Period(year=last // 100, month=last % 100, freq="M")
        if e_month < s_month or n_outside == n_records:
            raise DataError(f"{name}: no records fall inside the window {window_text} (records run {first // 100}-{first % 100:02d} to {last // 100}-{last % 100:02d}); change start/end (design.start, design.end).")
        if (e_month - s_month).n >= 600:
            raise DataError(f"{name}: {schema.date_column} runs from {s_month} to {e_month}, over 50 years; check the dates, or set start/end (design.start, design.end) to the analysis window.")
        slots["start"] = s_month.start_time.strftime("%Y-%m-%d")
        slots["end"] = (e_month + 1).start_time.strftime("%Y-%m-%d")

        text = sqlmod.render(f"aggregate_{schema.kind}", **slots)
        queries["aggregate"] = text
        counts = eng.sql(text, f"aggregating the {schema.kind} records")
        int_cols = [c for c in counts.columns if c != "unit"]
        counts[int_cols] = counts[int_cols].fillna(0).astype("int64")
        in_window = int(counts["n_records"].sum())
        unknown_rows = counts["unit"].isna()
        n_unknown = int(counts.loc[unknown_rows, "n_records"].sum())
        unknown = pd.DataFrame({"code": pd.Series([], dtype=str), "n": pd.Series([], dtype="int64"), "share": pd.Series([], dtype=float)})
        if n_unknown:
            text = sqlmod.render("unknown_codes", **slots)
            queries["unknown_codes"] = text
            unknown = eng.sql(text, "listing unknown codes")
            unknown["n"] = unknown["n"].astype("int64")
            unknown["share"] = unknown["n"] / in_window
            what = "LSOA (lsoa11_code)" if geography == "residence" else "provider (provider_code)"
            shown = ", ".join(f"{c} ({k:,}, {s:.2%})" for c, k, s in zip(unknown["code"].head(5), unknown["n"].head(5), unknown["share"].head(5)))
            if unknown_codes == "error":
                lookup = "data/raw/reference/lookup_lsoa11_ccg21_stp21_ltla21.csv.gz (English LSOAs, 2011 codes)" if geography == "residence" else "the trust lookups (3-character trust codes)"
                raise DataError(f"{name}: {n_unknown:,} records ({n_unknown / in_window:.2%}) have {len(unknown)} {what} codes not in {lookup}: {shown}{' ...' if len(unknown) > 5 else ''}; fix the codes, or set data.records.unknown_codes: drop to leave them out (they are then listed in the notes).")
        counts = counts.loc[~unknown_rows].reset_index(drop=True)
        cost_col = "emergency_cost_fallback" if schema.kind == "spells" else "attendance_cost_fallback"
        n_costed = int(counts["emergency_admissions" if schema.kind == "spells" else "attendances"].sum())
        synthetic = footer_synthetic or int(checks["n_synthetic"]) > 0
        report = RecordsReport(
            kind=schema.kind, engine=engine, geography=geography, source=name, files=[display(f) for f in files] if local else [],
            n_records=n_records, n_outside_window=n_outside, n_unknown=n_unknown, unknown=unknown.reset_index(drop=True),
            share_unknown=n_unknown / in_window if in_window else 0.0, n_costed=n_costed, cost_fallback=int(counts[cost_col].sum()),
            window=(str(s_month), str(e_month)), synthetic=synthetic, queries=queries,
        )
        return counts.sort_values(["unit", "yyyymm"]).reset_index(drop=True), report
    finally:
        eng.close()


# --- panel -------------------------------------------------------------------------------------------------------------

SPELL_OUTCOMES: dict[str, str] = {
    "emergency_admissions": "count",
    "elective_admissions": "count",
    "emergency_bed_days": "count",
    "emergency_mean_los": "continuous",
    "emergency_cost": "continuous",
    "emergency_admissions_per_1000": "continuous",
    "emergency_admissions_dsr": "continuous",
    **{f"emergency_admissions_{s}": "count" for s in BAND_SUFFIX.values()},
    **{f"emergency_admissions_{s}_{sex}": "count" for sex in ("female", "male") for s in BAND_SUFFIX.values()},
}
"""Outcomes of a spells panel and their kinds."""

ATTENDANCE_OUTCOMES: dict[str, str] = {
    "attendances": "count",
    "attendance_cost": "continuous",
    "attendances_per_1000": "continuous",
    "attendances_dsr": "continuous",
    **{f"attendances_{s}": "count" for s in BAND_SUFFIX.values()},
    **{f"attendances_{s}_{sex}": "count" for sex in ("female", "male") for s in BAND_SUFFIX.values()},
}
"""Outcomes of an attendances panel and their kinds."""


def counts_to_panel(counts: pd.DataFrame, report: RecordsReport, *, outcomes: list[str] | None = None, checksums: bool = True, unit_costs_note: str = "") -> Panel:
    """Turn integer counts into a validated :class:`Panel` (step 5 of the module; engine-independent).

    Parameters
    ----------
    counts, report
        From :func:`aggregate_records`.
    outcomes
        Outcomes to keep (``data.outcomes``); ``None`` = all of them.
    checksums
        Add sha256 checksums of the local record files to ``Panel.files`` (reads every byte once).

    Returns
    -------
    Panel
        Footprints x months, balanced, with ``population`` and the outcomes of :data:`SPELL_OUTCOMES` or
        :data:`ATTENDANCE_OUTCOMES`.
    """
    kind = report.kind
    every = SPELL_OUTCOMES if kind == "spells" else ATTENDANCE_OUTCOMES
    unknown = [o for o in (outcomes or []) if o not in every]
    if unknown:
        raise DataError(f"data.outcomes: '{unknown[0]}' is not an outcome of {kind} records; choose from {', '.join(every)}.")
    months = pd.period_range(report.window[0], report.window[1], freq="M")
    names = footprint_names()
    grid = pd.MultiIndex.from_product([names["stp21_code"], [p.year * 100 + p.month for p in months]], names=["unit", "yyyymm"])
    c = counts.set_index(["unit", "yyyymm"]).reindex(grid, fill_value=0).reset_index()
    df = pd.DataFrame({"stp21_code": c["unit"].to_numpy(), "period": pd.to_datetime({"year": c["yyyymm"] // 100, "month": c["yyyymm"] % 100, "day": 1})})
    pop = monthly_population(months)
    pop["period"] = pop["period"].dt.to_timestamp()
    df = df.merge(pop, on=["stp21_code", "period"], how="left")
    band_pop = np.column_stack([monthly_population(months, b).assign(period=lambda d: d["period"].dt.to_timestamp()).set_index(["stp21_code", "period"])[b].reindex(pd.MultiIndex.from_frame(df[["stp21_code", "period"]])).to_numpy() for b in BANDS])
    w = esp_weights().reindex(list(BANDS)).to_numpy()
    notes: list[str] = []
    if kind == "spells":
        wanted = outcomes
        outcomes = dict(SPELL_OUTCOMES)
        for col in ("emergency_admissions", "elective_admissions", "emergency_bed_days") + tuple(k for k in SPELL_OUTCOMES if k.startswith("emergency_admissions_") and SPELL_OUTCOMES[k] == "count"):
            df[col] = c[col].to_numpy(dtype="int64")
        adm = df["emergency_admissions"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            df["emergency_mean_los"] = df["emergency_bed_days"].to_numpy(float) / adm
        df["emergency_cost"] = c["emergency_cost_pence"].to_numpy(dtype="int64") / 100.0
        df["emergency_admissions_per_1000"] = 1000.0 * adm / df["population"].to_numpy(float)
        events = np.column_stack([df[f"emergency_admissions_{BAND_SUFFIX[b]}"].to_numpy(float) for b in BANDS])
        df["emergency_admissions_dsr"] = direct_standardised_rate(events, band_pop, w)
        if (adm == 0).any():
            if wanted is not None and "emergency_mean_los" in wanted:
                raise DataError(f"data.outcomes: emergency_mean_los is undefined in {int((adm == 0).sum())} footprint-month(s) without emergency admissions; analyse emergency_bed_days and emergency_admissions instead.")
            del outcomes["emergency_mean_los"]
            df = df.drop(columns="emergency_mean_los")
            notes.append(f"emergency_mean_los left out: {int((adm == 0).sum())} footprint-month(s) have no emergency admissions.")
        head = "admitted patient care spells"
        cost_text = "emergency spells"
    else:
        wanted = outcomes
        outcomes = dict(ATTENDANCE_OUTCOMES)
        for col in [k for k, v in ATTENDANCE_OUTCOMES.items() if v == "count"]:
            df[col] = c[col].to_numpy(dtype="int64")
        att = df["attendances"].to_numpy(float)
        df["attendance_cost"] = c["attendance_cost_pence"].to_numpy(dtype="int64") / 100.0
        df["attendances_per_1000"] = 1000.0 * att / df["population"].to_numpy(float)
        events = np.column_stack([df[f"attendances_{BAND_SUFFIX[b]}"].to_numpy(float) for b in BANDS])
        df["attendances_dsr"] = direct_standardised_rate(events, band_pop, w)
        head = "A&E attendances"
        cost_text = "attendances"
    if wanted is not None:
        outcomes = {o: outcomes[o] for o in wanted}
        df = df.drop(columns=[c for c in every if c in df.columns and c not in outcomes])
    cov = footprint_covariates()
    df = df.merge(names, on="stp21_code", how="left").merge(cov, on="stp21_code", how="left")
    order = list(outcomes)
    frame, freq, vnotes = validate_panel(df, name=f"records {report.source}", unit="stp21_code", time="period", outcomes=order, outcome_kinds=outcomes,
                                         unit_name="stp21_name", population="population", covariates=list(COVARIATES), extra=["region"], frequency="month")
    label = "SYNTHETIC " if report.synthetic else ""
    geo_text = ("by patients' residence (LSOA 2011 -> 2021 footprint)" if report.geography == "residence"
                else "by provider (trust -> 2021 footprint, successor chains followed); rates divide by the host footprint's residents")
    notes.insert(0, f"{label}{head} from {report.source} ({report.n_records:,} records, engine {report.engine}), counted {geo_text}, {report.window[0]}..{report.window[1]}.")
    if report.synthetic:
        notes.insert(0, "SYNTHETIC DATA: these records were made by evidence.records.generate; no estimate from this panel describes real patients.")
    if report.n_outside_window:
        notes.append(f"{report.n_outside_window:,} records dated outside {report.window[0]}..{report.window[1]} left out (data.records.outside_window: drop).")
    if report.n_unknown:
        shown = ", ".join(f"{a} ({b:,}, {s:.2%})" for a, b, s in zip(report.unknown["code"].head(10), report.unknown["n"].head(10), report.unknown["share"].head(10)))
        notes.append(f"{report.n_unknown:,} records ({report.share_unknown:.2%}) with {len(report.unknown)} unknown codes left out (data.records.unknown_codes: drop): {shown}{' ...' if len(report.unknown) > 10 else ''}.")
    if report.n_costed:
        notes.append(f"Costs of {cost_text} at NCC 2023/24 unit costs{unit_costs_note}: {report.n_costed - report.cost_fallback:,} by HRG, {report.cost_fallback:,} ({report.cost_fallback / report.n_costed:.1%}) at the activity average.")
    notes.append("Rates per 1,000 use ONS footprint populations interpolated to months; *_dsr are directly standardised rates per 1,000 (ESP 2013, four broad age bands).")
    notes.extend(vnotes)

    files: dict[str, str] = {}
    for p in lookup_files(report.geography) + [POPULATION, DEPRIVATION, TRUST_STP, TRUST_REGION, ESP_BANDS]:
        files[display(p)] = sha256(p)
    if checksums:
        for f in report.files:
            files[f] = sha256(resolve(f))
    source = f"records:{'synthetic:' if report.synthetic else ''}{report.kind}:{report.geography}:{report.source}"
    return Panel(frame, order, outcomes, freq, list(COVARIATES), source=source, files=files, notes=notes,
                 columns={"unit": "stp21_code", "time": "period", "unit_name": "stp21_name"},
                 extras={"records": report, "counts": counts, "synthetic": report.synthetic})


def panel_from_records(
    path_or_glob: str | os.PathLike[str],
    *,
    engine: str = "duckdb",
    geography: str = "residence",
    start: Any = None,
    end: Any = None,
    spark_master: str | None = None,
    memory_limit: str | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
    unit_costs: str | os.PathLike[str] | pd.DataFrame | None = None,
    hrg_costs: str | os.PathLike[str] | pd.DataFrame | bool | None = None,
    unknown_codes: str = "error",
    outside_window: str = "error",
    outcomes: list[str] | None = None,
    checksums: bool = True,
    spark_session: Any = None,
) -> Panel:
    """Build a footprint x month :class:`Panel` from record-level spells or A&E attendances.

    Parameters
    ----------
    path_or_glob
        Parquet file, folder, glob or remote URL (``data.records.path``); spells and attendances are told apart by
        their id column (``spell_id`` / ``attendance_id``).
    engine
        ``duckdb`` (embedded, out of core; default) or ``spark`` (``data.records.engine``).
    geography
        ``residence`` (LSOA -> 2021 footprint; default) or ``provider`` (trust -> 2021 footprint)
        (``data.records.geography``).
    start, end
        First and last month of the panel (``design.start``/``design.end``; ``YYYY-MM``, a date or a Period);
        ``None`` = the records' first/last month.
    spark_master
        Spark master URL (``data.records.spark_master``): ``local[2]``, ``spark://host:7077`` ...; ``None`` = the
        active session or ``local[*]``. Checked (and a network master connected to) before Spark starts.
    memory_limit
        DuckDB ``memory_limit`` (e.g. ``2GB``), or the Spark driver/executor memory for a session started here
        (``data.records.memory_limit``); ``None`` = the engine's default.
    temp_dir
        Spill folder (``data.records.temp_dir``); ``None`` = a private folder under the system temp directory.
    unit_costs
        Activity unit costs (``costs.unit_costs`` CSV or DataFrame ``activity, unit_cost``); ``None`` = NCC 2023/24.
    hrg_costs
        HRG-keyed unit costs used when records carry ``hrg_code``: ``None`` = NCC 2023/24 by HRG and setting,
        ``False`` = never, or a CSV/DataFrame ``setting, currency_code, unit_cost``.
    unknown_codes
        ``error`` (default): LSOA or provider codes missing from the lookup stop the build, listing codes and shares;
        ``drop``: build without them and list them in the notes (``data.records.unknown_codes``).
    outside_window
        ``error`` (default) or ``drop`` records dated outside ``start``..``end`` (``data.records.outside_window``).
    outcomes
        Outcomes to keep (``data.outcomes``); ``None`` = every outcome of the record kind. Names unknown to both
        kinds stop the build before the records are read; outcomes of the other kind stop it after.
    checksums
        Record sha256 checksums of local record files in ``Panel.files``.
    spark_session
        Use this SparkSession (tests, notebooks); it is not stopped.

    Returns
    -------
    Panel
        Validated by :func:`evidence.panel.validate_panel`; ``Panel.extras['records']`` is the
        :class:`RecordsReport` (unknown codes, exclusions, queries run), ``Panel.extras['counts']`` the integer
        counts as the engine returned them.

    Raises
    ------
    DataError
        One line for every problem: missing or mistyped columns, missing values, codes outside the allowed lists,
        duplicate ids, dates outside the window, unknown codes (unless dropped), an unreachable Spark master.
    """
    known = {**SPELL_OUTCOMES, **ATTENDANCE_OUTCOMES}
    typo = [o for o in (outcomes or []) if o not in known]
    if typo:
        raise DataError(f"data.outcomes: '{typo[0]}' is not an outcome of spells records or of attendances records; choose from {', '.join(SPELL_OUTCOMES)} (spells) or {', '.join(ATTENDANCE_OUTCOMES)} (attendances).")
    counts, report = aggregate_records(
        path_or_glob, engine=engine, geography=geography, start=start, end=end, spark_master=spark_master,
        memory_limit=memory_limit, temp_dir=temp_dir, unit_costs=unit_costs, hrg_costs=hrg_costs,
        unknown_codes=unknown_codes, outside_window=outside_window, spark_session=spark_session,
    )
    note = ""
    if unit_costs is not None:
        note = f" (activity averages from {display(unit_costs) if not isinstance(unit_costs, pd.DataFrame) else 'a user table'})"
    return counts_to_panel(counts, report, outcomes=outcomes, checksums=checksums, unit_costs_note=note)
