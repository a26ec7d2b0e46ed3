"""Foreign designs: panels unlike the default NHS panel, each with a parameters file, for end-to-end runs.

Every design is either public data shipped with the project (``mpdta`` from R ``did``; California's Proposition 99
from Abadie, Diamond and Hainmueller 2010, as shipped with R ``synthdid``) or SYNTHETIC data simulated here with
known effects. :func:`write_design` writes the data file and a parameters file into a folder; the matrix test
(``tests/test_foreign_designs.py``) runs each through ``evidence run`` with every notebook.

Inference is kept small (few bootstrap, placebo and power draws) so the whole matrix stays inside the test budget;
the analyses, and which of them apply, are those of a full run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]

FAST: dict = {
    "inference": {"bootstrap_draws": 19, "wild_draws": 99, "permutations": 99},
    "methods": {"synth": {"draws": 10}},
    "power": {"reps": 6, "validation_reps": 6, "sdid_reps": 2},
}
"""Small draw counts for the matrix (the analyses that run are those of a full run)."""


@dataclass
class ForeignDesign:
    name: str
    what: str
    frame: Callable[[], pd.DataFrame]
    params: dict
    expect: dict[str, str] = field(default_factory=dict)
    """Preflight status the run must report for some analyses (``runs``, ``fallback``, ``not applicable``)."""
    extra: dict[str, Callable[[], pd.DataFrame]] = field(default_factory=dict)
    """Further files (name -> frame), such as a user's own cost or survey file; params name them by file name."""
    error: str = ""
    """When not empty, the run must stop with a one-line message containing this (a request the data cannot meet)."""


def _mpdta() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "examples" / "mpdta.csv")


def _prop99() -> pd.DataFrame:
    df = pd.read_csv(ROOT / "tests" / "fixtures" / "prop99" / "california_prop99.csv", sep=";")
    return df.rename(columns={"State": "state", "Year": "year", "PacksPerCapita": "packs"})


def _sim(n_units: int, dates: pd.DatetimeIndex | np.ndarray, first: np.ndarray, effect: float, seed: int, count: bool = False, base: float = 50.0) -> pd.DataFrame:
    """SYNTHETIC panel: y = a_i + l_t + effect * D (+ noise); counts are Poisson with that mean."""
    rng = np.random.default_rng(seed)
    n_t = len(dates)
    a = rng.normal(0, 0.2 if count else 5, n_units)
    lam = np.cumsum(rng.normal(0, 0.02 if count else 0.5, n_t))
    t = np.arange(n_t)
    treated_at = np.where(first >= 0, first, n_t + 1)
    D = t[None, :] >= treated_at[:, None]
    if count:
        mu = base * np.exp(a[:, None] + lam[None, :] + effect * D)
        y = rng.poisson(mu).astype(float)
    else:
        y = base + a[:, None] + lam[None, :] + effect * D + rng.normal(0, 1, (n_units, n_t))
    return pd.DataFrame({"unit": np.repeat([f"A{i:03d}" for i in range(n_units)], n_t), "t_index": np.tile(t, n_units), "y": y.ravel(), "D": D.ravel().astype(int)})


def _first_label(df: pd.DataFrame, labels: np.ndarray) -> pd.Series:
    """First treated period label per row (0 = never treated) from the 0/1 indicator."""
    first = df[df["D"] == 1].groupby("unit")["t_index"].min()
    lab = df["unit"].map(first).map(lambda k: labels[int(k)] if pd.notna(k) else "0")
    return lab


def single_series() -> pd.DataFrame:
    dates = pd.date_range("2018-01-01", periods=60, freq="MS")
    df = _sim(1, dates, np.array([36]), effect=-0.08, seed=3, count=True, base=900)
    df["month"] = dates.strftime("%Y-%m-%d")[df["t_index"]]
    return df[["unit", "month", "y", "D"]]


