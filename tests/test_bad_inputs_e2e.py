"""The bad-input catalogue, end to end, as a new user would hit it.

Each case writes a parameters file (and, where needed, a small data file: 6 areas x 12 months) to its own temporary
folder and runs the real command line in a subprocess (``python -m evidence.cli validate|run ...``) with a fresh
reports folder (``--reports`` for ``run``; ``EVIDENCE_REPORTS`` is also pointed at it). For every case:

* the exit status is 2 (a user error, not an internal error);
* stderr is exactly one line, starting with ``error: ``, containing the expected text and naming the file, key or
  column at fault;
* no ``Traceback`` appears on stdout or stderr;
* every input file is byte-identical afterwards (sha256), and files that did not exist still do not;
* for ``evidence run`` cases, a report previously published for the same ``run_name`` is byte-identical afterwards
  and no temporary folder is left behind.

``evidence validate`` checks parameters, data and design without executing notebooks, so most cases use it; the
``run`` cases fail before any notebook starts. Subprocesses are started concurrently (one module-scoped pool) to
keep the suite fast; each case is still its own test.

The catalogue is also rendered as Markdown by :func:`catalogue_markdown`; ``docs/bad_inputs.md`` must equal its
output (regenerate with ``.venv/bin/python tests/test_bad_inputs_e2e.py > docs/bad_inputs.md``).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad_inputs.md"
TIMEOUT = 180

# project files the built-in source reads: they must not change either
BUILTIN_INPUTS = [
    ROOT / "data" / "raw" / "nhs" / "ae_attendances_2016_2019.csv",
    ROOT / "data" / "raw" / "reference" / "lookup_nhs_trusts22_stp21.csv",
    ROOT / "data" / "raw" / "reference" / "lookup_trust_trust.csv",
    ROOT / "data" / "raw" / "reference" / "lookup_nhs_trusts22_nhs_region21.csv",
    ROOT / "data" / "reference" / "ics_designations.csv",
]


# ---------------------------------------------------------------------------------------------------------------
# building inputs
# ---------------------------------------------------------------------------------------------------------------
def make_panel(n_units: int = 6, n: int = 12, start: str = "2016-04-01", freq: str = "MS", cohorts: dict[str, str] | None = None) -> pd.DataFrame:
    """area, month (first day), visits (count), first_treated (date or 0), d (absorbing 0/1 indicator)."""
    cohorts = cohorts or {"A0": "2016-10-01", "A1": "2016-10-01", "A2": "2016-12-01"}
    dates = pd.date_range(start, periods=n, freq=freq)
    rows = []
    for u in range(n_units):
        area = f"A{u}"
        c = cohorts.get(area, "0")
        for i, t in enumerate(dates):
            day = t.strftime("%Y-%m-%d")
            rows.append({"area": area, "month": day, "visits": 100 + 10 * u + i, "first_treated": c, "d": int(c != "0" and day >= c)})
    return pd.DataFrame(rows)


@dataclass
class Setup:
    """What a case's builder made: the CLI arguments after the command and the files to watch."""

    argv: list[str]
    run_name: str
    inputs: list[Path] = field(default_factory=list)
    absent: list[Path] = field(default_factory=list)
    names: str = ""  # file, key or column the message must name (after substituting paths)


def user_params(d: Path, data: Path, *, run_name: str, extra: str = "", treatment: str = "  cohort: first_treated\n", design: str = "  start: 2016-04\n  end: 2017-03\n") -> str:
    return (
        f"run_name: {run_name}\n"
        f"title: 'Bad-input test {run_name}'\n"
        "data:\n"
        f"  path: {data}\n"
        "  unit: area\n"
        "  time: month\n"
        "  outcomes: [visits]\n"
        "treatment:\n"
        f"{treatment}"
        "design:\n"
        f"{design}"
        "report:\n"
        "  synthetic: true\n"
        f"{extra}"
    )


def write_csv(d: Path, df: pd.DataFrame, name: str = "panel.csv", **kwargs) -> Path:
    p = d / name
    df.to_csv(p, index=False, **kwargs)
    return p


