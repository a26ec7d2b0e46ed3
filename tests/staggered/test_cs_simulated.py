"""Callaway & Sant'Anna ATT(g,t) on simulated panels with known effects, the definitions behind each option, the
influence functions of the covariate-adjusted 2x2 estimators, and the handling of bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from evidence.errors import EstimationError
from evidence.staggered import att_gt
from evidence.staggered._estimators import drdid_panel, logit_fit, reg_did_panel, std_ipw_did_panel

ARGS = {"yname": "y", "tname": "t", "idname": "id", "gname": "g"}


def tau(e: np.ndarray) -> np.ndarray:
    """True effect e periods after treatment starts (e >= 0)."""
    return 1.0 + 0.5 * e


def simulate(
    n: int = 3000,
    periods: int = 6,
    cohorts: tuple[float, ...] = (0, 3, 4, 5),
    seed: int = 0,
    x_trend: float = 0.0,
    x_selection: float = 0.0,
    lead_effect: float = 0.0,
) -> pd.DataFrame:
    """Long panel with unit and period effects, y_it = a_i + l_t + x_trend * t * x_i + effect + noise.

    Cohort membership depends on x through a multinomial logit with slope ``x_selection`` per cohort rank, so with
    ``x_trend != 0`` parallel trends hold only conditional on x. Units get ``lead_effect`` one period before
    treatment (anticipation) and ``tau(t - g)`` from g on.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    cohorts_arr = np.asarray(cohorts, dtype=float)
    score = x_selection * np.arange(len(cohorts_arr))[None, :] * x[:, None] + rng.gumbel(size=(n, len(cohorts_arr)))
    g = cohorts_arr[np.argmax(score, axis=1)]
    t = np.arange(1, periods + 1, dtype=float)
    a = rng.normal(size=n) + x
    lam = 0.3 * t + 0.2 * np.sin(t)
    treated = g[:, None] > 0
    e = t[None, :] - g[:, None]
    effect = np.where(treated & (e >= 0), tau(e), 0.0) + np.where(treated & (e == -1), lead_effect, 0.0)
    y = a[:, None] + lam[None, :] + x_trend * t[None, :] * x[:, None] + effect + rng.normal(size=(n, periods))
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "t": np.tile(t, n).astype(int),
            "y": y.ravel(),
            "g": np.repeat(g, periods).astype(int),
            "x": np.repeat(x, periods),
        }
    )


def within(res, truth: np.ndarray, z: float = 4.0, mask: np.ndarray | None = None) -> None:
    mask = np.ones(len(truth), dtype=bool) if mask is None else mask
    dev = np.abs(res.att - truth)[mask] / res.se[mask]
    assert np.all(dev < z), f"max |att - truth| / se = {dev.max():.2f}"


def true_att(res) -> np.ndarray:
    """True ATT(g,t) of simulate() without lead effects: tau(t - g) after treatment, 0 before."""
    e = res.period - res.group
    return np.where(e >= 0, tau(e), 0.0)


# ---- recovering known effects -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def conditional_pt() -> pd.DataFrame:
    return simulate(n=5000, periods=5, cohorts=(0, 3, 4), seed=1, x_trend=1.0, x_selection=0.5)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_covariates_recover_truth_under_conditional_parallel_trends(conditional_pt: pd.DataFrame, method: str) -> None:
    res = att_gt(conditional_pt, **ARGS, covariates=["x"], est_method=method)
    within(res, true_att(res))
    simple = res.aggregate("simple")
    e = res.period - res.group
    sizes = pd.Series(conditional_pt.groupby("id")["g"].first()).value_counts()
    post = e >= 0
    w = np.array([sizes[g] for g in res.group[post]], dtype=float)
    truth = float(np.sum(w * tau(e[post])) / w.sum())
    assert abs(simple.overall.estimate - truth) < 4 * simple.overall.se
    assert res.pretest.p_value > 0.001


def test_unconditional_estimator_is_biased(conditional_pt: pd.DataFrame) -> None:
    res = att_gt(conditional_pt, **ARGS)
    dev = np.abs(res.att - true_att(res)) / res.se
    assert dev.max() > 8
    assert res.pretest.p_value < 1e-6  # the pre-test detects the violated (unconditional) parallel trends