# Markup and Markdown control characters in every string a report shows from parameters or data: the title, the
# description, the unit names, the outcome name and the data file's name (issue: reviewer-grade reports, escaping)
HOSTILE = "<script>alert('t')</script> *bold* _em_ [link](javascript:alert(1)) `tick` | $x$ & <img src=x onerror=alert(2)>"
HOSTILE_OUTCOME = "visits <i>x</i> *b* [c] $"


def quarterly_one_cohort() -> pd.DataFrame:
    dates = pd.date_range("2015-01-01", periods=24, freq="QS")
    n = 40
    first = np.where(np.arange(n) < 15, 16, -1)
    df = _sim(n, dates, first, effect=2.0, seed=4)
    labels = dates.strftime("%Y-%m-%d").to_numpy()
    df["quarter"] = labels[df["t_index"]]
    df["first_treated"] = _first_label(df, labels)
    df["area_name"] = "Area " + df["unit"] + " <b>x</b> *y* [z](javascript:alert(3))"
    return df[["unit", "area_name", "quarter", "y", "first_treated"]].rename(columns={"y": HOSTILE_OUTCOME})


def mpdta_costs() -> pd.DataFrame:
    """SYNTHETIC spending per head by county and year with a known effect of -20 after treatment (a user's cost file)."""
    df = _mpdta()
    rng = np.random.default_rng(21)
    treated = (df["first.treat"] > 0) & (df["year"] >= df["first.treat"])
    base = 400 + (df["countyreal"] % 50) + 5 * (df["year"] - 2003)
    return pd.DataFrame({"countyreal": df["countyreal"], "year": df["year"], "spend_per_head": base - 20 * treated + rng.normal(0, 5, len(df))})


def mpdta_survey() -> pd.DataFrame:
    """SYNTHETIC satisfaction (percent) by county and year, no effect (a user's survey file)."""
    df = _mpdta()
    rng = np.random.default_rng(22)
    return pd.DataFrame({"countyreal": df["countyreal"], "year": df["year"], "satisfied_pct": np.clip(70 + (df["countyreal"] % 10) + rng.normal(0, 2, len(df)), 0, 100)})


def no_never_treated() -> pd.DataFrame:
    df = _mpdta()
    return df[df["first.treat"] > 0].reset_index(drop=True)


def counts_with_zeros() -> pd.DataFrame:
    dates = pd.date_range("2017-01-01", periods=30, freq="MS")
    n = 160
    rng = np.random.default_rng(8)
    first = np.where(np.arange(n) < 30, 15, np.where(np.arange(n) < 60, 21, -1))
    df = _sim(n, dates, first, effect=-0.1, seed=8, count=True, base=1.5)
    labels = dates.strftime("%Y-%m-%d").to_numpy()
    df["month"] = labels[df["t_index"]]
    df["first_treated"] = _first_label(df, labels)
    pop = pd.Series(rng.integers(2000, 8000, n), index=[f"A{i:03d}" for i in range(n)])
    df["population"] = df["unit"].map(pop)
    return df.rename(columns={"y": "admissions"})[["unit", "month", "admissions", "population", "first_treated"]]


def coarse_clusters() -> pd.DataFrame:
    dates = pd.date_range("2016-04-01", periods=48, freq="MS")
    n = 20  # fewer than 25 areas: the event-study covariance at the default 12-lead window is singular
    first = np.array([18] * 5 + [30] * 4 + [-1] * 11)
    df = _sim(n, dates, first, effect=-3.0, seed=9)
    labels = dates.strftime("%Y-%m-%d").to_numpy()
    df["month"] = labels[df["t_index"]]
    df["first_treated"] = _first_label(df, labels)
    idx = df["unit"].str[1:].astype(int)
    df["region"] = "R" + (idx % 5).astype(str)
    # a baseline covariate that separates treated from comparison areas (the README's own example kind)
    df["imd_score"] = np.where(first[idx] >= 0, 30.0, 15.0) + (idx % 7)
    df["y"] = df["y"] * 20  # rates per 100k-like scale
    return df.rename(columns={"y": "admissions_rate"})[["unit", "month", "region", "imd_score", "admissions_rate", "first_treated"]]