def write_params(d: Path, text: str, name: str = "params.yaml") -> Path:
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


def user_case(df_fn: Callable[[], pd.DataFrame] | None = None, *, names: str, params_fn: Callable[[Path, Path, str], str] | None = None, set_args: tuple[str, ...] = (), only: tuple[str, ...] = ()) -> Callable[[Path, str], Setup]:
    """A builder for cases on a user's CSV: optional data change, optional params text, optional CLI flags."""

    def build(d: Path, run_name: str) -> Setup:
        df = df_fn() if df_fn is not None else make_panel()
        data = write_csv(d, df)
        text = params_fn(d, data, run_name) if params_fn is not None else user_params(d, data, run_name=run_name)
        params = write_params(d, text)
        argv = [str(params)]
        for s in set_args:
            argv += ["--set", s]
        for o in only:
            argv += ["--only", o]
        return Setup(argv, run_name, inputs=[data, params], names=names.format(params=params, data=data))

    return build


def builtin_case(body: str, *, names: str) -> Callable[[Path, str], Setup]:
    """A builder for cases on the built-in NHS A&E source."""

    def build(d: Path, run_name: str) -> Setup:
        params = write_params(d, f"run_name: {run_name}\n" + body)
        return Setup([str(params)], run_name, inputs=[params, *BUILTIN_INPUTS], names=names.format(params=params))

    return build


# --- individual builders that need more than a template ----------------------------------------------------------
def build_params_missing(d: Path, run_name: str) -> Setup:
    params = d / "my_params.yaml"
    return Setup([str(params)], run_name, absent=[params], names=str(params))


def build_yaml_invalid(d: Path, run_name: str) -> Setup:
    # line 5 continues the unclosed list of line 4
    text = f"run_name: {run_name}\ntitle: broken\ndata:\n  outcomes: [attendances, admissions\n  ae_types: ['1']\n"
    params = write_params(d, text)
    return Setup([str(params)], run_name, inputs=[params], names=str(params))


def build_yaml_python_tag(d: Path, run_name: str) -> Setup:
    sentinel = d / "EXECUTED"
    params = write_params(d, f"run_name: !!python/object/apply:os.system ['touch {sentinel}']\n")
    return Setup([str(params)], run_name, inputs=[params], absent=[sentinel], names=str(params))


def build_data_path_missing(d: Path, run_name: str) -> Setup:
    missing = d / "my_panel.csv"
    params = write_params(d, user_params(d, missing, run_name=run_name))
    return Setup([str(params)], run_name, inputs=[params], absent=[missing], names=str(missing))


def df_without_unit() -> pd.DataFrame:
    return make_panel().rename(columns={"area": "trust"})


def df_duplicate_rows() -> pd.DataFrame:
    df = make_panel()
    return pd.concat([df, df.iloc[[14]]], ignore_index=True)


def df_non_numeric() -> pd.DataFrame:
    df = make_panel()
    df["visits"] = df["visits"].astype(str)
    df.loc[20, "visits"] = "twelve"
    return df


def df_negative() -> pd.DataFrame:
    df = make_panel()
    df.loc[20, "visits"] = -4
    return df


def df_gap() -> pd.DataFrame:
    return make_panel().drop(index=[12 + 5])  # A1, September 2016


def df_mixed_frequencies() -> pd.DataFrame:
    monthly = make_panel()
    quarterly = monthly[pd.to_datetime(monthly["month"]).dt.month.isin([1, 4, 7, 10])]
    return pd.concat([quarterly[quarterly["area"].isin(["A0", "A1"])], monthly[~monthly["area"].isin(["A0", "A1"])]])


def df_indicator_off() -> pd.DataFrame:
    df = make_panel()
    df.loc[(df["area"] == "A2") & (df["month"] == "2017-02-01"), "d"] = 0
    return df


def df_all_treated() -> pd.DataFrame:
    cohorts = {f"A{u}": ("2016-07-01", "2016-10-01", "2017-01-01")[u % 3] for u in range(6)}
    return make_panel(cohorts=cohorts)


