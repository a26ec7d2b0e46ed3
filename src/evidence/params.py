"""Parameters: one YAML file per evaluation, validated before anything runs.

A parameters file is read with ``yaml.safe_load`` (never evaluated as code), merged over the defaults below,
then checked key by key: unknown keys (with the nearest known key suggested), wrong types, values outside their
choices, malformed dates and missing files each raise a one-line :class:`~evidence.errors.ParamsError` naming
the key. ``--set key=value`` overrides are parsed as YAML scalars/lists and validated the same way.

Relative paths in a parameters file are resolved against the project root (see :mod:`evidence.paths`).
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ParamsError
from .paths import ROOT, candidates, display, locate, resolve, tried_text
from .paths import _exists as exists

NOTEBOOK_ORDER: tuple[str, ...] = ("00_primary", "00_data", "01_did", "02_staggered", "03_synthetic_control", "04_its", "05_robustness", "06_power", "07_evidence", "08_costs_satisfaction")
"""Notebooks of the workbook, in reading order; ``07_evidence`` summarises the others and runs last."""

BUILTIN_SOURCES: tuple[str, ...] = ("nhs_ae",)


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that keeps dates as text (so they are checked key by key) and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201 - PyYAML signature
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ParamsError(f"key '{key}' appears twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1}); keep one.")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _safe_load(text: str):  # noqa: ANN202
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


@dataclass(frozen=True)
class Field:
    """One parameter: its type, default, allowed values and help text (shown in errors and the README)."""

    kind: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    check: Callable[[Any, str], None] | None = None


_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$|^\d{4}/\d{2}$")


def _check_period(value: Any, key: str) -> None:
    if isinstance(value, bool):
        raise ParamsError(f"key '{key}': {value!r} is not a period; give a date like 2016-04 or 2016-04-01, or an integer period such as 2004.")
    if isinstance(value, int):
        return
    text = str(value)
    if not _DATE_RE.match(text):
        from .periods import date_hint  # a spreadsheet form (May-16, 01/05/2016): say how it reads, in the form to write

        hint = date_hint(text)
        reads = f"; {text!r} reads as {hint} — write that" if hint else ""
        raise ParamsError(f"key '{key}': {value!r} is not a date; write it as YYYY-MM or YYYY-MM-DD (for example 2016-04), or an integer period such as 2004{reads}.")
    if "/" in text:
        y, yy = text.split("/")
        if (int(y) + 1) % 100 != int(yy):
            month = f"write {y}-{yy} for {_dt_month(int(yy))} {y}, or" if 1 <= int(yy) <= 12 else "write"
            raise ParamsError(f"key '{key}': {value!r} is not a financial year (YYYY/YY is read as one: {y}/{(int(y) + 1) % 100:02d} is April {y} to March {int(y) + 1}); {month} {y}/{(int(y) + 1) % 100:02d} for the financial year.")
        return
    parts = [int(p) for p in text.split("-")]
    if len(parts) >= 2 and not 1 <= parts[1] <= 12:
        raise ParamsError(f"key '{key}': {value!r} has month {parts[1]}; months run 01-12.")
    if len(parts) == 3:
        import datetime as _dt

        try:
            _dt.date(*parts)
        except ValueError:
            raise ParamsError(f"key '{key}': {value!r} is not a calendar date; check the day of the month.") from None


def _dt_month(month: int) -> str:
    return ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")[month - 1]


def _check_run_name(value: Any, key: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", str(value)):
        raise ParamsError(f"key '{key}': {value!r} is not a usable folder name; use letters, digits, '-', '_' or '.' (at most 64 characters).")


def _check_notebooks(value: Any, key: str) -> None:
    unknown = [v for v in value if v not in NOTEBOOK_ORDER]
    if unknown:
        raise ParamsError(f"key '{key}': unknown notebook {unknown[0]!r}; choose from {', '.join(NOTEBOOK_ORDER)}.")
    if len(set(value)) != len(value):
        raise ParamsError(f"key '{key}': a notebook is listed twice.")


def _check_event_window(value: Any, key: str) -> None:
    if len(value) != 2 or value[0] > -1 or value[1] < 0:
        raise ParamsError(f"key '{key}': give [first_lead, last_lag] with first_lead <= -2 and last_lag >= 0, for example [-12, 12].")
    if value[0] > -2:
        raise ParamsError(f"key '{key}': the first lead must be -2 or earlier (event time -1 is the reference period).")


PLAN_KEYS = {"outcome": str, "change": (int, float), "label": str, "population": (int, float), "mean_los": (int, float)}


def _check_plan(value: Any, key: str) -> None:
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ParamsError(f"key '{key}[{i}]' must be a mapping such as {{outcome: admissions, change: -0.10}}.")
        unknown = [k for k in item if k not in PLAN_KEYS]
        if unknown:
            raise ParamsError(f"key '{key}[{i}].{unknown[0]}' is unknown; use {', '.join(PLAN_KEYS)}.")
        for need in ("outcome", "change"):
            if need not in item:
                raise ParamsError(f"key '{key}[{i}]' needs '{need}' (for example outcome: admissions, change: -0.10).")
        for k, typ in PLAN_KEYS.items():
            if k in item and (not isinstance(item[k], typ) or isinstance(item[k], bool)):
                raise ParamsError(f"key '{key}[{i}].{k}' has {item[k]!r}; it must be {'text' if typ is str else 'a number'}.")
        if not -1 < float(item["change"]) < 10:
            raise ParamsError(f"key '{key}[{i}].change' is {item['change']}; give a proportional change such as -0.10 for a 10% reduction.")
        for k in ("population", "mean_los"):
            if k in item and float(item[k]) <= 0:
                raise ParamsError(f"key '{key}[{i}].{k}' must be positive.")


def _check_outcome_kinds(value: Any, key: str) -> None:
    for name, kind in value.items():
        if kind not in OUTCOME_KINDS:
            raise ParamsError(f"key '{key}.{name}': {kind!r} is not an outcome kind; choose from {', '.join(OUTCOME_KINDS)}.")


OUTCOME_KINDS: tuple[str, ...] = ("count", "continuous", "percent", "proportion")

SCHEMA: dict[str, Field] = {
    "run_name": Field("str", "default", "Name of the run; the report goes to reports/<run_name>/.", check=_check_run_name),
    "title": Field("str", "ICS evaluation", "Title printed at the top of every report."),
    "description": Field("str", "", "Free text describing the run (shown in the report header)."),
    "notebooks": Field("list[str]", list(NOTEBOOK_ORDER), "Notebooks to run, from: " + ", ".join(NOTEBOOK_ORDER) + ".", check=_check_notebooks),
    # --- data -------------------------------------------------------------------------------------------------
    "data.source": Field("str", "nhs_ae", "Built-in source: nhs_ae (NHS England A&E by provider and month, mapped to 2021 footprints), gp_payments (NHS payments to general practice by footprint and financial year), gp_payments_practice (the same by practice), gpps (GP Patient Survey by ICB x deprivation quintile and year); 'file' for a user's CSV/Parquet file given in data.path; or 'records' for record-level spells or A&E attendances given in data.records.path.", choices=("nhs_ae", "gp_payments", "gp_payments_practice", "gpps", "file", "records")),
    "data.path": Field("path", None, "A user's CSV or Parquet file (one row per unit and period); implies data.source: file.", nullable=True),
    "data.ae_types": Field("list[str]", ["1"], "A&E department types to include (nhs_ae only): '1' major emergency departments, '2' single-specialty, 'other' minor injury units / urgent treatment centres.", check=lambda v, k: _check_subset(v, k, ("1", "2", "other"))),
    "data.unit": Field("str", "stp21_code", "Column identifying the unit (area)."),
    "data.unit_name": Field("str", None, "Optional column with a readable unit name.", nullable=True),
    "data.time": Field("str", "period", "Column identifying the period: a date (first day of the period) or an integer such as a year."),
    "data.frequency": Field("str", None, "Period frequency: month, quarter, year, fy (April-March financial year) or integer; inferred from the time column when empty.", choices=("month", "quarter", "year", "fy", "integer"), nullable=True),
    "data.outcomes": Field("list[str]", ["emergency_admissions_per_100k", "attendances_per_100k", "emergency_admissions"], "Outcome columns to analyse. The built-in nhs_ae source offers counts (attendances, attendances_incl_booked, attendances_type2, breaches, attendances_4h_basis, admissions, emergency_admissions, emergency_admissions_via_ae, emergency_admissions_other, dta_over_4h, dta_over_12h), pct_within_4h, and rates <count>_per_100k (residents) and <count>_per_100k_registered (GP registered patients) for attendances, attendances_incl_booked, attendances_type2, admissions, the three emergency admission counts and dta_over_12h."),
    "data.outcome_kinds": Field("dict[str,str]", {}, "Kind of each outcome (count, continuous, percent, proportion); counts must be non-negative, percents 0-100, proportions 0-1. Outcomes not listed are counts for user files; built-in outcomes know their kind.", check=_check_outcome_kinds),
    "data.population": Field("str", None, "Optional population column (denominator for rates and offsets).", nullable=True),
    "data.cluster": Field("str", None, "Column defining clusters for inference; defaults to the unit.", nullable=True),
    "data.covariates": Field("list[str]", [], "Baseline (time-invariant) covariate columns (Callaway-Sant'Anna's propensity and outcome models, balance tables)."),
    "data.controls": Field("list[str]", [], "Time-varying control columns of a user's file, partialled out (as fixest does) in the 2x2 regression form, TWFE, the event study, Sun-Abraham, the imputation estimator's first stage and the Poisson models; Callaway-Sant'Anna uses baseline covariates only (data.covariates), as R did. A control constant within every unit is refused (the unit effects absorb it)."),
    "data.reference_rates": Field("path", None, "CSV of reference age-specific rates (columns outcome, band, rate per person per period) for indirect age standardisation of count outcomes (nhs_ae); adds <outcome>_sir columns. No national A&E rates by age ship with the project.", nullable=True),
    "data.incomplete": Field("str", "flag", "Providers missing from a month they normally report, or reporting part of it (nhs_ae; docs in evidence.data.completeness): 'flag' lists them in 00_data with their share of the footprint and analyses the counts as published; 'impute' analyses <outcome>_imputed columns in which those provider months are imputed from the provider's own seasonal pattern (the published counts stay in their own columns); 'drop_cells' sets the footprint-months those provider months touch to missing and analyses the unbalanced panel (as data.missing: allow).", choices=("flag", "impute", "drop_cells")),
    "data.local_months": Field("path", "data/local/nhs_monthly", "Folder of months added with `evidence add-month FILE` (nhs_ae); read after the shipped files, a local month replacing the shipped month of the same period. A missing folder means no local months."),
    "data.missing": Field("str", "error", "Units with missing outcome values or missing periods: 'error' stops and says where; 'drop_units' drops those units and reports how many cells were missing and which units were dropped; 'allow' keeps the unbalanced panel: 2x2, TWFE, event study, Sun-Abraham, imputation, Poisson and Callaway-Sant'Anna (R did's allow_unbalanced_panel) use the available cells, methods that need a balanced panel (synthetic control, SDID, ITS, Bacon, power, placebo and randomization inference) drop incomplete units and say how many.", choices=("error", "drop_units", "allow")),
    "data.balance": Field("str", "error", "Deprecated alias of data.missing ('drop' = drop_units); kept so older parameter files still run.", choices=("error", "drop")),
    "data.records.path": Field("str", None, "Record-level Parquet data (docs/records.md): a file, a folder, a glob such as data/synthetic/spells/*.parquet, or a cluster URL (s3://, hdfs://, abfss://) for engine spark; implies data.source: records. Spells or A&E attendances are told apart by their id column.", nullable=True),
    "data.records.engine": Field("str", "duckdb", "Engine that checks and aggregates the records: duckdb (embedded, works out of core) or spark (local mode or a cluster, data.records.spark_master). Both run the same SQL (sql/).", choices=("duckdb", "spark")),
    "data.records.geography": Field("str", "residence", "Area of a record: residence (patient's LSOA 2011 -> 2021 footprint) or provider (trust -> 2021 footprint, successor chains followed).", choices=("residence", "provider")),
    "data.records.spark_master": Field("str", None, "Spark master URL for engine spark: local[2], spark://host:7077, k8s://https://host:6443, yarn or sc://host:15002; empty = local[*]. Network masters are checked before Spark starts.", nullable=True),
    "data.records.memory_limit": Field("str", None, "Memory for the engine: DuckDB memory_limit, or Spark driver (local) / executor (cluster) memory, e.g. 4GB; empty = the engine's default.", nullable=True),
    "data.records.temp_dir": Field("path", None, "Folder the engine spills to when data exceed memory; empty = a private folder under the system temp directory.", nullable=True),
    "data.records.unknown_codes": Field("str", "error", "Records whose LSOA or provider code the lookup does not know: error stops and lists the codes with their shares; drop leaves them out and lists them in the notes.", choices=("error", "drop")),
    "data.records.outside_window": Field("str", "error", "Records dated outside design.start..design.end: error stops; drop leaves them out and counts them in the notes.", choices=("error", "drop")),
    # --- treatment ----------------------------------------------------------------------------------------------
    "treatment.designations": Field("path", "data/reference/ics_designations.csv", "Designation table (one row per designation event) used when no treatment column is given."),
    "treatment.cohort": Field("str", None, "Column holding each unit's first treated period (0 or blank = never treated).", nullable=True),
    "treatment.indicator": Field("str", None, "Column holding an absorbing 0/1 treatment indicator from which cohorts are derived.", nullable=True),
    "treatment.date_basis": Field("str", "announced", "Which designation date starts treatment: announced or effective.", choices=("announced", "effective")),
    "treatment.disputed_dates": Field("str", "primary", "Where sources give two effective dates (wave 5), use the primary (December 2020) or the alternative (1 April 2021).", choices=("primary", "alternative")),
    "treatment.partial": Field("str", "treat", "Designations covering part of a footprint: 'treat' (the footprint is treated from the partial designation), 'whole_only' (treated from its first whole-footprint designation), or 'exclude' (drop such footprints).", choices=("treat", "whole_only", "exclude")),
    "treatment.waves": Field("list[int]", [1, 2, 3], "Designation waves counted as treated."),
    "treatment.other_waves": Field("str", "exclude", "Units of waves not counted as treated but designated inside the window: 'exclude' them or use them as 'comparison' units.", choices=("exclude", "comparison")),
    "treatment.first_period": Field("str", None, "Which period a designation first counts in: 'first_full' (the first whole period after the designation date) or 'containing' (the period containing the date). Empty = first_full for the designation table; a treatment.cohort column with dates inside longer periods (e.g. 2017-06-15 in annual data) needs it stated.", choices=("first_full", "containing"), nullable=True),
    # --- design --------------------------------------------------------------------------------------------------
    "design.start": Field("period", None, "First period of the analysis window: a date (2016-04), a year (2017), a financial year (2017/18) or an integer period. Empty = the first period of the data for a user's file or records, April 2016 for the built-in nhs_ae source.", nullable=True, check=_check_period),
    "design.end": Field("period", None, "Last period of the analysis window. Empty = the last period of the data for a user's file or records, February 2020 (before COVID) for the built-in nhs_ae source.", nullable=True, check=_check_period),
    "design.comparison": Field("str", "not_yet_treated", "Comparison group: not_yet_treated (units treated later, before their treatment, and never-treated units) or never_treated (only units untreated throughout the window).", choices=("not_yet_treated", "never_treated")),
    # --- methods -------------------------------------------------------------------------------------------------
    "methods.did.log_outcomes": Field("bool", True, "Also estimate on log outcomes (count outcomes only; effects read as approximate proportional changes)."),
    "methods.did.count_model": Field("str", "auto", "Poisson fixed-effects models (TWFE and event study, as fixest's fepois) for count outcomes in 01_did: auto (for count outcomes with zeros, where logs are not applicable), always (every count outcome, beside the log models), or none.", choices=("auto", "always", "none")),
    "methods.did.event_window": Field("list[int]", [-12, 12], "Event-study leads and lags [first_lead, last_lag]; effects beyond are binned into the end points.", check=_check_event_window),
    "methods.staggered.control_group": Field("str", None, "Callaway-Sant'Anna comparison group; empty = the same as design.comparison.", choices=("never_treated", "not_yet_treated"), nullable=True),
    "methods.staggered.est_method": Field("str", "dr", "Callaway-Sant'Anna estimation method: dr, ipw or reg.", choices=("dr", "ipw", "reg")),
    "methods.staggered.base_period": Field("str", "varying", "Base period for pre-treatment ATT(g,t): varying or universal.", choices=("varying", "universal")),
    "methods.staggered.anticipation": Field("int", 0, "Periods of anticipation before treatment.", minimum=0),
    "methods.synth.estimators": Field("list[str]", ["sdid", "sc", "did"], "Synthetic-control family estimators to report: sdid (synthetic difference-in-differences), sc (synthetic control), did (plain DiD), all from one weighted two-way code path.", check=lambda v, k: _check_subset(v, k, ("sdid", "sc", "did"))),
    "methods.synth.inference": Field("str", "placebo", "Inference for SDID/SC/DiD: placebo (AAHIW Algorithm 4), jackknife (needs two or more treated units), bootstrap, or none.", choices=("placebo", "jackknife", "bootstrap", "none")),
    "methods.synth.draws": Field("int", 200, "Placebo or bootstrap draws for the synthetic-control methods.", minimum=0),
    "methods.synth.cohort": Field("str", None, "Cohort (first treated period label) analysed by 03_synthetic_control; empty = the earliest cohort.", nullable=True),
    "methods.synth.per_unit": Field("bool", True, "Also estimate each treated unit of the cohort separately against the donor pool."),
    "methods.synth.max_units": Field("int", 1000, "Most treated units of the cohort for which 03_synthetic_control fits a classic synthetic control each (methods.synth.per_unit); with more, the notebook is not applicable and says so (set methods.synth.per_unit: false to run SDID and the pooled estimators alone, or raise this).", minimum=1),
    "methods.its.intervention": Field("period", None, "Intervention period for 04_its (first post-intervention period, e.g. 2017-07); empty = the cohort's first treated period.", nullable=True, check=_check_period),
    "methods.its.cohort": Field("str", None, "Cohort whose units form the treated series in 04_its; empty = the earliest cohort.", nullable=True),
    "methods.its.family": Field("str", None, "ITS model family: gaussian (OLS, Newey-West), poisson, quasipoisson or negbin (log link, population offset); empty = quasipoisson for counts, gaussian otherwise.", choices=("gaussian", "poisson", "quasipoisson", "negbin"), nullable=True),
    "methods.its.seasonality": Field("str", "fourier", "ITS seasonality: fourier terms, period-of-year dummies, or none.", choices=("fourier", "dummies", "none")),
    "methods.its.harmonics": Field("int", 2, "Fourier harmonics for ITS seasonality.", minimum=1, maximum=6),
    "methods.its.hac_lags": Field("int", None, "Newey-West lags for ITS; empty = the rule floor(4 (T/100)^(2/9)).", minimum=0, nullable=True),
    "methods.its.min_pre": Field("int", 12, "Fewest pre-intervention periods an ITS needs (fewer: the ITS is not applicable, said so); below 24 the report warns that trend and seasonality rest on little more than a year.", minimum=3),
    "methods.its.days_in_month": Field("bool", True, "Adjust monthly ITS for month length (an offset of log days for count models; per average-length month for Gaussian models); false fits the unadjusted model."),
    "methods.its.per_unit": Field("bool", True, "Also fit an ITS for each treated unit of the cohort."),
    "methods.its.robust": Field("bool", True, "Autocorrelation-robust (Newey-West / Driscoll-Kraay) standard errors for the count families too (Gaussian models always use them)."),
    # --- costs and satisfaction (08_costs_satisfaction) ----------------------------------------------------------
    "costs.enabled": Field("bool", True, "Run the cost analyses (NHS payments to general practice; service-use effects in pounds) in 08_costs_satisfaction."),
    "costs.outcomes": Field("list[str]", ["payments_per_registered_patient_real", "payments_per_weighted_patient_real"], "GP payment outcomes (built-in source gp_payments): payments_per_registered_patient / payments_per_weighted_patient in cash terms, or their _real versions (2023/24 prices with the shipped NHS Cost Inflation Index, or costs.price_year prices with costs.deflator)."),
    "costs.start": Field("period", "2014/15", "First financial year of the GP payments window.", check=_check_period),
    "costs.end": Field("period", "2019/20", "Last financial year of the GP payments window (2019/20 ends before COVID spending).", check=_check_period),
    "costs.deflator": Field("path", None, "CSV with columns fin_year, index (any base) replacing the shipped NHS Cost Inflation Index: restates unit costs (2023/24) and GP payments (_real outcomes) into costs.price_year prices; empty = 2023/24 prices with the shipped index (UCHSC 2024 pay and prices).", nullable=True),
    "costs.price_year": Field("str", None, "Financial year whose prices pounds are stated in when costs.deflator is given (for example 2017/18).", nullable=True),
    "costs.unit_costs": Field("path", None, "CSV with columns activity, unit_cost (and price_year) replacing the National Cost Collection 2023/24 unit costs used to value A&E attendances and emergency admissions.", nullable=True),
    "costs.path": Field("path", None, "A user's own cost file (CSV or Parquet, one row per unit and period, the unit column named as data.unit and the period column as data.time, or costs.time) whose costs.outcomes columns 08_costs_satisfaction analyses under the run's treatment; empty = the built-in NHS GP payments, which only a run on the built-in NHS data uses.", nullable=True),
    "costs.time": Field("str", None, "Period column of costs.path or satisfaction.path when it differs from data.time (for example an annual fin_year column beside monthly service use).", nullable=True),
    "satisfaction.path": Field("path", None, "A user's own survey file (as costs.path) whose satisfaction.outcomes columns (percent, 0-100) 08_costs_satisfaction analyses under the run's treatment; empty = the built-in GP Patient Survey, which only a run on the built-in NHS data uses.", nullable=True),
    "satisfaction.enabled": Field("bool", True, "Run the GP Patient Survey analyses in 08_costs_satisfaction."),
    "satisfaction.outcomes": Field("list[str]", ["overall_pct", "access_pct", "continuity_pct", "trust_pct"], "GP Patient Survey indicators (built-in source gpps)."),
    "satisfaction.start": Field("period", 2017, "First survey year of the satisfaction window.", check=_check_period),
    "satisfaction.end": Field("period", 2020, "Last survey year of the main satisfaction window (2020 fieldwork ended in March 2020, before the pandemic).", check=_check_period),
    "satisfaction.sensitivity_end": Field("period", 2024, "Last survey year of the sensitivity analysis that includes the COVID and later surveys.", check=_check_period),
    # --- power and method validation (06_power) -------------------------------------------------------------------
    "power.reps": Field("int", 200, "Simulated panels per effect size in the power curves (06_power).", minimum=1),
    "power.validation_reps": Field("int", 200, "Simulated panels for the bias and coverage of each method (06_power).", minimum=1),
    "power.sdid_reps": Field("int", 25, "Simulated panels on which SDID is validated (weights re-fitted on each, about 0.3 s per panel; jackknife standard errors); 0 leaves SDID out.", minimum=0),
    # --- plan assumptions (07_evidence) ---------------------------------------------------------------------------
    "plan.assumptions": Field("list[dict]", [], "A plan's assumed effects to check against the evidence: a list of {outcome, change (proportional, e.g. -0.10), label, population (of a footprint, to translate into activity and pounds), mean_los (days per admission, for bed days)}.", check=_check_plan),
    # --- inference -----------------------------------------------------------------------------------------------
    "inference.alpha": Field("float", 0.05, "Significance level; intervals are (1 - alpha).", minimum=0.001, maximum=0.5),
    "inference.seed": Field("int", 20170615, "Seed for every random draw in the run.", minimum=0),
    "inference.bootstrap_draws": Field("int", 999, "Bootstrap draws where a method uses the bootstrap.", minimum=0),
    "inference.wild_draws": Field("int", 9999, "Wild cluster bootstrap draws (05_robustness; all 2^G sign vectors are enumerated when G is small).", minimum=99),
    "inference.wild_weights": Field("str", "rademacher", "Wild cluster bootstrap weights.", choices=("rademacher", "webb")),
    "inference.wild_restricted": Field("bool", True, "Impose the null in the wild cluster bootstrap (WCR; recommended with few treated clusters) rather than WCU."),
    "inference.permutation_level": Field("str", "auto", "What randomisation inference re-assigns: auto (whole clusters when treatment timing is constant within them, else units), unit or cluster.", choices=("auto", "unit", "cluster")),
    "inference.permutations": Field("int", 999, "Randomisation-inference re-assignments of treatment timing (exact enumeration when there are fewer).", minimum=99),
    # --- robustness (05_robustness) ---------------------------------------------------------------------------------
    "robustness.placebo_shifts": Field("list[int]", [3, 6, 12], "Fake treatment dates this many periods before each cohort's real one (placebo in time; pre-period data only).", check=lambda v, k: _check_positive_list(v, k)),
    "robustness.placebo_outcomes": Field("list[str]", [], "Outcomes integration should not move (placebo outcomes), from the data's columns; empty = none."),
    "robustness.leave_one_out": Field("list[str]", ["wave", "unit"], "Leave-one-out analyses: drop each wave (cohort) and/or each treated unit in turn.", check=lambda v, k: _check_subset(v, k, ("wave", "unit")) if v else None),
    "robustness.honest_grid_rm": Field("list[float]", [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0], "HonestDiD relative-magnitude bounds M-bar to report (non-negative)."),
    "robustness.honest_grid_sm": Field("list[float]", [], "HonestDiD smoothness bounds M (non-negative, outcome units per period squared); empty = a grid scaled to the estimates' standard error."),
    "robustness.honest_target": Field("str", "average", "HonestDiD target of the primary analysis (00_primary): average (the mean event-time effect over the balanced window 0..E, E the last event time every cohort reaches), first (event time 0) or an event time such as 6.", check=lambda v, k: _check_honest_target(v, k)),
    "robustness.honest_window": Field("list[int]", [-12, 12], "Event times used for HonestDiD [first_lead, last_lag] (monthly data: a year either side).", check=_check_event_window),
    # --- protocol (00_primary) ------------------------------------------------------------------------------------
    "protocol.primary.outcome": Field("str", None, "The pre-specified primary outcome (a column of data.outcomes); empty = derived: emergency_admissions_per_100k for the built-in nhs_ae source, the first of data.outcomes otherwise.", nullable=True),
    "protocol.primary.estimator": Field("str", "cs", "Primary estimator: cs (Callaway-Sant'Anna overall ATT, the simple aggregation of post-treatment ATT(g,t)).", choices=("cs",)),
    "protocol.primary.control_group": Field("str", None, "Comparison group of the primary analysis; empty = design.comparison.", choices=("not_yet_treated", "never_treated"), nullable=True),
    "protocol.primary.base_period": Field("str", "universal", "Base period of the primary analysis: universal (every ATT(g,t) against the period before treatment) or varying.", choices=("universal", "varying")),
    "protocol.primary.covariates": Field("list[str]", [], "Baseline covariates of the primary analysis (at most two; empty = unconditional, the default: with few treated areas propensity models separate)."),
    "protocol.primary.anticipation": Field("int", 0, "Periods of anticipation in the primary analysis.", minimum=0),
    "protocol.primary.inference": Field("list[str]", ["analytic", "randomization"], "Pre-specified inference for the primary estimate: analytic (cluster-robust influence-function standard errors) and/or randomization (re-assigning designation timing, keeping cohort sizes).", check=lambda v, k: _check_subset(v, k, ("analytic", "randomization"))),
    "protocol.primary.permutations": Field("int", 999, "Randomisation-inference re-assignments for the primary estimate (all of them when fewer exist).", minimum=99),
    "protocol.window": Field("list[str]", [], "The pre-specified analysis window [start, end]; a run whose design.start/design.end differ records a deviation. Empty = design.start/design.end."),
    "protocol.waves": Field("list[int]", [], "The pre-specified treated waves (designation table); a run with other treatment.waves records a deviation. Empty = treatment.waves."),
    "protocol.secondary.outcomes": Field("list[str]", [], "Secondary outcomes (columns of the data), analysed with the primary design and options; empty = none, or for the built-in nhs_ae source the protocol's defaults."),
    "protocol.secondary.multiplicity": Field("str", "holm", "Multiplicity adjustment over the secondary family: holm or none.", choices=("holm", "none")),
    "protocol.negative_controls": Field("list[str]", [], "Negative-control outcomes integration should not move (columns of the data), analysed like the secondary outcomes and reported as such."),
    "protocol.sensitivity": Field("list[str]", [], "The pre-specified sensitivity set (evidence.sensitivity), from: covariates, anticipation_3, anticipation_6, effective_dates, partial_excluded, gm_excluded, vanguard_excluded, field_test_excluded, programmes_as_covariates, registered_denominator, leave_one_wave_out, imputation, region_period, pre_trends, unit_seasonality, balancing_weights. Each re-runs the primary analysis with one change; one that cannot apply to the design is reported as not applicable. Empty = all of them for a derived or default protocol, none for a written one.", check=lambda v, k: _check_subset(v, k, ("covariates", "anticipation_3", "anticipation_6", "effective_dates", "partial_excluded", "gm_excluded", "vanguard_excluded", "field_test_excluded", "programmes_as_covariates", "registered_denominator", "leave_one_wave_out", "imputation", "region_period", "pre_trends", "unit_seasonality", "balancing_weights")) if v else None),
    "protocol.fixed_on": Field("str", None, "Date the protocol was fixed (YYYY-MM-DD); empty = not fixed (the run says so).", nullable=True),
    "protocol.fixed_commit": Field("str", None, "Git commit that fixed the protocol; the run checks the protocol is unchanged since (a test too).", nullable=True),
    "protocol.seen_before": Field("str", None, "Plain statement of which results had been seen when the protocol was fixed.", nullable=True),
    "protocol.deviations": Field("list[dict]", [], "Deviations from the fixed protocol: a list of {date, change, reason, hash} (hash: the first 12 characters of the protocol's hash after the change, as 00_primary prints it; a test checks the last one is current).", check=lambda v, k: _check_deviations(v, k)),
    # --- report --------------------------------------------------------------------------------------------------
    "report.hide_code": Field("bool", True, "Hide code cells in the HTML reports."),
    "report.synthetic": Field("bool", False, "Mark every output of this run as made from synthetic data."),
}


def _check_honest_target(value: Any, key: str) -> None:
    if str(value) not in ("average", "first") and not re.fullmatch(r"\d+", str(value)):
        raise ParamsError(f"key '{key}': {value!r} is not a target; use average, first or an event time such as 6.")


def _check_deviations(value: Any, key: str) -> None:
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) - {"date", "change", "reason", "hash"} or not {"change", "reason"} <= set(item):
            raise ParamsError(f"key '{key}[{i}]' must be a mapping with change and reason (and date, and hash: the protocol's hash after the change), for example {{date: 2027-01-10, change: ..., reason: ..., hash: 1a2b3c4d5e6f}}.")


def _check_subset(value: Iterable[Any], key: str, allowed: tuple[str, ...]) -> None:
    bad = [v for v in value if v not in allowed]
    if bad:
        raise ParamsError(f"key '{key}': {bad[0]!r} is not allowed; choose from {', '.join(allowed)}.")
    if not list(value):
        raise ParamsError(f"key '{key}': the list is empty; give at least one of {', '.join(allowed)}.")


def _check_positive_list(value: Any, key: str) -> None:
    if any(v < 1 for v in value):
        raise ParamsError(f"key '{key}': shifts must be whole numbers of periods of at least 1.")


def defaults() -> dict[str, Any]:
    """The default parameters as a nested dictionary."""
    out: dict[str, Any] = {}
    for key, spec in SCHEMA.items():
        _set_nested(out, key, copy.deepcopy(spec.default))
    return out


def _set_nested(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def _flatten(d: Mapping[str, Any], prefix: str, source: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        if not isinstance(k, str):
            raise ParamsError(f"{source}: key {k!r} under '{prefix or 'top level'}' is not text; keys are words like run_name or data.outcomes.")
        key = f"{prefix}.{k}" if prefix else k
        is_section = any(s.startswith(key + ".") for s in SCHEMA)
        if is_section:
            if v is None:
                continue
            if not isinstance(v, Mapping):
                raise ParamsError(f"{source}: '{key}' is a section; give it keys such as {', '.join(sorted({s[len(key) + 1:].split('.')[0] for s in SCHEMA if s.startswith(key + '.')})[:4])}.")
            flat.update(_flatten(v, key, source))
        else:
            flat[key] = v
    return flat


def _suggest(key: str) -> str:
    """The hint after an unknown key: the nearest name at each level of the key, so a misspelt section suggests the
    section (``desing`` -> ``design``) and a misspelt key inside a section the nearest key of that section.

    Context: matching the whole dotted key against every key suggested ``design.end`` for the section ``desing``.
    Decision: correct the key level by level (each part against the names that exist under the parts before it); when
    a part has no near name, a key of the same name in another section (``seed`` -> ``inference.seed``), then the
    nearest whole key, then the keys of the section the key is in. Consequences: the hint names something that exists
    where the user wrote it.
    """
    parts = key.split(".")

    def names_under(prefix: str) -> list[str]:
        n = len(prefix) + 1 if prefix else 0
        return sorted({k[n:].split(".")[0] for k in SCHEMA if not prefix or k.startswith(prefix + ".")})

    path: list[str] = []
    for part in parts:
        names = names_under(".".join(path))
        close = [part] if part in names else difflib.get_close_matches(part, names, n=1, cutoff=0.6)
        if not close:
            break
        path.append(close[0])
    else:
        found = ".".join(path)
        if found in SCHEMA:
            return f"; did you mean '{found}'?"
        if found != key:  # a section: desing -> design
            return f"; did you mean the section '{found}'?"
    same_leaf = [k for k in SCHEMA if k.split(".")[-1] == parts[-1]]
    if same_leaf:
        return f"; did you mean '{same_leaf[0]}'?"
    close = difflib.get_close_matches(key, list(SCHEMA), n=1, cutoff=0.75)
    if close:
        return f"; did you mean '{close[0]}'?"
    parent = ".".join(parts[:-1])
    if parent and any(k.startswith(parent + ".") for k in SCHEMA):
        return f"; the section '{parent}' has {', '.join(names_under(parent))}."
    return "; see the parameter list in README.md."


TEXT_OR_INTEGER: frozenset[str] = frozenset({"robustness.honest_target"})
"""Text keys that also take a whole number (read as its text)."""


def _coerce(key: str, value: Any, spec: Field, source: str) -> Any:
    where = f"{source}: key '{key}'"
    if value is None:
        if spec.nullable:
            return None
        raise ParamsError(f"{where} is empty; {spec.help}")
    kind = spec.kind
    if kind in ("str", "period"):
        if kind == "period":
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                value = value if isinstance(value, int) else str(value)
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            else:
                raise ParamsError(f"{where}: {value!r} is not a period; write a date like 2016-04 or an integer period.")
        elif isinstance(value, int) and not isinstance(value, bool) and key in TEXT_OR_INTEGER:
            value = str(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and key in ("data.unit", "data.time"):
            raise ParamsError(f"{where} must name a column, not the number {value!r}.")
        elif not isinstance(value, str):
            raise ParamsError(f"{where} must be text, got {type(value).__name__} {value!r}.")
    elif kind == "path":
        if not isinstance(value, str):
            raise ParamsError(f"{where} must be a file path, got {type(value).__name__} {value!r}.")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where} must be a whole number, got {value!r}.")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where} must be a number, got {value!r}.")
        value = float(value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ParamsError(f"{where} must be true or false, got {value!r}.")
    elif kind.startswith("list["):
        inner = kind[5:-1]
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise ParamsError(f"{where} must be a list such as [a, b], got {value!r}.")
        for item in value:
            if inner == "int" and (isinstance(item, bool) or not isinstance(item, int)):
                raise ParamsError(f"{where}: list item {item!r} must be a whole number.")
            if inner == "float" and (isinstance(item, bool) or not isinstance(item, (int, float))):
                raise ParamsError(f"{where}: list item {item!r} must be a number.")
            if inner == "float" and item < 0:
                raise ParamsError(f"{where}: list item {item!r} is negative; bounds must be zero or more.")
            if inner == "str" and not isinstance(item, (str, int)) or isinstance(item, bool):
                raise ParamsError(f"{where}: list item {item!r} must be text.")
        if inner == "str":
            value = [str(v) for v in value]
        if inner == "float":
            value = [float(v) for v in value]
    elif kind == "list[dict]":
        if not isinstance(value, list):
            raise ParamsError(f"{where} must be a list of mappings, got {value!r}.")
    elif kind == "dict[str,str]":
        if not isinstance(value, Mapping):
            raise ParamsError(f"{where} must be a mapping such as {{column: kind}}, got {value!r}.")
        value = {str(k): str(v) for k, v in value.items()}
    if spec.choices is not None and value not in spec.choices:
        raise ParamsError(f"{where}: {value!r} is not allowed; choose from {', '.join(map(str, spec.choices))}.")
    if spec.minimum is not None and value < spec.minimum:
        raise ParamsError(f"{where}: {value!r} is below the minimum {spec.minimum:g}.")
    if spec.maximum is not None and value > spec.maximum:
        raise ParamsError(f"{where}: {value!r} is above the maximum {spec.maximum:g}.")
    if spec.check is not None:
        try:
            spec.check(value, key)
        except ParamsError as exc:
            raise ParamsError(f"{source}: {exc}") from None
    return value


@dataclass
class Params:
    """Validated parameters: nested values plus where they came from."""

    values: dict[str, Any]
    source: str = "<defaults>"
    overrides: list[str] = field(default_factory=list)

    def get(self, key: str) -> Any:
        """Value of a dotted key, for example ``params.get("data.outcomes")``."""
        d: Any = self.values
        for part in key.split("."):
            d = d[part]
        return d

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def flat(self) -> dict[str, Any]:
        """Dotted key -> value for every parameter."""
        return {k: self.get(k) for k in SCHEMA}

    def to_yaml(self) -> str:
        """The full, resolved parameters as YAML (what a run actually used)."""
        return yaml.safe_dump(self.values, sort_keys=False, allow_unicode=True)

    @property
    def run_name(self) -> str:
        return str(self.values["run_name"])


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``key=value`` override; the value is read as a YAML scalar or list."""
    if "=" not in text:
        raise ParamsError(f"--set {text!r}: write overrides as key=value, for example --set inference.seed=7.")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ParamsError(f"--set {text!r}: the key is missing; write key=value, for example --set inference.seed=7.")
    try:
        value = _safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ParamsError(f"--set {key}: the value {raw!r} is not valid YAML; quote text or write lists as [a, b].") from None
    return key, value