def test_not_yet_treated_without_never_treated_recovers_truth() -> None:
    df = simulate(n=4000, periods=7, cohorts=(3, 4, 5, 6), seed=2)
    res = att_gt(df, **ARGS, control_group="not_yet_treated")
    assert res.period.max() == 5 and set(res.cohorts) == {3, 4, 5}
    within(res, true_att(res))
    dyn = res.aggregate("dynamic")
    np.testing.assert_array_less(np.abs(dyn.estimates - np.where(dyn.egt >= 0, tau(dyn.egt), 0)) / dyn.se, 4)


def test_universal_base_period() -> None:
    df = simulate(n=3000, periods=6, seed=3)
    uni = att_gt(df, **ARGS, base_period="universal")
    var = att_gt(df, **ARGS, base_period="varying")
    post_u = uni.period >= uni.group
    post_v = var.period >= var.group
    np.testing.assert_allclose(uni.att[post_u], var.att[post_v], atol=1e-12)  # same post-treatment cells
    np.testing.assert_allclose(uni.se[post_u], var.se[post_v], atol=1e-12)
    ref = uni.period == uni.group - 1
    assert np.all(uni.att[ref] == 0) and np.all(np.isnan(uni.se[ref]))
    assert len(uni.att) == len(var.att) + len(uni.cohorts)  # one more (reference) cell per cohort
    within(uni, true_att(uni), mask=~ref)
    # universal pre-treatment cells are long differences against g - 1
    df_w = df.pivot(index="id", columns="t", values="y")
    coh = df.groupby("id")["g"].first()
    k = np.flatnonzero((uni.group == 5) & (uni.period == 2))[0]
    d = df_w[2] - df_w[4]
    assert uni.att[k] == pytest.approx(d[coh == 5].mean() - d[coh == 0].mean(), abs=1e-12)
    assert uni.pretest.df == int(np.sum((uni.period < uni.group) & ~ref))
    dyn = uni.aggregate("dynamic")
    assert dyn.estimates[dyn.egt == -1][0] == 0 and np.isnan(dyn.se[dyn.egt == -1][0])


def test_anticipation_shifts_the_base_period() -> None:
    df = simulate(n=4000, periods=7, cohorts=(0, 4, 5, 6), seed=4, lead_effect=0.8)
    naive = att_gt(df, **ARGS)
    antic = att_gt(df, **ARGS, anticipation=1)
    post = antic.period >= antic.group
    within(antic, true_att(antic), mask=post)
    # with the contaminated base period g - 1 every post-treatment ATT is too low by the lead effect
    post_n = naive.period >= naive.group
    np.testing.assert_array_less(4, np.abs(naive.att - true_att(naive))[post_n] / naive.se[post_n])
    # the anticipation cell t = g - 1 (a pre-treatment cell compared with g - 2) measures the lead effect
    lead = antic.period == antic.group - 1
    np.testing.assert_array_less(np.abs(antic.att[lead] - 0.8) / antic.se[lead], 4)
    assert np.all(antic.att[lead] > 0.5)
    # cohort 4's base period for post-treatment cells is period 2
    wide = df.pivot(index="id", columns="t", values="y")
    coh = df.groupby("id")["g"].first()
    k = np.flatnonzero((antic.group == 4) & (antic.period == 6))[0]
    d = wide[6] - wide[2]
    assert antic.att[k] == pytest.approx(d[coh == 4].mean() - d[coh == 0].mean(), abs=1e-12)


# ---- exact definitions (independent pandas computation) ------------------------------------------------------------
def _manual(df: pd.DataFrame, control: str, base: str, anticipation: int) -> pd.DataFrame:
    wide = df.pivot(index="id", columns="t", values="y")
    periods = wide.columns.to_numpy(dtype=float)
    coh = df.groupby("id")["g"].first().astype(float).replace(0, np.inf)
    coh[coh > periods[-1] + anticipation] = np.inf
    n = len(coh)
    rows = []
    for g in sorted(coh[np.isfinite(coh)].unique()):
        pre = periods[periods + anticipation < g]
        first = 0 if base == "universal" else 1
        for t in periods[first:]:
            b = pre[-1] if (base == "universal" or t >= g) else periods[periods < t][-1]
            if b == t:
                rows.append((g, t, 0.0, np.nan))
                continue
            dy = wide[t] - wide[b]
            treated = coh == g
            if control == "never_treated":
                ctrl = np.isinf(coh)
            else:
                ctrl = np.isinf(coh) | ((coh > max(t, b) + anticipation) & (coh != g))
            mg, mc = dy[treated].mean(), dy[ctrl].mean()
            inf = np.where(treated, n * (dy - mg) / treated.sum(), 0.0) - np.where(
                ctrl, n * (dy - mc) / ctrl.sum(), 0.0
            )
            rows.append((g, t, mg - mc, np.sqrt(np.sum(inf**2)) / n))
    return pd.DataFrame(rows, columns=["g", "t", "att", "se"])