# ---------------------------------------------------------------------------------------------------------------
# the catalogue
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    description: str  # the bad input, as a user would describe it
    made: str  # how the test makes it
    expected: str  # text the one-line message must contain
    build: Callable[[Path, str], Setup] = field(repr=False, compare=False)
    command: str = "validate"
    bug: str | None = None  # known bug: the case is xfail(strict=True) until it is fixed
    area: str = ""  # what the mistake is in: parameters, data file or treatment definition (set by _area)


def _area(area: str, cases: list[Case]) -> list[Case]:
    return [dataclasses.replace(c, area=area) for c in cases]


def P(extra: str, *, names: str) -> Callable[[Path, str], Setup]:
    """Builder: a user-file params file with ``extra`` YAML appended."""
    return user_case(names=names, params_fn=lambda d, data, rn: user_params(d, data, run_name=rn, extra=extra))


def T(treatment: str, *, names: str, df_fn: Callable[[], pd.DataFrame] | None = None, design: str | None = None) -> Callable[[Path, str], Setup]:
    """Builder: a user-file params file with another ``treatment:`` (and optionally ``design:``) section."""
    kw = {} if design is None else {"design": design}
    return user_case(df_fn, names=names, params_fn=lambda d, data, rn: user_params(d, data, run_name=rn, treatment=treatment, **kw))


PARAMS_CASES = [
    Case("params_missing", "Wrong path to the parameters file", "`evidence validate my_params.yaml` where the file does not exist", "does not exist; give the path to a YAML file", build_params_missing),
    Case("yaml_invalid", "Parameters file is not valid YAML", "an unclosed list `[attendances, admissions` on line 4, continued on line 5", "is not valid YAML at line 5", build_yaml_invalid),
    Case("yaml_python_tag", "Parameters file with a Python object tag", "`run_name: !!python/object/apply:os.system [...]`; the command must not run", "uses a YAML tag such as !!python/... at line 1", build_yaml_python_tag),
    Case("key_misspelt_top", "Misspelt top-level key", "`runname: mine` instead of `run_name`", "unknown key 'runname'; did you mean 'run_name'?", P("runname: mine\n", names="'runname'")),
    Case("key_misspelt_nested", "Misspelt nested key", "`outcome: [visits]` under `data:` (for `outcomes`)", "unknown key 'data.outcome'; did you mean 'data.outcomes'?", user_case(names="'data.outcome'", params_fn=lambda d, data, rn: user_params(d, data, run_name=rn).replace("  outcomes: [visits]\n", "  outcomes: [visits]\n  outcome: [visits]\n"))),
    Case("builtin_unknown_outcome", "Outcome the built-in source does not have", "built-in `nhs_ae` source with `data.outcomes: [visits]`", "outcome 'visits' (data.outcomes) does not exist", builtin_case("data:\n  outcomes: [visits]\n", names="data.outcomes")),
    Case("date_bad_month", "Impossible month in a date", "`design.start: 2016-13`", "'design.start': '2016-13' has month 13", T("  cohort: first_treated\n", names="'design.start'", design="  start: 2016-13\n  end: 2017-03\n")),
    Case("date_impossible_day", "Impossible day in an unquoted date", "`design.start: 2016-02-30` (unquoted)", "design.start", T("  cohort: first_treated\n", names="design.start", design="  start: 2016-02-30\n  end: 2017-03\n")),
    Case("window_outside_data", "Analysis window outside the data", "built-in source with `design.start: 2030-01`, `design.end: 2031-01`", "select no period of the data, which runs 2016-04 to 2026-02", builtin_case("design:\n  start: 2030-01\n  end: 2031-01\n", names="design.start")),
    Case("window_reversed", "Window start after its end", "`design.start: 2017-03`, `design.end: 2016-04`", "'design.start' (2017-03) is after 'design.end' (2016-04)", T("  cohort: first_treated\n", names="'design.start'", design="  start: 2017-03\n  end: 2016-04\n")),
    Case("wrong_type_seed", "Wrong type for a number", "`inference.seed: abc`", "key 'inference.seed' must be a whole number, got 'abc'", P("inference:\n  seed: abc\n", names="'inference.seed'")),
    Case("unknown_choice", "Value outside the allowed choices", "`treatment.date_basis: maybe`", "key 'treatment.date_basis': 'maybe' is not allowed; choose from announced, effective", T("  cohort: first_treated\n  date_basis: maybe\n", names="'treatment.date_basis'")),
    Case("set_unknown_key", "`--set` with an unknown key", "`--set inference.sed=3`", "--set inference.sed: unknown key; did you mean 'inference.seed'?", user_case(names="inference.sed", set_args=("inference.sed=3",))),
    Case("only_unknown_notebook", "`--only` with an unknown notebook", "`evidence run params.yaml --only 02_synth`", "--only 02_synth: unknown notebook; choose from 00_primary, 00_data, 01_did", user_case(names="02_synth", only=("02_synth",)), command="run"),
]