def load_params(path: str | Path | None = None, overrides: Iterable[str] = (), data: Mapping[str, Any] | None = None, given: Mapping[str, Any] | None = None, given_label: str = "notebook parameter") -> Params:
    """Read, merge and validate a parameters file.

    Parameters
    ----------
    path
        YAML file; ``None`` uses the defaults only (or ``data``). A relative path is read from the working folder,
        then from the project root (:func:`evidence.paths.locate`).
    overrides
        ``key=value`` strings applied after the file (as from ``evidence run --set``).
    data
        Parameters as a mapping instead of a file (tests, notebooks given a whole file by papermill ``-f``).
    given
        Dotted key -> value changes applied after ``overrides`` (a notebook's ``-p design.end 2018-12``); text given
        for a list or mapping key is read as YAML (``-p design.waves "[1, 2]"``).
    given_label
        How errors name the origin of ``given`` values.

    Returns
    -------
    Params
        Validated parameters with every key present.
    """
    source = "<defaults>"
    raw: Any = {}
    base: Path | None = None
    if path is not None:
        p, tried = locate(path)
        source = display(p)
        if not p.is_file():
            raise ParamsError(f"params file {tried_text(tried)} does not exist; give the path to a YAML file such as params/default.yaml (a relative path is read from the working folder, then from the project root).")
        base = p.parent
        try:
            raw = _safe_load(p.read_text(encoding="utf-8"))
        except ParamsError as exc:
            raise ParamsError(f"params file {source}: {exc}") from None
        except yaml.constructor.ConstructorError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ParamsError(f"params file {source} uses a YAML tag such as !!python/...{where}; tags are not allowed (nothing was run) — write plain values.") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ParamsError(f"params file {source} is not valid YAML{where}; check indentation and quoting.") from None
        except UnicodeDecodeError:
            raise ParamsError(f"params file {source} is not UTF-8 text; save it as a plain-text YAML file.") from None
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ParamsError(f"params file {source} must be a mapping of keys to values (key: value), not a {type(raw).__name__}.")
    elif data is not None:
        raw = data
        source = "<params>"
    file_label = f"params file {source}" if path is not None else source
    flat = _flatten(raw, "", file_label)
    origin = {k: file_label for k in flat}
    override_list = list(overrides)
    for text in override_list:
        key, value = parse_override(text)
        if key not in SCHEMA:
            raise ParamsError(f"--set {key}: unknown key{_suggest(key)}")
        flat[key] = value
        origin[key] = "--set"
    for key, value in (given or {}).items():
        if key not in SCHEMA:
            raise ParamsError(f"{given_label} {key}: unknown key{_suggest(key)}")
        kind = SCHEMA[key].kind
        if isinstance(value, str) and (kind.startswith("list") or kind.startswith("dict")) and value.strip()[:1] in "[{":
            try:
                value = _safe_load(value)
            except yaml.YAMLError:
                raise ParamsError(f"{given_label} {key}: the value {value!r} is not a valid list; write it as [a, b].") from None
        flat[key] = value
        origin[key] = given_label
    for key in flat:
        if key not in SCHEMA:
            raise ParamsError(f"{file_label}: unknown key '{key}'{_suggest(key)}")
    values = defaults()
    for key, value in flat.items():
        _set_nested(values, key, _coerce(key, value, SCHEMA[key], origin[key]))
    tried = _anchor_paths(values, origin, base, file_label)
    _cross_checks(values, source, tried)
    return Params(values=values, source=source, overrides=override_list + [f"{k}={v!r}" for k, v in (given or {}).items()])