def missing_cells() -> pd.DataFrame:
    dates = pd.date_range("2017-04-01", periods=36, freq="MS")
    n = 50
    first = np.where(np.arange(n) < 12, 12, np.where(np.arange(n) < 24, 20, -1))
    df = _sim(n, dates, first, effect=1.5, seed=10)
    labels = dates.strftime("%Y-%m-%d").to_numpy()
    df["month"] = labels[df["t_index"]]
    df["first_treated"] = _first_label(df, labels)
    rng = np.random.default_rng(11)
    holes = rng.random(len(df)) < 0.01  # suppressed cells
    df.loc[holes, "y"] = np.nan
    gone = rng.random(len(df)) < 0.01  # and rows missing from the extract
    return df.loc[~gone, ["unit", "month", "y", "first_treated"]].reset_index(drop=True)


def time_varying_controls() -> pd.DataFrame:
    df = _mpdta()
    rng = np.random.default_rng(12)
    df["unemployment"] = 5 + 0.3 * (df["year"] - 2003) + rng.normal(0, 0.5, len(df))
    return df


def two_period() -> pd.DataFrame:
    df = _mpdta()
    df = df[df["year"].isin([2003, 2004])].copy()
    df["treated"] = ((df["first.treat"] == 2004) & (df["year"] == 2004)).astype(int)
    keep = df.groupby("countyreal")["first.treat"].transform("first").isin([0, 2004])
    return df[keep].reset_index(drop=True)


def _base(path: str, unit: str, time: str, outcomes: list[str], kinds: dict[str, str], **data) -> dict:
    return {"data": {"path": path, "unit": unit, "time": time, "outcomes": outcomes, "outcome_kinds": kinds, **data}}


NA, FB, RUNS = "not applicable", "fallback", "runs"