DATA_CASES = [
    Case("data_path_missing", "`data.path` names a missing file", "`data.path` points to `my_panel.csv`, which does not exist", "key 'data.path' names", build_data_path_missing),
    Case("csv_missing_unit", "Data file without the unit column", "column `area` renamed `trust`; `data.unit: area`", "column 'area' (from data.unit) is missing", user_case(df_without_unit, names="{data}")),
    Case("csv_duplicate_rows", "Duplicate unit-period rows", "row (A1, 2016-06) appears twice", "1 duplicate unit-period row in columns 'area' and 'month'", user_case(df_duplicate_rows, names="{data}"), command="run"),
    Case("csv_non_numeric", "Text in a count column", "`visits` is `twelve` in one row", "column 'visits' has non-numeric values such as 'twelve'", user_case(df_non_numeric, names="{data}")),
    Case("csv_negative_counts", "Negative counts", "`visits` is -4 in one row", "column 'visits' has negative values (first: unit A1 at 2016-12)", user_case(df_negative, names="{data}")),
    Case("csv_gap", "A gap in time", "unit A1 has no row for September 2016", "column 'month' has a gap for unit A1: no row for 2016-09", user_case(df_gap, names="{data}")),
    Case("csv_mixed_frequencies", "Mixed frequencies", "units A0 and A1 quarterly, the others monthly", "column 'month' mixes frequencies: unit A0 has a row every 3 months", user_case(df_mixed_frequencies, names="{data}")),
]

TREATMENT_CASES = [
    Case("indicator_switches_off", "Treatment indicator switching off", "`treatment.indicator: d`; unit A2's `d` is 0 in February 2017 after being 1", "column 'd' (treatment.indicator) switches from 1 back to 0 for unit A2 at 2017-02", T("  indicator: d\n", names="'d'", df_fn=df_indicator_off)),
    Case("cohort_column_missing", "`treatment.cohort` names a missing column", "`treatment.cohort: first_treat` (the column is `first_treated`)", "column 'first_treat' (from treatment.cohort / treatment.indicator) is missing", T("  cohort: first_treat\n", names="{data}")),
    Case("never_treated_no_untreated", "Never-treated comparison with no untreated unit", "every unit is treated inside the window; `design.comparison: never_treated`", "design.comparison is never_treated but every unit is treated within the window; use design.comparison: not_yet_treated", T("  cohort: first_treated\n", names="design.comparison", df_fn=df_all_treated, design="  start: 2016-04\n  end: 2017-03\n  comparison: never_treated\n"), command="run"),
]

def df_mid_year_cohorts() -> pd.DataFrame:
    """Annual data whose first-treated column holds mid-year designation dates."""
    years = [2014, 2015, 2016, 2017, 2018, 2019]
    rows = [{"area": f"A{u}", "month": f"{y}-01-01", "visits": 100 + u + y % 10, "first_treated": ("2017-06-15" if u < 2 else "0")} for u in range(6) for y in years]
    return pd.DataFrame(rows)


def df_proportion_out_of_range() -> pd.DataFrame:
    df = make_panel()
    df["visits"] = 0.5
    df.loc[7, "visits"] = 62.0  # a percentage typed into a proportion column
    return df