def _anchor_paths(values: dict[str, Any], origin: dict[str, str], base: Path | None, file_label: str) -> dict[str, list[Path]]:
    """Make relative paths absolute where they were given (see :mod:`evidence.paths`).

    Context: a user's parameters file and data often live together outside the repository.
    Decision: a relative path from the parameters file is looked for beside the file, one from ``--set``, a notebook
    parameter or a mapping in the working folder; when it is not there the project root is the fallback (the
    shipped examples). A path found at the root keeps its relative text; one found elsewhere becomes absolute.
    Consequences: resolved copies of the parameters (a run's ``params.yaml``) point at the same files from any
    folder; the paths tried are kept for not-found messages.
    """
    tried: dict[str, list[Path]] = {}
    for key, spec in SCHEMA.items():
        if spec.kind != "path" or key not in origin:
            continue
        parts = key.split(".")
        holder = values
        for part in parts[:-1]:
            holder = holder[part]
        text = holder[parts[-1]]
        if not isinstance(text, str) or "://" in text or text.startswith("dbfs:/") or Path(text).expanduser().is_absolute():
            continue
        found, cands = locate(text, base if origin[key] == file_label and base is not None else None)
        tried[key] = cands
        if len(cands) > 1 and found == cands[0] and exists(found):  # beside the file / in the working folder
            holder[parts[-1]] = str(found)
    return tried


