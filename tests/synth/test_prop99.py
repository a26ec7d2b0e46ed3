"""California Proposition 99: SDID, SC and DiD against the published numbers (tests/fixtures/prop99/README.md).

Arkhangelsky et al. (2021) Table 1 and the synthdid README: SDID -15.6 (placebo SE 8.4), SC -19.6 (9.9),
DiD -27.3 (17.7); SDID -15.60383 with the README's unit and time weights; SC weights from the paper's Table 7.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence.design import design_from_cohort_column
from evidence.panel import Panel, validate_panel
from evidence.results import ESTIMATE_COLUMNS
from evidence.synth import sdid, synthetic_control

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "prop99" / "california_prop99.csv"

SDID_UNIT_WEIGHTS = {  # synthdid README, summary(tau.hat)$controls (3 decimals)
    "Nevada": 0.124, "New Hampshire": 0.105, "Connecticut": 0.078, "Delaware": 0.070, "Colorado": 0.058,
    "Illinois": 0.053, "Nebraska": 0.048, "Montana": 0.045, "Utah": 0.042, "New Mexico": 0.041, "Minnesota": 0.039,
    "Wisconsin": 0.037, "West Virginia": 0.034, "North Carolina": 0.033, "Idaho": 0.031, "Ohio": 0.031,
    "Maine": 0.028, "Iowa": 0.026,
}
SDID_TIME_WEIGHTS = {"1988": 0.427, "1986": 0.366, "1987": 0.206}
SC_UNIT_WEIGHTS = {"Utah": 0.40, "Montana": 0.23, "Nevada": 0.20, "Connecticut": 0.10, "New Hampshire": 0.04, "Colorado": 0.01}
PUBLISHED = {"sdid": (-15.6, 8.4), "sc": (-19.6, 9.9), "did": (-27.3, 17.7)}


@pytest.fixture(scope="module")
def design():
    raw = pd.read_csv(FIXTURE, sep=";")
    assert raw.shape == (1209, 4) and raw["State"].nunique() == 39 and raw["Year"].nunique() == 31
    first = raw.loc[raw["treated"] == 1].groupby("State")["Year"].min()
    raw["first"] = raw["State"].map(first).fillna(0).astype(int)
    out, freq, _ = validate_panel(raw, name="prop99", unit="State", time="Year", outcomes=["PacksPerCapita"], outcome_kinds={"PacksPerCapita": "continuous"}, extra=["first"])
    panel = Panel(out, ["PacksPerCapita"], {"PacksPerCapita": "continuous"}, freq, source="prop99")
    return design_from_cohort_column(panel, "first", start=1970, end=2000, comparison="never_treated")


@pytest.fixture(scope="module")
def fits(design):
    return {
        "sdid": sdid(design, "PacksPerCapita", estimator="sdid", inference="placebo", draws=200, seed=0),
        "sc": sdid(design, "PacksPerCapita", estimator="sc", inference="none"),
        "did": sdid(design, "PacksPerCapita", estimator="did", inference="placebo", draws=200, seed=0),
    }


def _att(res) -> pd.Series:
    t = res.tidy()
    return t[(t["estimand"] == "att") & (t["group"] == "all")].iloc[0]


def test_design_is_california_1989(design):
    assert design.n_treated == 1 and design.n_comparison == 38
    assert design.cohort_labels == ["1989"]


@pytest.mark.parametrize("kind", ["sdid", "sc", "did"])
def test_point_estimates_match_table_1(fits, kind):
    assert _att(fits[kind])["estimate"] == pytest.approx(PUBLISHED[kind][0], abs=0.05)


def test_sdid_estimate_matches_readme_digits(fits):
    assert _att(fits["sdid"])["estimate"] == pytest.approx(-15.60383, abs=5e-4)


def test_sdid_unit_and_time_weights_match_readme(fits):
    res = fits["sdid"]
    w = res.weights_unit.set_index("unit")["weight"]
    for state, ref in SDID_UNIT_WEIGHTS.items():
        assert w[state] == pytest.approx(ref, abs=5e-4), state
    # the README lists the largest weights up to 90% of the mass (synthdid_controls, mass = 0.9): the same 18
    # states lead here, in the same order, and every other weight is smaller
    top = w.sort_values(ascending=False)
    assert list(top.index[: len(SDID_UNIT_WEIGHTS)]) == list(SDID_UNIT_WEIGHTS)
    assert top.iloc[len(SDID_UNIT_WEIGHTS) :].max() < 0.026
    lam = res.weights_time.set_index("period")["weight"]
    for year, ref in SDID_TIME_WEIGHTS.items():
        assert lam[year] == pytest.approx(ref, abs=5e-4), year
    assert lam.drop(list(SDID_TIME_WEIGHTS)).abs().max() < 1e-3
    # the README's effective numbers of controls and pre-periods: 1 / sum(w^2)
    assert res.details["effective_controls"]["1989"] == pytest.approx(16.388, abs=0.01)
    assert 1 / np.sum(lam.to_numpy() ** 2) == pytest.approx(2.783, abs=0.01)


def test_sc_weights_match_table_7(fits):
    # Table 7 is round(w, 3) printed by xtable with two decimals (sprintf "%.2f"): reproduce both steps
    w = fits["sc"].weights_unit.set_index("unit")["weight"]
    shown = {state: f"{round(v, 3):.2f}" for state, v in w.items()}
    for state, ref in SC_UNIT_WEIGHTS.items():
        assert shown[state] == f"{ref:.2f}", state
    assert all(shown[s] == "0.00" for s in w.index if s not in SC_UNIT_WEIGHTS)
    assert (fits["sc"].weights_time["weight"] == 0).all()


def test_did_weights_are_uniform(fits):
    assert np.allclose(fits["did"].weights_unit["weight"], 1 / 38)
    assert np.allclose(fits["did"].weights_time["weight"], 1 / 19)


@pytest.mark.parametrize("kind", ["sdid", "did"])  # SC's placebo SE (9.9) costs another 200 weight fits; not run here
def test_placebo_standard_errors_in_published_band(fits, kind):
    se = _att(fits[kind])["std_error"]
    assert abs(se / PUBLISHED[kind][1] - 1) < 0.35
    assert len(fits[kind].placebo) == 200


def test_tidy_contract_and_gap_rows(fits):
    t = fits["sdid"].tidy()
    assert list(t.columns) == ESTIMATE_COLUMNS
    assert set(t["method"]) == {"sdid"}
    gaps = t[t["estimand"] == "gap"]
    assert len(gaps) == 31 and gaps["event_time"].min() == -19 and gaps["event_time"].max() == 11
    # the ATT is the mean of the post-period gaps
    assert gaps.loc[gaps["event_time"] >= 0, "estimate"].mean() == pytest.approx(_att(fits["sdid"])["estimate"], abs=1e-10)
    assert {fits["sc"].method, fits["did"].method} == {"sc_sdid_form", "did_sdid_form"}


def test_classic_synthetic_control_on_prop99(design):
    res = synthetic_control(design, "PacksPerCapita")
    att = _att(res)
    # unregularised SC on the 19 pre-period outcomes: close to synthdid's sc_estimate (-19.6), same donors
    assert att["estimate"] == pytest.approx(-19.6, abs=0.2)
    w = res.weights_unit.set_index("unit")["weight"]
    assert set(w[w > 0.01].index) == {"Utah", "Montana", "Nevada", "Connecticut", "New Hampshire", "Colorado"}
    assert res.details["draws"] == 38 and res.placebo.shape == (38,)
    # placebo-in-space: California's post/pre RMSPE ratio is the largest or nearly so (ADH 2010 rank it first)
    assert res.details["p_value_rmspe_ratio"] <= 3 / 39
    assert res.pre_rmspe < 2.0