def extra_file(name: str, text: str, key: str) -> Callable[[Path, str], Setup]:
    """Builder: a built-in-source params file whose ``key`` names a small CSV written next to it."""

    def build(d: Path, run_name: str) -> Setup:
        f = d / name
        f.write_text(text, encoding="utf-8")
        section, leaf = key.split(".")
        params = write_params(d, f"run_name: {run_name}\n{section}:\n  {leaf}: {f}\n")
        return Setup([str(params)], run_name, inputs=[params, f, *BUILTIN_INPUTS], names=key)

    return build


@functools.cache
def base_records() -> pd.DataFrame:
    """Small synthetic spells (April-June 2016, about 2,300 rows) as plain columns, made once per test session."""
    from evidence.records import generate_records

    folder = Path(tempfile.mkdtemp(prefix="e2e-records-"))
    g = generate_records(folder, scale=0.002, start="2016-04", end="2016-06", seed=5)
    t = pd.concat([pd.read_parquet(f) for f in g.files], ignore_index=True)
    for c in ("provider_code", "lsoa11_code", "admission_method", "age_band", "sex", "hrg_code"):
        t[c] = t[c].astype(str)
    shutil.rmtree(folder, ignore_errors=True)
    return t


def df_records_unknown_lsoa(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    t.loc[t.index[:30], "lsoa11_code"] = "W01000001"  # a Welsh LSOA: not in the English lookup
    return t


def df_records_duplicate_ids(t: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([t, t.iloc[[7, 7, 9]]], ignore_index=True)


def df_records_float_los(t: pd.DataFrame) -> pd.DataFrame:
    return t.assign(length_of_stay=t["length_of_stay"].astype(float) + 0.5)


def records_case(mutate: Callable[[pd.DataFrame], pd.DataFrame] | None = None, *, names: str, data: str = "", design: str = "  start: 2016-04\n  end: 2016-06\n", outcomes: str = "[emergency_admissions]") -> Callable[[Path, str], Setup]:
    """Builder: record-level spells (optionally changed) in a Parquet file, read through ``data.records.*``."""

    def build(d: Path, run_name: str) -> Setup:
        t = base_records()
        f = d / "spells.parquet"
        (mutate(t) if mutate is not None else t).to_parquet(f, index=False)
        text = (f"run_name: {run_name}\ndata:\n  records:\n    path: {f}\n{data}  outcomes: {outcomes}\ntreatment:\n  waves: [1]\n"
                f"design:\n{design}plan:\n  assumptions: []\n")
        params = write_params(d, text)
        return Setup([str(params)], run_name, inputs=[params, f], names=names.format(data=f, params=params))

    return build


RECORDS_CASES = [
    Case("records_unknown_lsoa", "Record-level data with LSOA codes the lookup does not know", "30 spells with the Welsh LSOA W01000001", "have 1 LSOA (lsoa11_code) codes not in", records_case(df_records_unknown_lsoa, names="data.records.unknown_codes")),
    Case("records_outside_window", "Records dated outside the analysis window", "spells from April to June 2016, `design.end: 2016-05`", "have admission_date outside the window 2016-04..2016-05", records_case(names="data.records.outside_window", design="  start: 2016-04\n  end: 2016-05\n")),
    Case("records_duplicate_ids", "Duplicate spell ids", "three spells repeated (one of them twice)", "3 duplicate spell_id values", records_case(df_records_duplicate_ids, names="spell_id")),
    Case("records_schema_missing_column", "Record file without a required column", "spells without `length_of_stay`", "required column 'length_of_stay' is missing", records_case(lambda t: t.drop(columns="length_of_stay"), names="{data}")),
    Case("records_schema_wrong_type", "Record column of the wrong type", "`length_of_stay` stored as decimals (2.5 days)", "column 'length_of_stay' is float but must be integer", records_case(df_records_float_los, names="{data}")),
    Case("records_spark_unreachable", "Spark master that cannot be reached", "`data.records.engine: spark`, `spark_master: spark://127.0.0.1:9` (nothing listens)", "cannot reach the Spark master at 127.0.0.1:9", records_case(names="data.records.spark_master", data="    engine: spark\n    spark_master: spark://127.0.0.1:9\n")),
    Case("records_outcome_unknown", "Outcome that record-level spells do not give", "`data.outcomes: [admissions]` (the A&E return's name; spells give emergency_admissions)", "'admissions' is not an outcome of spells records", records_case(names="data.outcomes", outcomes="[admissions]")),
    Case("records_path_missing", "Record path that does not exist", "`data.records.path: data/spells` where there is no such folder", "key 'data.records.path' names data/spells, which does not exist", builtin_case("data:\n  records:\n    path: data/spells\n", names="data.records.path")),
]

ANALYSIS_CASES = [
    Case("unit_costs_missing_activity", "Unit-cost table without an activity", "`costs.unit_costs` CSV with a row for ae_attendance only", "no unit cost for activity 'emergency_admission' (costs.unit_costs)", extra_file("unit_costs.csv", "activity,unit_cost\nae_attendance,300\n", "costs.unit_costs")),
    Case("deflator_without_price_year", "Deflator without a price year", "`costs.deflator` given, `costs.price_year` empty", "costs.deflator is given but costs.price_year is empty", extra_file("deflator.csv", "fin_year,index\n2017/18,80\n2023/24,100\n", "costs.deflator")),
    Case("reference_rates_missing_band", "Reference rates missing an age band", "`data.reference_rates` with no rate for pop_75_plus", "no rate for age band pop_75_plus (data.reference_rates)", extra_file("rates.csv", "outcome,band,rate\nemergency_admissions,pop_0_17,0.001\nemergency_admissions,pop_18_64,0.002\nemergency_admissions,pop_65_74,0.005\n", "data.reference_rates")),
    Case("plan_unknown_outcome", "Plan assumption about an outcome the run does not estimate", "`plan.assumptions: [{outcome: bed_days, change: -0.1}]` on the A&E source", "plan.assumptions[0]: outcome 'bed_days' is not a count outcome estimated in logs", builtin_case("plan:\n  assumptions:\n    - {outcome: bed_days, change: -0.1}\n", names="plan.assumptions")),
    Case("plan_change_not_proportional", "Plan change given as a percentage", "`change: -10` (meaning -10%)", "give a proportional change such as -0.10", builtin_case("plan:\n  assumptions:\n    - {outcome: admissions, change: -10}\n", names="plan.assumptions[0].change")),
    Case("honest_grid_negative", "Negative HonestDiD bound", "`robustness.honest_grid_rm: [0, -1]`", "list item -1 is negative", builtin_case("robustness:\n  honest_grid_rm: [0, -1]\n", names="robustness.honest_grid_rm")),
    Case("wild_draws_too_few", "Too few wild bootstrap draws", "`inference.wild_draws: 10`", "'inference.wild_draws': 10 is below the minimum 99", builtin_case("inference:\n  wild_draws: 10\n", names="inference.wild_draws")),
    Case("placebo_outcome_not_in_panel", "Placebo outcome that is not in the data", "`robustness.placebo_outcomes: [deaths]`", "robustness.placebo_outcomes: 'deaths' is not in the panel", builtin_case("robustness:\n  placebo_outcomes: [deaths]\n", names="robustness.placebo_outcomes")),
    Case("survey_proportion_out_of_range", "Percentage in a proportion column", "`data.outcome_kinds: {visits: proportion}` with a value of 62", "is a proportion outcome but has values above 1", user_case(df_proportion_out_of_range, names="'visits'", params_fn=lambda d, data, rn: user_params(d, data, run_name=rn).replace("  outcomes: [visits]\n", "  outcomes: [visits]\n  outcome_kinds: {visits: proportion}\n"))),
    Case("annual_dates_without_rule", "Mid-year designation dates in annual data, no rule", "annual rows, `first_treated` 2017-06-15, `treatment.first_period` empty", "set treatment.first_period to first_full", user_case(df_mid_year_cohorts, names="treatment.first_period", params_fn=lambda d, data, rn: user_params(d, data, run_name=rn, design="  start: 2014\n  end: 2019\n"))),
]

CASES: list[Case] = _area("parameters", PARAMS_CASES) + _area("data file", DATA_CASES) + _area("treatment", TREATMENT_CASES) + _area("analysis options", ANALYSIS_CASES) + _area("record-level data", RECORDS_CASES)


# ---------------------------------------------------------------------------------------------------------------
# the Markdown rendering
# ---------------------------------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def catalogue_markdown() -> str:
    """The catalogue as a Markdown document (the content of docs/bad_inputs.md)."""
    lines = [
        "# Bad-input catalogue",
        "",
        "<!-- Generated by catalogue_markdown() in tests/test_bad_inputs_e2e.py; do not edit by hand. -->",
        "<!-- Regenerate: .venv/bin/python tests/test_bad_inputs_e2e.py > docs/bad_inputs.md -->",
        "",
        "Mistakes a new user can make in a parameters file, a data file or a treatment definition, and what the",
        "`evidence` command says about each. Every row is a test in `tests/test_bad_inputs_e2e.py` that runs the real",
        "command line in a subprocess and checks that it:",
        "",
        "- exits with status 2 (a user error);",
        "- prints exactly one line on stderr, starting with `error: `, that contains the text in the last column and",
        "  names the file, key or column at fault;",
        "- prints no traceback;",
        "- leaves its input files byte-identical;",
        "- for `evidence run`: leaves the report already published for the same `run_name` byte-identical.",
        "",
        "Rows marked *known bug* do not behave like this yet; their tests are expected to fail until the bug is fixed.",
        "",
        "| # | id | mistake in | bad input | how it is made | command | message contains |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(CASES, 1):
        bad = c.description + (f" — *known bug:* {c.bug}" if c.bug else "")
        lines.append(f"| {i} | `{c.id}` | {c.area} | {_cell(bad)} | {_cell(c.made)} | `evidence {c.command}` | `{_cell(c.expected)}` |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# running the cases
# ---------------------------------------------------------------------------------------------------------------
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def publish_fake_report(reports: Path, run_name: str) -> Path:
    """A report folder as a previous successful run would have left it."""
    folder = reports / run_name
    folder.mkdir(parents=True)
    (folder / "00_data.html").write_text(f"<html><body>previous report of {run_name}</body></html>\n", encoding="utf-8")
    (folder / "01_did.html").write_text("<html><body>previous DiD report</body></html>\n", encoding="utf-8")
    (folder / "estimates.csv").write_text("notebook,outcome,estimate\n01_did,visits,1.5\n", encoding="utf-8")
    (folder / "manifest.json").write_text(f'{{"run_name": "{run_name}", "seconds": 1.0}}\n', encoding="utf-8")
    return folder


@dataclass
class Outcome:
    setup: Setup
    returncode: int
    stdout: str
    stderr: str
    before: dict[str, str]
    after: dict[str, str]
    absent_after: list[str]
    report_before: dict[str, str] | None = None
    report_after: dict[str, str] | None = None
    leftovers: list[str] = field(default_factory=list)


def run_case(case: Case, d: Path) -> Outcome:
    run_name = f"e2e_{case.id}"
    setup = case.build(d, run_name)
    before = {str(p): sha256(p) for p in setup.inputs}
    reports = d / "reports"
    report_before = None
    if case.command == "run":
        report_before = tree(publish_fake_report(reports, run_name))
    env = {k: v for k, v in os.environ.items() if k not in ("EVIDENCE_DEBUG", "EVIDENCE_REPORTS")}
    env["EVIDENCE_REPORTS"] = str(reports)
    cmd = [sys.executable, "-m", "evidence.cli", case.command, *setup.argv]
    if case.command == "run":
        cmd += ["--reports", str(reports), "--jobs", "1"]
    proc = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    after = {str(p): sha256(p) if p.exists() else "<deleted>" for p in setup.inputs}
    outcome = Outcome(setup, proc.returncode, proc.stdout, proc.stderr, before, after, [str(p) for p in setup.absent if p.exists()])
    if case.command == "run":
        folder = reports / run_name
        outcome.report_before = report_before
        outcome.report_after = tree(folder) if folder.is_dir() else {}
        outcome.leftovers = sorted(p.name for p in reports.iterdir() if p.name.startswith((".tmp-", ".old-")))
    return outcome


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[str, Outcome]:
    """Run the selected cases concurrently; case id -> outcome."""
    selected = set()
    for item in request.session.items:
        case = getattr(item, "callspec", None) and item.callspec.params.get("case")
        if isinstance(case, Case):
            selected.add(case.id)
    todo = [c for c in CASES if c.id in selected]
    workers = max(2, os.cpu_count() or 2)
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {c.id: pool.submit(run_case, c, tmp_path_factory.mktemp(c.id)) for c in todo}
        return {cid: f.result() for cid, f in futures.items()}


def _params(cases: list[Case]) -> list:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=f"bug: {c.bug}")] if c.bug else []) for c in cases]