def _cross_checks(values: dict[str, Any], source: str, tried: Mapping[str, list[Path]] | None = None) -> None:
    where = f"params file {source}" if not source.startswith("<") else source
    tried = tried or {}

    def looked(key: str, text: str) -> str:
        return tried_text(tried.get(key) or candidates(text, ROOT))
    data = values["data"]
    if data["path"] is not None:
        data["source"] = "file"
        p = resolve(data["path"])
        if not p.is_file():
            raise ParamsError(f"{where}: key 'data.path' names {data['path']}, which does not exist: looked for {looked('data.path', data['path'])}; check the path (a relative path is read from the parameters file's folder, then from the project root).")
        if p.suffix.lower() not in (".csv", ".parquet", ".pq", ".gz"):
            raise ParamsError(f"{where}: key 'data.path' names {data['path']}; give a .csv, .csv.gz or .parquet file.")
    elif data["source"] == "file":
        raise ParamsError(f"{where}: key 'data.source' is 'file' but 'data.path' is empty; give the path to your CSV or Parquet file.")
    rec = data["records"]
    if rec["path"] is not None:
        if data["path"] is not None:
            raise ParamsError(f"{where}: give either 'data.path' (an area x period file) or 'data.records.path' (record-level data), not both.")
        data["source"] = "records"
        text = rec["path"]
        remote = "://" in text or text.startswith("dbfs:/")
        if remote and rec["engine"] != "spark":
            raise ParamsError(f"{where}: key 'data.records.path' is a URL ({text}); read it with data.records.engine: spark, or copy the files to a local folder for duckdb.")
        if not remote and not any(ch in text for ch in "*?[") and not resolve(text).exists():
            hint = f"; for the synthetic example make them first: evidence generate-records {text} --n-records 2000000" if "synthetic" in text else ""
            raise ParamsError(f"{where}: key 'data.records.path' names {text}, which does not exist: looked for {looked('data.records.path', text)}; give a Parquet file, a folder or a glob (a relative path is read from the parameters file's folder, then from the project root){hint}.")
    elif data["source"] == "records":
        raise ParamsError(f"{where}: key 'data.source' is 'records' but 'data.records.path' is empty; give the Parquet file, folder or glob of your records.")
    if rec["spark_master"] is not None and rec["engine"] != "spark":
        raise ParamsError(f"{where}: key 'data.records.spark_master' is set but data.records.engine is {rec['engine']}; set data.records.engine: spark or remove the master.")
    if not data["outcomes"]:
        raise ParamsError(f"{where}: key 'data.outcomes' is empty; name at least one outcome column.")
    if len(set(data["outcomes"])) != len(data["outcomes"]):
        raise ParamsError(f"{where}: key 'data.outcomes' lists an outcome twice.")
    treat = values["treatment"]
    if treat["cohort"] is not None and treat["indicator"] is not None:
        raise ParamsError(f"{where}: give either 'treatment.cohort' or 'treatment.indicator', not both.")
    if treat["cohort"] is None and treat["indicator"] is None:
        p = resolve(treat["designations"])
        if not p.is_file():
            raise ParamsError(f"{where}: key 'treatment.designations' names {treat['designations']}, which does not exist (looked for {looked('treatment.designations', treat['designations'])}); restore data/reference/ics_designations.csv or give treatment.cohort / treatment.indicator.")
        if not treat["waves"]:
            raise ParamsError(f"{where}: key 'treatment.waves' is empty; list the designation waves counted as treated, for example [1, 2].")
        bad = [w for w in treat["waves"] if not 1 <= w <= 6]
        if bad:
            raise ParamsError(f"{where}: key 'treatment.waves' has wave {bad[0]}; ICS designation waves run 1-6.")
    start, end = values["design"]["start"], values["design"]["end"]
    if start is None or end is None:
        return
    if type(start) is not type(end):
        raise ParamsError(f"{where}: keys 'design.start' ({start!r}) and 'design.end' ({end!r}) must both be dates or both integers.")
    if _period_key(start) > _period_key(end):
        raise ParamsError(f"{where}: key 'design.start' ({start}) is after 'design.end' ({end}); swap them.")