@pytest.fixture(scope="module")
def small_panel() -> pd.DataFrame:
    # cohort 7 starts after the last period (6): never treated, unless anticipation = 1 makes it a cohort
    return simulate(n=800, periods=6, cohorts=(0, 3, 4, 5, 7), seed=5)


@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("base", ["varying", "universal"])
@pytest.mark.parametrize("anticipation", [0, 1])
def test_cells_follow_r_definitions(small_panel: pd.DataFrame, control: str, base: str, anticipation: int) -> None:
    res = att_gt(small_panel, **ARGS, control_group=control, base_period=base, anticipation=anticipation)
    ref = _manual(small_panel, control, base, anticipation)
    np.testing.assert_array_equal(res.group, ref["g"])
    np.testing.assert_array_equal(res.period, ref["t"])
    np.testing.assert_allclose(res.att, ref["att"], atol=1e-12)
    np.testing.assert_allclose(res.se, ref["se"], atol=1e-12)
    assert (7 in res.cohorts) == (anticipation == 1)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("base", ["varying", "universal"])
def test_cohort_engine_equals_per_cell_estimators(
    small_panel: pd.DataFrame, method: str, control: str, base: str
) -> None:
    kw = dict(ARGS, est_method=method, control_group=control, base_period=base, anticipation=1)
    fast = att_gt(small_panel, **kw, _engine="cohort")
    dense = att_gt(small_panel, **kw, _engine="dense")
    assert fast.engine == "cohort" and dense.engine == "dense"
    np.testing.assert_allclose(fast.att, dense.att, atol=1e-10)
    np.testing.assert_allclose(fast.se, dense.se, rtol=1e-8)
    assert fast.pretest.W == pytest.approx(dense.pretest.W, rel=1e-8)
    for kind in ("simple", "group", "dynamic", "calendar"):
        a, b = fast.aggregate(kind), dense.aggregate(kind)
        np.testing.assert_allclose(a.estimates, b.estimates, atol=1e-10)
        np.testing.assert_allclose(a.se, b.se, rtol=1e-8)
        assert a.overall.se == pytest.approx(b.overall.se, rel=1e-8)


# ---- influence functions of the covariate-adjusted 2x2 estimators --------------------------------------------------
def _wlogit(X: np.ndarray, D: np.ndarray, w: np.ndarray) -> np.ndarray:
    b = np.zeros(X.shape[1])
    for _ in range(100):
        p = expit(X @ b)
        step = np.linalg.solve((X * (w * p * (1 - p))[:, None]).T @ X, X.T @ (w * (D - p)))
        b += step
        if np.max(np.abs(step)) < 1e-14:
            break
    return b