# ---------------------------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------------------------
def test_catalogue_is_large_and_distinct():
    assert len(CASES) >= 30  # issue: at least 30 distinct bad inputs, end to end
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids)
    assert len({c.expected for c in CASES}) == len(CASES)
    assert sum(c.command == "run" for c in CASES) == 3  # the rest use `evidence validate`
    assert all(c.expected and "\n" not in c.expected for c in CASES)


def test_catalogue_doc_is_current():
    assert DOC.is_file(), f"{DOC} is missing; write it with: .venv/bin/python tests/test_bad_inputs_e2e.py > docs/bad_inputs.md"
    assert DOC.read_text(encoding="utf-8") == catalogue_markdown(), "docs/bad_inputs.md is out of date; regenerate it with: .venv/bin/python tests/test_bad_inputs_e2e.py > docs/bad_inputs.md"


@pytest.mark.e2e
@pytest.mark.parametrize("case", _params(CASES))
def test_bad_input(case: Case, outcomes: dict[str, Outcome], tmp_path: Path):
    out = outcomes.get(case.id) or run_case(case, tmp_path)
    both = out.stdout + out.stderr
    assert "Traceback" not in both, both
    assert out.returncode == 2, f"exit status {out.returncode}; stderr: {out.stderr!r}"
    lines = out.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line: {out.stderr!r}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert case.expected in line, f"expected {case.expected!r} in {line!r}"
    assert out.setup.names and out.setup.names in line, f"message does not name {out.setup.names!r}: {line!r}"
    assert out.after == out.before, "an input file changed"
    assert not out.absent_after, f"files appeared that must not exist: {out.absent_after}"
    if case.command == "run":
        assert out.report_before, "no previous report was published"
        assert out.report_after == out.report_before, "the previously published report changed"
        assert not out.leftovers, f"temporary folders left in reports/: {out.leftovers}"