def _period_key(value: Any) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,)
    text = str(value)
    if "/" in text:  # financial year 2017/18 starts in April 2017
        return (int(text.split("/")[0]), 4)
    return tuple(int(p) for p in text.split("-"))


def markdown_table() -> str:
    """The parameter reference as a Markdown table (README.md embeds it; a test keeps the two in step)."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, spec in SCHEMA.items():
        default = "" if spec.default is None else yaml.safe_dump(spec.default, default_flow_style=True, width=1000).strip().removesuffix("...").strip()
        choices = f" One of: {', '.join(f'`{c}`' for c in spec.choices)}." if spec.choices else ""
        lines.append(f"| `{key}` | {spec.kind} | `{default}` | {spec.help}{choices} |".replace("``", ""))
    return "\n".join(lines)


def update_readme(path: str | Path | None = None) -> Path:
    """Rewrite the parameter table of README.md from the schema (``make docs``)."""
    from .paths import ROOT

    p = Path(path) if path is not None else ROOT / "README.md"
    text = p.read_text(encoding="utf-8")
    start, end = "<!-- params-table:start -->\n", "\n<!-- params-table:end -->"
    i, j = text.index(start) + len(start), text.index(end)
    p.write_text(text[:i] + markdown_table() + text[j:], encoding="utf-8")
    return p
