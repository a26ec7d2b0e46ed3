"""Time-varying controls (data.controls) in TWFE, the event study and Sun-Abraham against peer implementations:
pyfixest ``feols`` (fixest's algorithm in Python) and linearmodels ``PanelOLS`` with exogenous regressors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.design import design_from_cohort_column
from evidence.did import event_study, twfe
from evidence.errors import DataError, EstimationError
from evidence.panel import Panel, validate_panel
from evidence.staggered import sun_abraham

from simdata import simulate_panel

pf = pytest.importorskip("pyfixest")


def _design(df: pd.DataFrame, controls: list[str]):
    out, freq, _ = validate_panel(df, name="sim", unit="area", time="month", outcomes=["y"], outcome_kinds={"y": "continuous"}, controls=controls, extra=["first"])
    panel = Panel(out, ["y"], {"y": "continuous"}, freq, source="sim", controls=controls)
    return design_from_cohort_column(panel, "first", start=panel.period_labels[0], end=panel.period_labels[-1])


@pytest.fixture(scope="module")
def data():
    """SYNTHETIC staggered panel with two time-varying controls correlated with treatment (so omitting them biases)."""
    df = simulate_panel(n_units=60, n_periods=20, cohorts={8: 15, 13: 15}, effect=2.0, seed=11)
    rng = np.random.default_rng(12)
    t = df.groupby("area").cumcount().to_numpy()
    treated = (df["tau"] != 0).to_numpy()
    df["x1"] = 0.3 * t + 1.5 * treated + rng.normal(0, 1, len(df))
    df["x2"] = rng.normal(0, 1, len(df)) + (df["area"].str[1:].astype(int) % 3) * 0.1 * t
    df["y"] = df["y"] + 0.8 * df["x1"] - 0.5 * df["x2"]
    return df


def _fixest_frame(design, df):
    d = df.copy()
    d["unit"] = d["area"]
    d["tt"] = d.groupby("area").cumcount()
    d["D"] = design.treatment_matrix().ravel()
    return d


def test_twfe_with_controls_equals_pyfixest_and_panelols(data):
    d = _design(data, ["x1", "x2"])
    ours = twfe(d, "y", controls=["x1", "x2"], engine="numpy").tidy().iloc[0]
    lm = twfe(d, "y", controls=["x1", "x2"], engine="linearmodels").tidy().iloc[0]
    fx = pf.feols("y ~ D + x1 + x2 | unit + tt", data=_fixest_frame(d, data), vcov={"CRV1": "unit"})
    assert ours["estimate"] == pytest.approx(float(fx.coef()["D"]), abs=1e-8)
    assert lm["estimate"] == pytest.approx(ours["estimate"], abs=1e-10) and lm["std_error"] == pytest.approx(ours["std_error"], rel=1e-8)
    # SEs: pyfixest's CRV1 with G/(G-1) and without its k-adjustment (ssc(k_adj=False, G_adj=True)), times the
    # package's (n-1)/n convention (linearmodels' group_debias, count_effects=False)
    fx0 = pf.feols("y ~ D + x1 + x2 | unit + tt", data=_fixest_frame(d, data), vcov={"CRV1": "unit"}, ssc=pf.ssc(k_adj=False, G_adj=True))
    n = len(data)
    assert ours["std_error"] == pytest.approx(float(fx0.se()["D"]) * np.sqrt((n - 1) / n), rel=1e-9)
    # omitting the controls moves the estimate away from the truth (2.0): the controls matter in this design
    plain = twfe(d, "y", engine="numpy").tidy().iloc[0]["estimate"]
    assert abs(ours["estimate"] - 2.0) < abs(plain - 2.0)


def test_event_study_with_controls_equals_pyfixest(data):
    d = _design(data, ["x1", "x2"])
    es = event_study(d, "y", window=(-5, 5), controls=["x1", "x2"]).tidy()
    es = es[es["estimand"] == "event_time"].set_index("event_time")["estimate"]
    f = _fixest_frame(d, data)
    e = d.event_time().ravel()
    eb = np.clip(e, -5, 5)
    for k in es.index:
        f[f"ev{int(k) + 10}"] = (eb == k).astype(float)
    rhs = " + ".join(f"ev{int(k) + 10}" for k in es.index)
    fx = pf.feols(f"y ~ {rhs} + x1 + x2 | unit + tt", data=f, vcov={"CRV1": "unit"})
    got = np.array([float(fx.coef()[f"ev{int(k) + 10}"]) for k in es.index])
    np.testing.assert_allclose(es.to_numpy(), got, atol=1e-8)


def test_sun_abraham_with_controls_equals_the_saturated_pyfixest_regression(data):
    d = _design(data, ["x1"])
    sa = sun_abraham(d, "y", controls=["x1"])
    cells, coef = sa.details["cells"], sa.details["coef"]
    f = _fixest_frame(d, data)
    g = np.repeat(d.g, d.panel.n_periods)
    tt = f["tt"].to_numpy()
    names = []
    for j, (c, l) in enumerate(cells):
        name = f"c{j}"
        f[name] = ((g == c) & (tt - g == l)).astype(float)
        names.append(name)
    fx = pf.feols(f"y ~ {' + '.join(names)} + x1 | unit + tt", data=f, vcov={"CRV1": "unit"})
    np.testing.assert_allclose(coef, [float(fx.coef()[n]) for n in names], atol=1e-8)
    assert sa.details["controls"] == ["x1"]
    # cell standard errors: pyfixest CRV1 with ssc(k_adj=False, G_adj=True) times the package's (n-1)/n (dropping
    # the small-sample factor fails here)
    fx0 = pf.feols(f"y ~ {' + '.join(names)} + x1 | unit + tt", data=f, vcov={"CRV1": "unit"}, ssc=pf.ssc(k_adj=False, G_adj=True))
    n = len(f)
    np.testing.assert_allclose(np.sqrt(np.diag(sa.details["vcov"])), fx0.se()[names].to_numpy() * np.sqrt((n - 1) / n), rtol=1e-8)


def test_bad_controls_are_named_in_one_line(data):
    df = data.copy()
    df["const_in_unit"] = df["area"].str[1:].astype(float)
    with pytest.raises(DataError, match="control column 'const_in_unit' .*absorb it"):
        _design(df, ["const_in_unit"])
    df["time_only"] = df.groupby("area").cumcount().astype(float)
    d = _design(df, ["time_only"])
    with pytest.raises(EstimationError, match="control 'time_only' .*absorbed by the unit and period effects"):
        twfe(d, "y", controls=["time_only"], engine="numpy")
    df["x1_copy"] = df["x1"] * 2.0
    d = _design(df, ["x1", "x1_copy"])
    with pytest.raises(EstimationError, match="collinear"):
        twfe(d, "y", controls=["x1", "x1_copy"], engine="numpy")


def test_imputation_with_controls_equals_a_pyfixest_first_stage_and_the_dense_bjs_variance(data):
    from evidence.staggered import imputation

    d = _design(data, ["x1", "x2"])
    res = imputation(d, "y", controls=["x1", "x2"]).tidy()
    simple = res[res["estimand"] == "simple"].iloc[0]
    f = _fixest_frame(d, data)
    g = np.repeat(d.g, d.panel.n_periods)
    treated = f["tt"].to_numpy() >= g
    # peer first stage: unit and period effects and the controls fitted by pyfixest on the untreated observations
    fs = pf.feols("y ~ x1 + x2 | unit + tt", data=f[~treated], vcov="iid")
    y0 = fs.predict(newdata=f[treated])
    assert simple["estimate"] == pytest.approx(float(np.mean(f.loc[treated, "y"].to_numpy() - y0)), abs=1e-8)
    # the conservative variance from dense matrices: v0 = -R0 (R0'R0)^-1 R1'w1, R = [unit dummies, period dummies, X]
    N, T = d.panel.n_units, d.panel.n_periods
    unit = np.repeat(np.arange(N), T)
    tt = np.tile(np.arange(T), N)
    R = np.column_stack([np.eye(N)[unit], np.eye(T)[tt][:, 1:], f[["x1", "x2"]].to_numpy()])
    R0, R1 = R[~treated], R[treated]
    w1 = np.full(treated.sum(), 1 / treated.sum())
    gamma = np.linalg.lstsq(R0, f.loc[~treated, "y"].to_numpy(), rcond=None)[0]
    v0 = -R0 @ np.linalg.solve(R0.T @ R0, R1.T @ w1)
    tau = f.loc[treated, "y"].to_numpy() - R1 @ gamma
    assert simple["estimate"] == pytest.approx(float(w1 @ tau), abs=1e-8)
    cell = g[treated] * 100 + (f.loc[treated, "tt"].to_numpy() - g[treated])
    tbar = pd.Series(w1 * tau).groupby(cell).sum() / pd.Series(w1).groupby(cell).sum()
    e1 = tau - tbar.loc[cell].to_numpy()
    e0 = f.loc[~treated, "y"].to_numpy() - R0 @ gamma
    contrib = np.bincount(unit[~treated], v0 * e0, N) + np.bincount(unit[treated], w1 * e1, N)
    assert simple["std_error"] == pytest.approx(float(np.sqrt((contrib**2).sum())), rel=1e-8)


def test_2x2_regression_form_with_controls_equals_pyfixest_per_cohort_and_the_means_form_without(data):
    from evidence.did import did_2x2
    from evidence.did.estimators import _did_2x2_regression

    d = _design(data, ["x1", "x2"])
    res = did_2x2(d, "y", controls=["x1", "x2"]).tidy()
    f = _fixest_frame(d, data)
    g = np.repeat(d.g, d.panel.n_periods)
    for c in np.unique(d.g[np.isfinite(d.g)]).astype(int):
        sub = f[(g == c) | ~np.isfinite(g)].copy()
        fx = pf.feols("y ~ D + x1 + x2 | unit + tt", data=sub, vcov={"CRV1": "unit"})
        row = res[res["group"] == d.panel.period_labels[c]].iloc[0]
        assert row["estimate"] == pytest.approx(float(fx.coef()["D"]), abs=1e-8)
    # without controls the regression form is the comparison of means (points), cohort by cohort and overall
    means = did_2x2(d, "y").tidy()
    reg = _did_2x2_regression(d, "y", log=False, alpha=0.05, controls=[]).tidy()
    np.testing.assert_allclose(reg["estimate"].to_numpy(), means["estimate"].to_numpy(), atol=1e-10)
