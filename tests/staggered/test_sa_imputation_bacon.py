"""Sun-Abraham, imputation and the Goodman-Bacon decomposition: references, identities and simulated truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence.data.user import load_user_panel
from evidence.design import design_from_cohort_column
from evidence.did import twfe
from evidence.errors import EstimationError
from evidence.staggered import cs
from evidence.staggered.bacon import bacon_decomposition
from evidence.staggered.imputation import imputation
from evidence.staggered.sun_abraham import sun_abraham
from simdata import design_of, simulate_panel

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "did_mpdta"


@pytest.fixture(scope="module")
def mpdta():
    p = load_user_panel(FIX / "mpdta.csv", unit="countyreal", time="year", outcomes=["lemp"], outcome_kinds={"lemp": "continuous"}, treatment_columns=["first.treat"])
    return design_from_cohort_column(p, "first.treat", start=2003, end=2007, comparison="never_treated")


def test_sun_abraham_post_periods_equal_r_did_dynamic_on_mpdta(mpdta):
    # without covariates and with never-treated controls, the saturated Sun-Abraham post-treatment estimates are the
    # Callaway-Sant'Anna dynamic aggregation (R did 2.5.1, tests/fixtures/did_mpdta/r_did_2.5.1_aggte.csv)
    ref = pd.read_csv(FIX / "r_did_2.5.1_aggte.csv")
    ref = ref[(ref["type"] == "dynamic") & (ref["egt"] >= 0)].set_index("egt")["att_egt"]
    sa = sun_abraham(mpdta, "lemp").tidy()
    dyn = sa[sa["estimand"] == "dynamic"].set_index("event_time")["estimate"]
    for e, v in ref.items():
        assert dyn.loc[int(e)] == pytest.approx(v, abs=1e-10)


def test_sun_abraham_cohort_effects_are_2x2s_against_never_treated(mpdta):
    y = mpdta.panel.matrix("lemp")
    g = mpdta.g
    sa = sun_abraham(mpdta, "lemp").tidy()
    row = sa[(sa["estimand"] == "cohort_event") & (sa["group"] == "2006") & (sa["event_time"] == 1)].iloc[0]
    c = 3  # 2006 is period index 3
    never = ~np.isfinite(g)
    manual = (y[g == c, 4] - y[g == c, 2]).mean() - (y[never, 4] - y[never, 2]).mean()
    assert row["estimate"] == pytest.approx(manual, abs=1e-12)


def test_bacon_weights_sum_to_one_and_reproduce_twfe():
    df = simulate_panel(n_units=120, n_periods=24, cohorts={8: 40, 14: 30, 18: 20}, effect=lambda e, g: 1.0 + 0.2 * e, noise=0.5, seed=3)
    d = design_of(df)
    b = bacon_decomposition(d, "y")
    c = b.components()
    assert c["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (c["weight"] >= 0).all()
    tw = twfe(d, "y").tidy()["estimate"].iloc[0]
    assert (c["weight"] * c["estimate"]).sum() == pytest.approx(tw, abs=1e-10)
    assert set(c["type"]) == {"treated vs never treated", "earlier vs later treated", "later vs earlier treated"}
    assert len(c) == 3 + 2 * 3  # three cohorts vs never treated, three pairs each way
    tidy = b.tidy()
    assert tidy.loc[tidy["estimand"] == "twfe_weighted_sum", "estimate"].iloc[0] == pytest.approx(tw, abs=1e-10)


def test_bacon_on_mpdta_reproduces_twfe(mpdta):
    b = bacon_decomposition(mpdta, "lemp")
    assert (b.components()["weight"] * b.components()["estimate"]).sum() == pytest.approx(twfe(mpdta, "lemp").tidy()["estimate"].iloc[0], abs=1e-10)
    assert b.twfe == pytest.approx(-0.0365, abs=5e-4)  # the well-known mpdta TWFE estimate


def test_imputation_matches_dense_least_squares():
    df = simulate_panel(n_units=30, n_periods=10, cohorts={4: 10, 7: 10}, effect=lambda e, g: 1 + e, noise=1.0, seed=11)
    d = design_of(df)
    res = imputation(d, "y")
    y, g = d.panel.matrix("y"), d.g
    N, T = y.shape
    t = np.arange(T)
    untreated = ~(np.isfinite(g)[:, None] & (t[None, :] >= g[:, None]))
    ui, ti = np.nonzero(untreated)
    Z = np.zeros((ui.size, N + T - 1))
    Z[np.arange(ui.size), ui] = 1
    Z[np.arange(ui.size)[ti > 0], N + ti[ti > 0] - 1] = 1
    coef = np.linalg.lstsq(Z, y[ui, ti], rcond=None)[0]
    a, lam = coef[:N], np.concatenate([[0], coef[N:]])
    tau = (y - a[:, None] - lam[None, :])[~untreated]
    row = res.tidy().query("estimand == 'simple'").iloc[0]
    assert row["estimate"] == pytest.approx(tau.mean(), abs=1e-10)


def test_imputation_exact_without_noise():
    df = simulate_panel(n_units=20, n_periods=12, cohorts={5: 5, 8: 5}, effect=lambda e, g: 2.0 + 0.5 * e, noise=0.0, seed=2)
    res = imputation(design_of(df), "y").tidy()
    dyn = res[res["estimand"] == "dynamic"].set_index("event_time")["estimate"]
    for e in range(0, 4):
        assert dyn.loc[e] == pytest.approx(2.0 + 0.5 * e, abs=1e-9)


def test_heterogeneous_dynamic_effects_bias_twfe_but_not_the_robust_estimators():
    # effects grow with event time and differ by cohort: TWFE's forbidden comparisons bias it downwards, while
    # Callaway-Sant'Anna, Sun-Abraham and imputation target the average effect on the treated (mean over treated unit-periods)
    est = {"twfe": [], "cs": [], "sun_abraham": [], "imputation": []}
    truth = []
    for s in range(20):
        df = simulate_panel(n_units=90, n_periods=20, cohorts={5: 30, 10: 30}, effect=lambda e, g: 1.0 + 0.3 * e + 1.0 * (g == 10), noise=0.5, seed=100 + s)
        d = design_of(df)
        truth.append(df.loc[df["tau"] != 0, "tau"].mean())
        est["twfe"].append(twfe(d, "y").tidy()["estimate"].iloc[0])
        est["cs"].append(cs(d, "y", control_group="never_treated").aggregate("simple").overall.estimate)
        est["sun_abraham"].append(sun_abraham(d, "y").tidy().query("estimand == 'simple'")["estimate"].iloc[0])
        est["imputation"].append(imputation(d, "y").tidy().query("estimand == 'simple'")["estimate"].iloc[0])
    bias = {k: float(np.mean(np.array(v) - np.array(truth))) for k, v in est.items()}
    assert bias["twfe"] < -0.4  # about -0.55 against an average effect of 3.2
    assert abs(bias["cs"]) < 0.05
    assert abs(bias["sun_abraham"]) < 0.05
    assert abs(bias["imputation"]) < 0.05


def test_imputation_coverage_is_at_least_nominal():
    # BJS variance is conservative: coverage at or above 95% (allowing for Monte Carlo error)
    d = design_of(simulate_panel(n_units=40, n_periods=10, cohorts={4: 10, 7: 10}, effect=0.0, noise=0.0, seed=5))
    mean = d.panel.data["y"].to_numpy().copy()
    truth_shift = np.where(np.isfinite(d.g)[:, None] & (np.arange(10)[None, :] >= d.g[:, None]), 1.0, 0.0).ravel()
    rng = np.random.default_rng(9)
    cover, ests, ses = 0, [], []
    for _ in range(200):
        d.panel.data["y"] = mean + truth_shift + rng.normal(0, 1, mean.size)
        r = imputation(d, "y").tidy().query("estimand == 'simple'").iloc[0]
        cover += r["ci_lower"] <= 1.0 <= r["ci_upper"]
        ests.append(r["estimate"])
        ses.append(r["std_error"])
    assert cover / 200 >= 0.91
    # two-sided: with a constant effect the conservative variance is not conservative, so the reported SE matches the
    # Monte Carlo spread (an SE twice too large fails)
    ratio = float(np.mean(ses) / np.std(ests, ddof=1))
    assert 0.8 < ratio < 1.25, ratio


def test_sun_abraham_needs_a_control_group():
    df = simulate_panel(n_units=20, n_periods=12, cohorts={4: 10, 8: 10}, effect=1.0)
    with pytest.raises(EstimationError, match="last_cohort"):
        sun_abraham(design_of(df), "y")
    res = sun_abraham(design_of(df), "y", control="last_cohort").tidy()
    assert set(res.query("estimand == 'cohort_event'")["group"]) == {"2016-08"}  # only the first cohort is estimated


@pytest.mark.parametrize(
    ("cohorts", "control", "cluster"),
    [({8: 10, 14: 10}, "never_treated", None), ({8: 10, 14: 10, 20: 5}, "last_cohort", "region"), ({0: 4, 3: 7, 22: 3}, "never_treated", "region")],
)
def test_sun_abraham_closed_form_equals_the_regression(cohorts, control, cluster):
    """The balanced closed form (cohort sizes and cohort x period sums) equals the materialised saturated regression:
    every cohort x event-time coefficient, the cluster-robust covariance, and so every reported row. The third case
    has a cohort treated in the first period (no reference period) and one treated in the last period."""
    d = design_of(simulate_panel(60, 24, cohorts, effect=lambda e, g: 1.0 + 0.1 * e, seed=5), cluster=cluster)
    fast, dense = sun_abraham(d, "y", control=control), sun_abraham(d, "y", control=control, _dense=True)
    np.testing.assert_allclose(fast.details["coef"], dense.details["coef"], rtol=0, atol=1e-11)
    np.testing.assert_allclose(fast.details["vcov"], dense.details["vcov"], rtol=1e-9, atol=1e-14)
    a, b = fast.tidy(), dense.tidy()
    np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-11)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-9)


def test_imputation_fixed_effects_solver_equals_the_sparse_lu():
    """The Schur-complement solve of the unit + period normal equations equals scipy's sparse LU of the same system,
    with units and a period that have no untreated cell (their effects pinned at 0), for one and many right-hand sides."""
    from scipy.sparse.linalg import splu

    from evidence.staggered.imputation import _fe_system, _FESolver

    rng = np.random.default_rng(0)
    N, T = 300, 12
    untreated = rng.random((N, T)) < 0.7
    untreated[:3] = False
    untreated[:, 4] = False
    rhs = rng.normal(size=(N + T - 1, 5))
    rhs[:3] = 0.0
    rhs[N + 3] = 0.0
    lu, fe = splu(_fe_system(untreated)[0]), _FESolver(untreated)
    np.testing.assert_allclose(fe.solve(rhs), lu.solve(rhs), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fe.solve(rhs[:, 0]), lu.solve(rhs[:, 0]), rtol=0, atol=1e-12)