def _wols(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.linalg.solve((X * w[:, None]).T @ X, X.T @ (w * y))


def _weighted_estimate(method: str, y1, y0, D, X, w) -> float:
    """The 2x2 estimators written from their definitions (Sant'Anna & Zhao 2020), with unit weights w."""
    dy = y1 - y0
    c = D == 0
    if method in ("dr", "ipw"):
        ps = expit(X @ _wlogit(X, D, w))
        odds = w * (1 - D) * ps / (1 - ps)
    if method == "ipw":
        return np.sum(w * D * dy) / np.sum(w * D) - np.sum(odds * dy) / np.sum(odds)
    m = X @ _wols(X[c], dy[c], w[c])
    if method == "reg":
        return np.sum(w * D * (dy - m)) / np.sum(w * D)
    return np.sum(w * D * (dy - m)) / np.sum(w * D) - np.sum(odds * (dy - m)) / np.sum(odds)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_influence_function_is_the_derivative_of_the_estimate(method: str) -> None:
    rng = np.random.default_rng(7)
    n = 400
    x = rng.normal(size=(n, 2))
    X = np.column_stack([np.ones(n), x])
    D = (rng.random(n) < expit(-0.3 + 0.8 * x[:, 0] - 0.5 * x[:, 1])).astype(float)
    y0 = x @ [1.0, -0.5] + rng.normal(size=n)
    y1 = y0 + 0.4 * x[:, 0] + 0.7 * D + rng.normal(size=n)
    fn = {"dr": drdid_panel, "ipw": std_ipw_did_panel, "reg": reg_did_panel}[method]
    att, inf = fn(y1, y0, D, X)
    w = np.ones(n)
    assert att == pytest.approx(_weighted_estimate(method, y1, y0, D, X, w), abs=1e-12)
    assert abs(inf.mean()) < 1e-10
    eps = 1e-5
    for i in [0, 1, 2, 50, 123, 399]:
        up, dn = w.copy(), w.copy()
        up[i] += eps
        dn[i] -= eps
        deriv = n * (_weighted_estimate(method, y1, y0, D, X, up) - _weighted_estimate(method, y1, y0, D, X, dn))
        assert inf[i] == pytest.approx(deriv / (2 * eps), rel=1e-6, abs=1e-7)


def test_logit_matches_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(8)
    X = np.column_stack([np.ones(500), rng.normal(size=(500, 2))])
    D = (rng.random(500) < expit(X @ [0.2, 1.0, -0.7])).astype(float)
    ours = logit_fit(X, D)
    theirs = sm.Logit(D, X).fit(disp=0, tol=1e-12, method="newton").params
    np.testing.assert_allclose(ours, theirs, atol=1e-8)


def test_dense_influence_function_column_scaling(conditional_pt: pd.DataFrame) -> None:
    res = att_gt(conditional_pt, **ARGS, covariates=["x"], est_method="dr")
    IF = res.influence_function
    n = res.n_units
    np.testing.assert_allclose(np.sqrt((IF**2).sum(axis=0)) / n, res.se, rtol=1e-12)
    # zero outside the cohort and its comparison group
    coh = conditional_pt.groupby("id")["g"].first().to_numpy()
    k = np.flatnonzero((res.group == 4) & (res.period == 2))[0]
    assert np.all(IF[~np.isin(coh, [0, 4]), k] == 0)


# ---- bootstrap ------------------------------------------------------------------------------------------------------
def test_bootstrap_on_simulated_panel() -> None:
    df = simulate(n=1500, periods=5, cohorts=(0, 3, 4), seed=9)
    an = att_gt(df, **ARGS)
    bs = att_gt(df, **ARGS, bootstrap_draws=1999, seed=3)
    np.testing.assert_allclose(bs.se / an.se, 1.0, atol=0.10)
    assert bs.critical_value > 1.96 and bs.ci_type == "uniform"
    lo_b, hi_b = bs.ci
    lo_a, hi_a = an.ci
    assert np.all(hi_b - lo_b > hi_a - lo_a)  # the uniform band is wider than the pointwise intervals
    again = att_gt(df, **ARGS, bootstrap_draws=1999, seed=3)
    np.testing.assert_array_equal(bs.se, again.se)
    agg = bs.aggregate("calendar")
    agg2 = bs.aggregate("calendar")
    np.testing.assert_array_equal(agg.se, agg2.se)
    np.testing.assert_allclose(agg.se / an.aggregate("calendar").se, 1.0, atol=0.10)
    other = bs.aggregate("calendar", seed=4)
    assert not np.array_equal(other.se, agg.se)


# ---- missing cells ---------------------------------------------------------------------------------------------------
def test_cells_beyond_trimming_are_missing_and_na_rm() -> None:
    df = simulate(n=600, periods=4, cohorts=(3,), seed=10)
    # a single never-treated unit: cohort 3 is 599/600 > 99.5% of every 2x2 sample
    never = df["id"] == 0
    df.loc[never, "g"] = 0
    res = att_gt(df, **ARGS)
    assert np.all(np.isnan(res.att)) and any("trimming" in n for n in res.notes)
    with pytest.raises(EstimationError, match="methods.staggered.est_method: reg"):
        res.aggregate("simple")
    reg = att_gt(df, **ARGS, est_method="reg")  # no propensity score, no trimming
    assert np.all(np.isfinite(reg.att))
    reg_dense = att_gt(df, **ARGS, est_method="dr", _engine="dense")
    assert np.all(np.isnan(reg_dense.att))


def test_na_rm_drops_missing_cells() -> None:
    df = simulate(n=1200, periods=5, cohorts=(0, 3, 4), seed=11)
    res = att_gt(df, **ARGS)
    res.att = res.att.copy()
    res.att[(res.group == 3) & (res.period == 5)] = np.nan  # as if that cell could not be estimated
    with pytest.raises(EstimationError, match="could not be estimated"):
        res.aggregate("dynamic")
    agg = res.aggregate("dynamic", na_rm=True)
    assert 2 not in agg.egt  # e = 2 existed only for cohort 3 in period 5
    assert agg.egt.tolist() == [-2, -1, 0, 1]
    assert any("na_rm" in n for n in agg.notes)
    full = att_gt(df, **ARGS).aggregate("dynamic")
    np.testing.assert_allclose(agg.estimates, full.estimates[:4], atol=1e-14)


# ---- data handling and bad input -------------------------------------------------------------------------------------
def test_first_period_cohort_is_dropped_with_a_note() -> None:
    df = simulate(n=900, periods=5, cohorts=(0, 1, 3, 4), seed=12)
    n_first = int(df.loc[df["g"] == 1, "id"].nunique())
    with pytest.warns(UserWarning, match=f"Dropped {n_first} units already treated in the first period"):
        res = att_gt(df, **ARGS)
    assert any(f"Dropped {n_first} units" in n for n in res.notes)
    assert res.n_units == 900 - n_first
    clean = att_gt(df[df["g"] != 1], **ARGS)
    np.testing.assert_allclose(res.att, clean.att, atol=1e-14)
    np.testing.assert_allclose(res.se, clean.se, atol=1e-14)


def test_unbalanced_panel() -> None:
    df = simulate(n=500, periods=5, seed=13)
    holes = df.drop(index=[3, 17, 18, 400])  # units 0, 3 (two rows) and 80
    with pytest.raises(EstimationError, match="unbalanced panel: 3 of 500 units.*'id'.*'t'") as exc:
        att_gt(holes, **ARGS)
    assert "allow_unbalanced=True" in str(exc.value)
    with pytest.warns(UserWarning, match="Dropped 3 of 500 units"):
        res = att_gt(holes, **ARGS, allow_unbalanced="drop")
    assert any("Dropped 3 of 500 units" in n for n in res.notes)
    assert res.n_units == 497
    balanced = att_gt(df[~df["id"].isin([0, 3, 80])], **ARGS)
    np.testing.assert_allclose(res.att, balanced.att, atol=1e-14)
    missing_y = df.copy()
    missing_y.loc[5, "y"] = np.nan
    with pytest.raises(EstimationError, match="unbalanced panel: 1 of 500"):
        att_gt(missing_y, **ARGS)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_no_never_treated_units_with_never_treated_comparison() -> None:
    df = simulate(n=300, periods=5, cohorts=(3, 4), seed=14)
    with pytest.raises(EstimationError, match="no unit is never treated") as exc:
        att_gt(df, **ARGS)
    assert "not_yet_treated" in _one_line(exc)


def test_time_varying_covariate() -> None:
    df = simulate(n=300, periods=5, seed=15)
    df["x"] = df["x"] + 0.1 * df["t"]
    with pytest.raises(EstimationError, match="covariate 'x' varies over time") as exc:
        att_gt(df, **ARGS, covariates=["x"])
    _one_line(exc)


def test_cohort_without_pre_period_given_anticipation() -> None:
    df = simulate(n=300, periods=5, cohorts=(0, 2, 4), seed=16)
    with pytest.raises(EstimationError, match="cohort.*g=2 have no pre-treatment period with anticipation=1") as exc:
        att_gt(df, **ARGS, anticipation=1)
    _one_line(exc)


@pytest.mark.parametrize(
    ("change", "kwargs", "pattern"),
    [
        (None, {"yname": "nope"}, "yname='nope' is not a column"),
        (None, {"covariates": ["nope"]}, "covariate 'nope' is not a column"),
        (None, {"cluster": "nope"}, "cluster='nope' is not a column"),
        (None, {"est_method": "twfe"}, "est_method='twfe'"),
        (None, {"control_group": "everyone"}, "control_group='everyone'"),
        (None, {"base_period": "fixed"}, "base_period='fixed'"),
        (None, {"anticipation": -1}, "anticipation=-1"),
        (None, {"alpha": 1.5}, "alpha=1.5"),
        (None, {"bootstrap_draws": -5}, "bootstrap_draws=-5"),
        (None, {"bootstrap_weights": "normal"}, "bootstrap_weights='normal'"),
        ("duplicate", {}, "appear more than once.*'id'.*'t'"),
        ("string_time", {}, "tname column 't' must be numeric"),
        ("g_varies", {}, "gname 'g' varies over time"),
        ("cluster_varies", {"cluster": "c"}, "cluster column 'c' varies over time"),
        ("one_period", {}, "at least two"),
    ],
)
def test_bad_input_messages(change: str | None, kwargs: dict, pattern: str) -> None:
    df = simulate(n=200, periods=4, seed=17)
    if change == "duplicate":
        df = pd.concat([df, df.iloc[[5]]], ignore_index=True)
    elif change == "string_time":
        df["t"] = "p" + df["t"].astype(str)
    elif change == "g_varies":
        df.loc[df.index[(df["g"] == 3) & (df["t"] == 4)][:2], "g"] = 4
    elif change == "cluster_varies":
        df["c"] = df["id"] % 7 + (df["t"] == 4)
    elif change == "one_period":
        df = df[df["t"] == 1]
    with pytest.raises(EstimationError, match=pattern) as exc:
        att_gt(df, **{**ARGS, **kwargs})
    _one_line(exc)


def test_integer_and_float_periods_agree() -> None:
    df = simulate(n=400, periods=5, seed=18)
    a = att_gt(df, **ARGS)
    f = df.assign(t=df["t"].astype(float), g=df["g"].astype(float))
    b = att_gt(f, **ARGS)
    np.testing.assert_allclose(a.att, b.att, atol=1e-14)
    assert a.tidy()["group"].tolist() == b.tidy()["group"].tolist()
    assert not math.isnan(a.pretest.W)


def test_covariates_reproduce_the_published_xformla_lpop_output() -> None:
    """R did's doubly robust ATT(g,t) with xformla = ~lpop on mpdta (published csdid replication, analytic SEs):
    every cell, the simple, group and dynamic aggregations, points and standard errors to the printed digits."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    ref = pd.read_csv(root / "tests" / "fixtures" / "did_mpdta" / "csdid_lpop_dripw.csv")
    df = pd.read_csv(root / "data" / "examples" / "mpdta.csv")
    res = att_gt(df, "lemp", "year", "countyreal", "first.treat", covariates=["lpop"], est_method="dr", control_group="never_treated", bootstrap_draws=0)
    got = res.tidy()
    cells = ref[ref["kind"] == "attgt"]
    for r in cells.itertuples():
        row = got[(got["group"].astype(float) == r.group) & (got["period"].astype(float) == r.period)].iloc[0]
        assert row["estimate"] == pytest.approx(r.estimate, abs=5e-7) and row["std_error"] == pytest.approx(r.std_error, abs=5e-7)
    simple = res.aggregate("simple").tidy().iloc[0]
    s = ref[ref["kind"] == "simple"].iloc[0]
    assert simple["estimate"] == pytest.approx(s["estimate"], abs=5e-7) and simple["std_error"] == pytest.approx(s["std_error"], abs=5e-7)
    grp = res.aggregate("group").tidy().dropna(subset=["group"])
    for r in ref[ref["kind"] == "group"].itertuples():
        row = grp[grp["group"].astype(float) == r.group].iloc[0]
        assert row["estimate"] == pytest.approx(r.estimate, abs=5e-7) and row["std_error"] == pytest.approx(r.std_error, abs=5e-7)
    dyn = res.aggregate("dynamic").tidy().dropna(subset=["event_time"])
    for r in ref[ref["kind"] == "dynamic"].itertuples():
        row = dyn[dyn["event_time"].astype(float) == r.event_time].iloc[0]
        assert row["estimate"] == pytest.approx(r.estimate, abs=5e-7) and row["std_error"] == pytest.approx(r.std_error, abs=5e-7)