def test_inputs_without_the_mistake_are_valid(tmp_path):
    """Control (in process, to save a subprocess): the data and params every user-file case starts from are
    valid, so each case fails only because of its own mistake."""
    from evidence.params import load_params
    from evidence.pipeline import prepare

    controls = [
        ("base", make_panel(), "  cohort: first_treated\n", 3),
        ("base_indicator", make_panel(), "  indicator: d\n", 3),
        ("indicator_case_data", df_indicator_off(), "  cohort: first_treated\n", 3),  # fine unless d is used
        ("all_treated", df_all_treated(), "  cohort: first_treated\n", 6),  # fine with not_yet_treated
    ]
    for name, df, treatment, n_treated in controls:
        d = tmp_path / name
        d.mkdir()
        data = write_csv(d, df)
        params = load_params(write_params(d, user_params(d, data, run_name=f"e2e_{name}", treatment=treatment)))
        panel, design = prepare(params)
        assert (panel.n_units, panel.n_periods) == (6, 12), name
        assert design.n_treated == n_treated, name
        if name == "base":
            assert design.cohort_labels == ["2016-10", "2016-12"] and design.n_comparison == 3


if __name__ == "__main__":  # pragma: no cover - regenerate docs/bad_inputs.md
    sys.stdout.write(catalogue_markdown())
