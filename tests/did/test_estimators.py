"""2x2 DiD, TWFE and event study: against hand-computed values on a tiny panel and the truth of simulated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.did import did_2x2, event_study, twfe
from evidence.errors import EstimationError
from evidence.results import ESTIMATE_COLUMNS

from simdata import design_of, simulate_panel

# a tiny panel: 4 units x 4 months, units A and B treated from the third month, C and D never treated
Y = np.array(
    [
        [10.0, 12.0, 20.0, 23.0],  # A
        [8.0, 9.0, 15.0, 17.0],  # B
        [11.0, 12.0, 14.0, 13.0],  # C
        [7.0, 9.0, 10.0, 12.0],  # D
    ]
)


@pytest.fixture
def tiny():
    dates = pd.date_range("2017-01-01", periods=4, freq="MS").strftime("%Y-%m-%d")
    df = pd.DataFrame(
        {
            "area": np.repeat(list("ABCD"), 4),
            "month": np.tile(dates, 4),
            "y": Y.ravel(),
            "first": np.repeat(["2017-03-01", "2017-03-01", "0", "0"], 4),
        }
    )
    return design_of(df)


def test_did_2x2_tiny_by_hand(tiny):
    delta = Y[:, 2:].mean(axis=1) - Y[:, :2].mean(axis=1)  # post mean - pre mean per unit
    att = delta[:2].mean() - delta[2:].mean()
    G, n = 4, 4
    var = G / (G - 1) * (n - 1) / n * (((delta[:2] - delta[:2].mean()) ** 2).sum() / 4 + ((delta[2:] - delta[2:].mean()) ** 2).sum() / 4)
    res = did_2x2(tiny, "y")
    tidy = res.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS
    assert list(tidy["group"]) == ["2017-03", "all"]
    np.testing.assert_allclose(tidy["estimate"], [att, att], rtol=0, atol=1e-12)
    np.testing.assert_allclose(tidy["std_error"], [np.sqrt(var)] * 2, rtol=1e-12)
    assert att == pytest.approx(9.0 - 2.5)  # changes 10.5, 7.5 (treated) and 2, 3 (comparison)
    # t with G - 1 = 3 degrees of freedom
    from scipy import stats

    crit = stats.t(3).ppf(0.975)
    np.testing.assert_allclose(tidy["ci_upper"], att + crit * np.sqrt(var), rtol=1e-12)


def test_twfe_tiny_equals_block_did_and_hand_sandwich(tiny):
    res = twfe(tiny, "y").tidy().iloc[0]
    # with one treatment date, TWFE equals the difference in differences of pre/post means
    att = (Y[:2, 2:].mean() - Y[:2, :2].mean()) - (Y[2:, 2:].mean() - Y[2:, :2].mean())
    assert res["estimate"] == pytest.approx(att, abs=1e-10)
    # cluster-robust sandwich on the two-way demeaned regressor, clusters = units
    D = np.zeros((4, 4))
    D[:2, 2:] = 1
    dd = D - D.mean(1, keepdims=True) - D.mean(0, keepdims=True) + D.mean()
    yy = Y - Y.mean(1, keepdims=True) - Y.mean(0, keepdims=True) + Y.mean()
    b = (dd * yy).sum() / (dd**2).sum()
    e = yy - b * dd
    scores = (dd * e).sum(axis=1)
    var = 4 / 3 * 15 / 16 * (scores**2).sum() / ((dd**2).sum() ** 2)  # G/(G-1)·(n-1)/n
    assert res["std_error"] == pytest.approx(np.sqrt(var), rel=1e-8)
    assert res["n_obs"] == 16 and res["n_units"] == 4 and res["n_clusters"] == 4


def test_log_outcome_needs_positive_values(tiny):
    tiny.panel.data.loc[0, "y"] = 0.0
    with pytest.raises(EstimationError, match="cannot be logged"):
        did_2x2(tiny, "y", log=True)


def test_unknown_outcome_is_named(tiny):
    with pytest.raises(EstimationError, match="outcome 'visits'"):
        twfe(tiny, "visits")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_constant_effect_recovered_on_simulated_data(seed):
    df = simulate_panel(n_units=60, n_periods=24, cohorts={10: 30}, effect=2.0, noise=1.0, seed=seed)
    d = design_of(df)
    for res in (did_2x2(d, "y"), twfe(d, "y")):
        row = res.tidy().iloc[-1]
        # the truth is inside the interval and the estimate within 4 standard errors
        assert abs(row["estimate"] - 2.0) < 4 * row["std_error"]
        assert row["std_error"] < 0.5


@pytest.mark.parametrize("estimator,reps,band", [(did_2x2, 200, (0.90, 0.99)), (twfe, 60, (0.85, 1.0))])
def test_simulated_coverage_is_near_nominal(estimator, reps, band):
    # simulated panels with a constant effect of 1: the 95% interval covers the truth about 95% of the time
    # (the design is built once and only the outcome is redrawn; bands allow for Monte Carlo error)
    df = simulate_panel(n_units=30, n_periods=12, cohorts={6: 15}, effect=1.0, noise=0.0, seed=999)
    design = design_of(df)
    mean = design.panel.data["y"].to_numpy().copy()  # unit and period effects plus the effect, no noise
    rng = np.random.default_rng(1000)
    covered, ests, ses = 0, [], []
    for _ in range(reps):
        design.panel.data["y"] = mean + rng.normal(0, 1, mean.size)
        row = estimator(design, "y").tidy().iloc[-1]
        covered += row["ci_lower"] <= 1.0 <= row["ci_upper"]
        ests.append(row["estimate"])
        ses.append(row["std_error"])
    assert band[0] <= covered / reps <= band[1]
    # two-sided: the reported standard error matches the Monte Carlo spread of the estimates (an SE twice too large,
    # or half as large, fails; the band allows for the Monte Carlo error of the spread with this many replications)
    ratio = float(np.mean(ses) / np.std(ests, ddof=1))
    assert 0.75 < ratio < 1.33, ratio


def test_event_study_recovers_dynamic_effects_single_cohort():
    # one cohort, never-treated controls: the TWFE event study is unbiased for effects that grow with event time
    df = simulate_panel(n_units=80, n_periods=20, cohorts={10: 40}, effect=lambda e, g: 0.5 * (e + 1), noise=0.5, seed=7)
    res = event_study(design_of(df), "y", window=(-5, 5))
    tidy = res.tidy().set_index("event_time")
    for e in range(0, 5):
        assert abs(tidy.loc[e, "estimate"] - 0.5 * (e + 1)) < 4 * tidy.loc[e, "std_error"]
    for e in (-5, -4, -3, -2):
        assert abs(tidy.loc[e, "estimate"]) < 4 * tidy.loc[e, "std_error"]
    assert -1 not in tidy.index
    assert res.details["pretest"]["p_value"] > 0.001


def test_event_study_pretest_detects_a_violation():
    # treated units on a steeper trend before treatment: the lead test must reject
    df = simulate_panel(n_units=80, n_periods=20, cohorts={10: 40}, effect=0.0, noise=0.3, seed=3)
    g = df["first"] != "0"
    t = df.groupby("area").cumcount()
    df.loc[g, "y"] += 0.3 * t[g]
    res = event_study(design_of(df), "y", window=(-6, 6))
    assert res.details["pretest"]["p_value"] < 0.01


def test_2x2_needs_untreated_units():
    df = simulate_panel(n_units=20, n_periods=12, cohorts={4: 10, 8: 10}, effect=1.0)
    with pytest.raises(EstimationError, match="untreated throughout the window"):
        did_2x2(design_of(df), "y")


def test_clusters_by_region_reduce_clusters():
    df = simulate_panel(n_units=40, n_periods=12, cohorts={6: 20}, effect=1.0)
    d = design_of(df, cluster="region")
    row = twfe(d, "y").tidy().iloc[0]
    assert row["n_clusters"] == 8


def test_summary_and_plot_return_text_and_axes(tiny):
    import matplotlib

    matplotlib.use("Agg")
    res = event_study(tiny, "y", window=(-2, 1))
    assert "twfe_event_study" in res.summary()
    ax = res.plot()
    assert ax.get_xlabel().startswith("periods since designation")  # the panel's units (months since designation in a run)
    ax2 = did_2x2(tiny, "y").plot()
    assert ax2 is not None


def test_numpy_engine_equals_panelols_on_real_and_simulated_designs():
    from evidence.params import load_params
    from evidence.pipeline import prepare

    _, real = prepare(load_params("params/waves_1_2_2016_2019.yaml"))
    sim = design_of(simulate_panel(n_units=50, n_periods=20, cohorts={6: 15, 12: 10}, effect=lambda e, g: 1 + 0.1 * e, seed=4), cluster="region")
    for d, o in ((real, "admissions"), (sim, "y")):
        a, b = twfe(d, o, engine="linearmodels").tidy(), twfe(d, o, engine="numpy").tidy()
        np.testing.assert_allclose(a[["estimate", "std_error", "p_value"]].to_numpy(), b[["estimate", "std_error", "p_value"]].to_numpy(), rtol=1e-10, atol=1e-12)
        ea, eb = event_study(d, o, engine="linearmodels", window=(-6, 6)).tidy(), event_study(d, o, engine="numpy", window=(-6, 6)).tidy()
        np.testing.assert_allclose(ea[["estimate", "std_error"]].to_numpy(), eb[["estimate", "std_error"]].to_numpy(), rtol=1e-9, atol=1e-12)
