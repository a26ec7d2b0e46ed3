"""Unbalanced panels (``data.missing: allow``): every estimator that uses the available cells against a peer on
the same observed rows — pyfixest ``feols``/``fepois`` (fixest's algorithm), linearmodels ``PanelOLS`` — and the
2x2 against the comparison of cell means it is defined as. SYNTHETIC panels with rows deleted and outcome values
blanked at random (seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.design import design_from_cohort_column
from evidence.did import did_2x2, event_study, poisson_twfe, twfe
from evidence.errors import DataError, EstimationError
from evidence.panel import Panel, validate_panel
from evidence.staggered import imputation, sun_abraham

from simdata import simulate_panel

pf = pytest.importorskip("pyfixest")


def _holes(df: pd.DataFrame, seed: int, drop: float = 0.08, blank: float = 0.04) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = df[rng.random(len(df)) > drop].copy()
    out.loc[rng.random(len(out)) < blank, "y"] = np.nan
    return out


def _design(df: pd.DataFrame, controls: list[str] | None = None, kind: str = "continuous"):
    out, freq, notes = validate_panel(df, name="sim.csv", unit="area", time="month", outcomes=["y"], outcome_kinds={"y": kind}, controls=controls, extra=["first"], balance="allow")
    panel = Panel(out, ["y"], {"y": kind}, freq, source="sim", controls=list(controls or []), notes=notes)
    return design_from_cohort_column(panel, "first", start=panel.period_labels[0], end=panel.period_labels[-1])


@pytest.fixture(scope="module")
def data():
    """SYNTHETIC staggered panel (60 units x 20 months, cohorts at months 8 and 13, effect 2) with a control, then
    8% of rows deleted and 4% of the remaining outcomes blanked."""
    df = simulate_panel(n_units=60, n_periods=20, cohorts={8: 15, 13: 15}, effect=2.0, seed=21)
    rng = np.random.default_rng(22)
    t = df.groupby("area").cumcount().to_numpy()
    df["x1"] = 0.3 * t + 1.5 * (df["tau"] != 0).to_numpy() + rng.normal(0, 1, len(df))
    df["y"] = df["y"] + 0.8 * df["x1"]
    return _holes(df, seed=23)


def _frame(design) -> pd.DataFrame:
    """The observed rows as a peer sees them (unit, period index, treatment, outcome, controls)."""
    p = design.panel.data
    N, T = design.panel.n_units, design.panel.n_periods
    f = pd.DataFrame({"unit": np.repeat(np.arange(N), T), "tt": np.tile(np.arange(T), N), "D": design.treatment_matrix().ravel(), "y": p["y"].to_numpy()})
    for c in design.panel.controls:
        f[c] = p[c].to_numpy()
    return f


def test_validation_completes_the_grid_and_reports_missing_cells(data):
    d = _design(data)
    assert d.panel.n_units * d.panel.n_periods == len(d.panel.data)
    n_missing = int(d.panel.data["y"].isna().sum())
    assert n_missing > 0
    text = " ".join(d.panel.notes)
    assert "Completed the unit x period grid (data.missing: allow)" in text
    assert f"Missing outcome cells (data.missing: allow): {n_missing} of {len(d.panel.data)}" in text
    # error mode keeps its message and names the parameter
    with pytest.raises(DataError, match="data.missing: drop_units"):
        validate_panel(data, name="sim.csv", unit="area", time="month", outcomes=["y"], extra=["first"])


def test_twfe_on_the_unbalanced_panel_equals_pyfixest_and_panelols(data):
    d = _design(data, ["x1"])
    ours = twfe(d, "y", controls=["x1"], engine="numpy")
    lm = twfe(d, "y", controls=["x1"], engine="linearmodels").tidy().iloc[0]
    row = ours.tidy().iloc[0]
    f = _frame(d).dropna()
    fx = pf.feols("y ~ D + x1 | unit + tt", data=f, vcov={"CRV1": "unit"}, ssc=pf.ssc(k_adj=False, G_adj=True), fixef_tol=1e-12)
    assert row["estimate"] == pytest.approx(float(fx.coef()["D"]), abs=1e-8)
    n = len(f)
    assert row["n_obs"] == n
    assert row["std_error"] == pytest.approx(float(fx.se()["D"]) * np.sqrt((n - 1) / n), rel=1e-8)
    assert lm["estimate"] == pytest.approx(row["estimate"], abs=1e-10) and lm["std_error"] == pytest.approx(row["std_error"], rel=1e-8)
    assert "Unbalanced panel (data.missing: allow)" in ours.details["missing"]


def test_event_study_and_sun_abraham_on_the_unbalanced_panel_equal_pyfixest(data):
    d = _design(data)
    es = event_study(d, "y", window=(-5, 5)).tidy()
    es = es[es["estimand"] == "event_time"].set_index("event_time")
    f = _frame(d)
    eb = np.clip(d.event_time().ravel(), -5, 5)
    for k in es.index:
        f[f"ev{int(k) + 10}"] = (eb == k).astype(float)
    f = f.dropna(subset=["y"])
    rhs = " + ".join(f"ev{int(k) + 10}" for k in es.index)
    fx = pf.feols(f"y ~ {rhs} | unit + tt", data=f, vcov={"CRV1": "unit"}, ssc=pf.ssc(k_adj=False, G_adj=True), fixef_tol=1e-12)
    n = len(f)
    np.testing.assert_allclose(es["estimate"].to_numpy(), [float(fx.coef()[f"ev{int(k) + 10}"]) for k in es.index], atol=1e-8)
    np.testing.assert_allclose(es["std_error"].to_numpy(), [float(fx.se()[f"ev{int(k) + 10}"]) * np.sqrt((n - 1) / n) for k in es.index], rtol=1e-8)

    sa = sun_abraham(d, "y")
    f = _frame(d)
    g = np.repeat(d.g, d.panel.n_periods)
    names = []
    for j, (c, l) in enumerate(sa.details["cells"]):
        f[f"c{j}"] = ((g == c) & (f["tt"].to_numpy() - g == l)).astype(float)
        names.append(f"c{j}")
    f = f.dropna(subset=["y"])
    fx = pf.feols(f"y ~ {' + '.join(names)} | unit + tt", data=f, vcov={"CRV1": "unit"}, ssc=pf.ssc(k_adj=False, G_adj=True), fixef_tol=1e-12)
    np.testing.assert_allclose(sa.details["coef"], [float(fx.coef()[c]) for c in names], atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(sa.details["vcov"])), fx.se()[names].to_numpy() * np.sqrt((len(f) - 1) / len(f)), rtol=1e-8)


def test_imputation_on_the_unbalanced_panel_equals_a_pyfixest_first_stage(data):
    d = _design(data, ["x1"])
    res = imputation(d, "y", controls=["x1"])
    simple = res.tidy().query("estimand == 'simple'").iloc[0]
    f = _frame(d).dropna(subset=["y"])
    g = d.g[f["unit"].to_numpy()]
    treated = f["tt"].to_numpy() >= g
    fs = pf.feols("y ~ x1 | unit + tt", data=f[~treated], vcov="iid", fixef_tol=1e-12)
    assert res.details["control_coef"]["x1"] == pytest.approx(float(fs.coef()["x1"]), abs=1e-8)
    # the imputed untreated outcomes from the dense least-squares first stage (unit and period dummies and x1)
    N, T = d.panel.n_units, d.panel.n_periods
    R = np.column_stack([np.eye(N)[f["unit"]], np.eye(T)[f["tt"]][:, 1:], f[["x1"]].to_numpy()])
    gamma = np.linalg.lstsq(R[~treated], f.loc[~treated, "y"].to_numpy(), rcond=None)[0]
    assert simple["estimate"] == pytest.approx(float(np.mean(f.loc[treated, "y"].to_numpy() - R[treated] @ gamma)), abs=1e-8)
    assert simple["n_obs"] == len(f)
    # and it still recovers the known effect (2) on the observed cells
    assert abs(simple["estimate"] - 2.0) < 3 * simple["std_error"]


def test_2x2_on_available_cells_is_the_comparison_of_cell_means(data):
    d = _design(data)
    res = did_2x2(d, "y")
    t = res.tidy().set_index("group")
    f = _frame(d).dropna(subset=["y"])
    g = d.g[f["unit"].to_numpy()]
    ctrl = ~np.isfinite(g)
    for c in np.unique(d.g[np.isfinite(d.g)]).astype(int):
        post = f["tt"].to_numpy() >= c
        m = lambda sel: float(f.loc[sel, "y"].mean())  # noqa: E731
        want = (m((g == c) & post) - m((g == c) & ~post)) - (m(ctrl & post) - m(ctrl & ~post))
        assert t.loc[d.panel.period_labels[c], "estimate"] == pytest.approx(want, abs=1e-10)
    assert "available cells" in res.details["missing"]
    # on a balanced panel the available-cells form and the pre/post means form are the same estimator
    from evidence.did.estimators import _did_2x2_cells

    full = _design(simulate_panel(n_units=40, n_periods=12, cohorts={6: 10}, effect=1.0, seed=5))
    a = did_2x2(full, "y").tidy()
    y = full.panel.matrix("y")
    b = _did_2x2_cells(full, y, "y", alpha=0.05).tidy()
    np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-10)


def test_poisson_twfe_on_the_unbalanced_panel_equals_pyfixest_fepois():
    from simdata import cohort_index, count_design

    rng = np.random.default_rng(31)
    n, T = 90, 16
    gi = cohort_index(n, ((6, 25), (10, 25)))
    t = np.arange(T)
    D = (gi[:, None] >= 0) & (t[None, :] >= gi[:, None])
    y = rng.poisson(np.exp(0.7 + rng.normal(0, 0.5, n)[:, None] + 0.02 * t - 0.25 * D)).astype(float)
    _, df = count_design(gi, y)
    df = _holes(df, seed=32)
    d = _design(df, kind="count")
    r = poisson_twfe(d, "y").tidy().set_index("estimand")
    f = _frame(d).dropna(subset=["y"])
    fx = pf.fepois("y ~ D | unit + tt", data=f, vcov={"CRV1": "unit"}, ssc=pf.ssc(k_adj=False, G_adj=True), fixef_tol=1e-12)
    assert r.loc["att_log_ratio", "estimate"] == pytest.approx(float(fx.coef()["D"]), abs=1e-6)
    nobs = int(r.loc["att_log_ratio", "n_obs"])
    assert nobs == fx._N
    assert r.loc["att_log_ratio", "std_error"] == pytest.approx(float(fx.se()["D"]) * np.sqrt((nobs - 1) / nobs), rel=1e-6)


def test_a_balanced_only_method_refuses_missing_cells_rather_than_averaging_nan(data):
    from evidence.did.estimators import outcome_matrix

    d = _design(data)
    with pytest.raises(EstimationError, match="missing cells and this method needs a balanced panel"):
        outcome_matrix(d, "y")


def test_2x2_with_missing_cells_equals_r_did_allow_unbalanced_panel():
    """The 2x2 on a two-period panel with missing cells (mpdta 2003-2004, cohort 2004 against never-treated
    counties, rows with (countyreal * 31 + year) mod 11 == 0 deleted) against R ``did`` 2.5.1 with
    ``allow_unbalanced_panel = TRUE`` (tests/fixtures/did_unbalanced/twoperiod_dr_*; README.md there has the
    command). The point estimate is the same; the standard error differs by the package's small-sample factor
    sqrt(G/(G-1) (n-1)/n) only (G counties, n rows)."""
    from pathlib import Path

    fix = Path(__file__).resolve().parents[1] / "fixtures"
    mp = pd.read_csv(fix / "did_mpdta" / "mpdta.csv")
    two = mp[mp["year"].isin([2003, 2004]) & mp["first.treat"].isin([0, 2004])]
    two = two[((two["countyreal"] * 31 + two["year"]) % 11) != 0]
    out, freq, _ = validate_panel(two, name="two", unit="countyreal", time="year", outcomes=["lemp"], outcome_kinds={"lemp": "continuous"}, extra=["first.treat"], balance="allow")
    d = design_from_cohort_column(Panel(out, ["lemp"], {"lemp": "continuous"}, freq, source="two"), "first.treat", start=2003, end=2004)
    row = did_2x2(d, "lemp").tidy().iloc[0]
    ref = pd.read_csv(fix / "did_unbalanced" / "twoperiod_dr_attgt.csv").iloc[0]
    G, n = 329, 595
    assert (row["n_clusters"], row["n_obs"]) == (G, n)
    assert row["estimate"] == pytest.approx(ref["att"], abs=1e-12)
    assert row["std_error"] == pytest.approx(ref["se"] * np.sqrt(G / (G - 1) * (n - 1) / n), rel=1e-10)