DESIGNS: list[ForeignDesign] = [
    ForeignDesign("annual_staggered", "annual county panel, three cohorts and never-treated units, a time-varying control, the user's own cost and survey files (mpdta, R did; simulated unemployment, costs and survey)", time_varying_controls,
                  {**_base("data.csv", "countyreal", "year", ["lemp"], {"lemp": "continuous"}, controls=["unemployment"]), "treatment": {"cohort": "first.treat"},
                   "costs": {"path": "costs.csv", "outcomes": ["spend_per_head"]}, "satisfaction": {"path": "survey.csv", "outcomes": ["satisfied_pct"]}},
                  {"primary": RUNS, "cs": RUNS, "twfe": RUNS, "sun_abraham": RUNS, "imputation": RUNS, "synth": FB, "its": NA, "placebo_in_time": FB, "power": RUNS},
                  extra={"costs.csv": mpdta_costs, "survey.csv": mpdta_survey}),
    ForeignDesign("one_treated_unit", "annual state panel, one treated state (California Proposition 99)", _prop99,
                  {**_base("data.csv", "state", "year", ["packs"], {"packs": "continuous"}), "treatment": {"indicator": "treated"}},
                  {"synth": RUNS, "leave_one_out": NA, "its": RUNS, "its_controlled": RUNS, "wild_bootstrap": RUNS}),
    ForeignDesign("single_series", "one monthly series of counts with an intervention (SYNTHETIC)", single_series,
                  {**_base("data.csv", "unit", "month", ["y"], {"y": "count"}), "treatment": {"indicator": "D"}},
                  {"its": RUNS, "its_controlled": NA, "primary": NA, "synth": NA, "randomization_inference": NA, "power": NA}),
    ForeignDesign("quarterly_one_cohort", "quarterly panel, a single adoption cohort, markup in every name (SYNTHETIC)", quarterly_one_cohort,
                  {**_base("da*ta_[x] <b>.csv", "unit", "quarter", [HOSTILE_OUTCOME], {HOSTILE_OUTCOME: "continuous"}, unit_name="area_name"), "treatment": {"cohort": "first_treated"},
                   "title": "Title " + HOSTILE, "description": "Description " + HOSTILE},
                  {"primary": RUNS, "synth": RUNS, "leave_one_out": FB, "its": RUNS}),
    ForeignDesign("no_never_treated", "annual panel in which every unit is eventually treated (mpdta without never-treated counties)", no_never_treated,
                  {**_base("data.csv", "countyreal", "year", ["lemp"], {"lemp": "continuous"}), "treatment": {"cohort": "first.treat"}},
                  {"did_2x2": NA, "sun_abraham": FB, "imputation": FB, "synth": FB, "placebo_in_time": NA, "cs": RUNS}),
    ForeignDesign("counts_with_zeros", "160 small areas, monthly counts with many zeros (SYNTHETIC)", counts_with_zeros,
                  {**_base("data.csv", "unit", "month", ["admissions"], {"admissions": "count"}, population="population"), "treatment": {"cohort": "first_treated"}},
                  {"log_outcomes": NA, "cs": RUNS, "power": RUNS, "synth": RUNS}),
    ForeignDesign("coarse_clusters", "20 areas in 5 regions clustered by region, a covariate separating treated areas (SYNTHETIC)", coarse_clusters,
                  {**_base("data.csv", "unit", "month", ["admissions_rate"], {"admissions_rate": "continuous"}, cluster="region", covariates=["imd_score"]), "treatment": {"cohort": "first_treated"}},
                  {"honest_did": FB, "cs": FB, "wild_bootstrap": RUNS, "randomization_inference": RUNS}),
    ForeignDesign("missing_cells", "monthly panel with suppressed (missing) outcome cells and missing rows, analysed as an unbalanced panel (SYNTHETIC)", missing_cells,
                  {**_base("data.csv", "unit", "month", ["y"], {"y": "continuous"}, missing="allow"), "treatment": {"cohort": "first_treated"}},
                  {"primary": RUNS, "synth": RUNS}),
    ForeignDesign("two_period", "two periods, one treated group (mpdta 2003-2004)", two_period,
                  {**_base("data.csv", "countyreal", "year", ["lemp"], {"lemp": "continuous"}), "treatment": {"indicator": "treated"}},
                  {"did_2x2": RUNS, "synth": NA, "honest_did": NA, "power": NA, "its": NA}),
    ForeignDesign("time_varying_covariate_as_baseline", "a time-varying column given as a baseline covariate (mpdta + simulated unemployment)", time_varying_controls,
                  {**_base("data.csv", "countyreal", "year", ["lemp"], {"lemp": "continuous"}, covariates=["unemployment"]), "treatment": {"cohort": "first.treat"}},
                  error="data.covariates must be baseline"),
]
BY_NAME = {d.name: d for d in DESIGNS}
PAPERMILL_DESIGN = "annual_staggered"
"""The design whose notebooks also run through papermill's ``-f`` (tests/test_foreign_designs.py)."""
PAPERMILL_NOTEBOOKS = ("00_primary", "01_did", "02_staggered", "03_synthetic_control", "05_robustness", "06_power", "07_evidence", "08_costs_satisfaction")
"""Its notebooks that record rows (the test checks this list against its run)."""


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def write_design(design: ForeignDesign, folder: Path, fast: bool = True) -> Path:
    """Write the design's data and parameters file into ``folder``; returns the parameters file."""
    folder.mkdir(parents=True, exist_ok=True)
    data_file = folder / Path(design.params["data"]["path"]).name
    design.frame().to_csv(data_file, index=False)
    params = _merge({"run_name": design.name, "title": f"Foreign design: {design.what}"}, design.params)
    params["data"]["path"] = str(data_file)
    for name, make in design.extra.items():
        make().to_csv(folder / name, index=False)
    for family in ("costs", "satisfaction"):
        if family in params and "path" in params[family]:
            params[family]["path"] = str(folder / params[family]["path"])
    if fast:
        params = _merge(params, FAST)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


if __name__ == "__main__":  # write every design under a folder, for running by hand
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "foreign")
    for d in DESIGNS:
        print(write_design(d, out / d.name))
