"""Interrupted time series: against hand-fitted statsmodels models, and recovery / coverage on simulated series.

All data are synthetic. Monte Carlo loops re-use one design and overwrite its outcome column, so each replicate is a
single ``its`` call.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

from evidence.design import design_from_cohort_column
from evidence.errors import EstimationError
from evidence.its import ItsResult, hac_lag_rule, its
from evidence.its.plots import plot_acf_pacf, plot_counterfactual
from evidence.panel import Panel, validate_panel
from evidence.results import ESTIMATE_COLUMNS


# --------------------------------------------------------------------------------------------------------------
# helpers
def make_design(outcomes: dict[str, np.ndarray], g: list[int], *, start: str = "2012-01-01", freq: str = "MS", population: np.ndarray | None = None, kinds: dict[str, str] | None = None, integer_time: bool = False):
    """A Design from (units x periods) outcome arrays; ``g`` gives each unit's first treated period index (-1 = never)."""
    n_units, T = next(iter(outcomes.values())).shape
    if integer_time:
        times = np.arange(2000, 2000 + T)
        first = [int(times[k]) if k >= 0 else 0 for k in g]
    else:
        times = pd.date_range(start, periods=T, freq=freq).strftime("%Y-%m-%d").to_numpy()
        first = [times[k] if k >= 0 else "0" for k in g]
    cols = {"area": np.repeat([f"U{i:03d}" for i in range(n_units)], T), "month": np.tile(times, n_units), "first": np.repeat(first, T)}
    cols |= {name: np.asarray(v, dtype=float).ravel() for name, v in outcomes.items()}
    if population is not None:
        cols["pop"] = np.asarray(population, dtype=float).ravel()
    df = pd.DataFrame(cols)
    kinds = {o: (kinds or {}).get(o, "count") for o in outcomes}
    out, f, _ = validate_panel(df, name="sim", unit="area", time="month", outcomes=list(outcomes), outcome_kinds=kinds, population="pop" if population is not None else None, extra=["first"])
    panel = Panel(out, list(outcomes), kinds, f, source="sim")
    labs = panel.period_labels
    s, e = (int(labs[0]), int(labs[-1])) if integer_time else (labs[0], labs[-1])
    return design_from_cohort_column(panel, "first", start=s, end=e)


def set_outcome(design, column: str, values: np.ndarray) -> None:
    """Overwrite an outcome (units x periods, panel order) in place, for Monte Carlo replicates."""
    design.panel.data[column] = np.asarray(values, dtype=float).ravel()


def row(res: ItsResult, estimand: str) -> pd.Series:
    return res.estimate(estimand)


def covers(res: ItsResult, estimand: str, truth: float) -> bool:
    r = row(res, estimand)
    return bool(r["ci_lower"] <= truth <= r["ci_upper"])


def numbers(res: ItsResult) -> dict[str, np.ndarray]:
    """estimand -> [estimate, ci_lower, ci_upper] (first row of each estimand), from one tidy() call."""
    tid = res.tidy().drop_duplicates("estimand")
    vals = tid[["estimate", "ci_lower", "ci_upper"]].to_numpy()
    return dict(zip(tid["estimand"], vals))


def ar1(rng: np.random.Generator, n: int, T: int, rho: float, sd: float = 1.0) -> np.ndarray:
    e = rng.normal(0, sd, (n, T))
    u = np.empty((n, T))
    u[:, 0] = e[:, 0] / np.sqrt(1 - rho**2)
    for t in range(1, T):
        u[:, t] = rho * u[:, t - 1] + e[:, t]
    return u


def fourier(month0: np.ndarray, K: int) -> np.ndarray:
    cols = []
    for k in range(1, K + 1):
        cols += [np.sin(2 * np.pi * k * month0 / 12), np.cos(2 * np.pi * k * month0 / 12)]
    return np.column_stack(cols)


T, T0 = 48, 24
t = np.arange(T)
D = (t >= T0).astype(float)
SEG = np.column_stack([np.ones(T), t, D, (t - T0) * D])
MONTH0 = t % 12  # series start in January


@pytest.fixture(scope="module")
def counts():
    """3 treated units (from period 24) and 3 comparison units, Poisson counts with a growing population and seasonality."""
    rng = np.random.default_rng(11)
    pop = rng.uniform(2e5, 6e5, (6, 1)) * (1 + 0.003 * t)[None, :]
    season = 0.12 * np.cos(2 * np.pi * MONTH0 / 12) + 0.05 * np.sin(2 * np.pi * MONTH0 / 12)
    treated = np.arange(6) < 3
    eta = np.log(pop) + np.log(1.5e-3) + 0.002 * t + season + treated[:, None] * (-0.12 * D + 0.004 * (t - T0) * D)
    y = rng.poisson(np.exp(eta)).astype(float)
    return make_design({"adm": y}, [T0] * 3 + [-1] * 3, population=pop), y, pop


# --------------------------------------------------------------------------------------------------------------
# equality with hand-fitted statsmodels models
def test_poisson_equals_hand_fitted_glm(counts):
    d, y, pop = counts
    res = its(d, "adm", family="poisson", seasonality="fourier", harmonics=2)
    X = np.column_stack([SEG, fourier(MONTH0, 2)])
    yy, pp = y[:3].sum(0), pop[:3].sum(0)
    ref = sm.GLM(yy, X, family=sm.families.Poisson(), offset=np.log(pp)).fit()
    assert np.allclose(res.exog.to_numpy(), X, atol=1e-12, rtol=0)
    assert np.max(np.abs(res.model.params - ref.params)) < 1e-8
    assert np.max(np.abs(res.model.bse - ref.bse)) < 1e-8
    tid = res.tidy().set_index("estimand")
    assert tid.loc["level_change", "estimate"] == pytest.approx(ref.params[2], abs=1e-10)
    assert tid.loc["level_change", "std_error"] == pytest.approx(ref.bse[2], abs=1e-10)
    assert tid.loc["slope_change", "estimate"] == pytest.approx(ref.params[3], abs=1e-10)
    # effects by hand
    Xcf = X.copy()
    Xcf[:, 2:4] = 0
    mu, mu_cf = np.exp(X @ ref.params + np.log(pp)), np.exp(Xcf @ ref.params + np.log(pp))
    post = t >= T0
    assert tid.loc["rate_ratio_post", "estimate"] == pytest.approx(mu[post].sum() / mu_cf[post].sum(), rel=1e-10)
    assert tid.loc["abs_diff_post", "estimate"] == pytest.approx((mu - mu_cf)[post].mean(), rel=1e-10)
    assert tid.loc["effect_at_end", "estimate"] == pytest.approx(mu[-1] - mu_cf[-1], rel=1e-10)
    assert tid.loc["rate_ratio_end", "estimate"] == pytest.approx(np.exp(ref.params[2] + ref.params[3] * (T - 1 - T0)), rel=1e-10)
    assert np.allclose(res.counterfactual["counterfactual"], mu_cf, rtol=1e-10)
    assert np.allclose(res.counterfactual["observed"], yy)
    # delta-method SE of the rate ratio at the end: exp(b2 + b3 h) * se(b2 + b3 h)
    gvec = np.r_[0, 0, 1, T - 1 - T0, 0, 0, 0, 0]
    se_log = np.sqrt(gvec @ ref.cov_params() @ gvec)
    assert tid.loc["rate_ratio_end", "std_error"] == pytest.approx(tid.loc["rate_ratio_end", "estimate"] * se_log, rel=1e-8)
    assert tid.loc["rate_ratio_end", "ci_lower"] == pytest.approx(np.exp(gvec @ ref.params - 1.959963984540054 * se_log), rel=1e-8)
    # counterfactual interval on the log scale
    se_cf = np.sqrt(np.einsum("ij,jk,ik->i", Xcf, ref.cov_params(), Xcf))
    assert np.allclose(res.counterfactual["cf_upper"], mu_cf * np.exp(1.959963984540054 * se_cf), rtol=1e-8)


def test_quasipoisson_negbin_and_robust_poisson_equal_statsmodels(counts):
    d, y, pop = counts
    X = np.column_stack([SEG, fourier(MONTH0, 2)])
    yy, off = y[:3].sum(0), np.log(pop[:3].sum(0))
    q = its(d, "adm", family="quasipoisson")
    ref = sm.GLM(yy, X, family=sm.families.Poisson(), offset=off).fit(scale="X2")
    assert np.max(np.abs(q.model.params - ref.params)) < 1e-8
    assert np.max(np.abs(q.model.bse - ref.bse)) < 1e-8
    assert q.info["df"] == T - X.shape[1]  # t intervals with the GLM residual df
    rob = its(d, "adm", family="poisson", robust=True)
    L = hac_lag_rule(T)
    ref_r = sm.GLM(yy, X, family=sm.families.Poisson(), offset=off).fit(cov_type="HAC", cov_kwds={"maxlags": L, "use_correction": True})
    assert np.max(np.abs(rob.model.bse - ref_r.bse)) < 1e-8
    # negative binomial on overdispersed counts (gamma-Poisson mixture, alpha = 0.03)
    rng = np.random.default_rng(21)
    mu = np.exp(off + np.log(1.5e-3) + 0.002 * t - 0.1 * D)
    yy = rng.poisson(rng.gamma(1 / 0.03, 0.03 * mu)).astype(float)
    dnb = make_design({"adm": np.vstack([yy, yy])}, [T0, -1], population=np.vstack([np.exp(off), np.exp(off)]))
    nb = its(dnb, "adm", units=["U000"], family="negbin")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a_disc = sm.NegativeBinomial(yy, X, loglike_method="nb2", offset=off).fit(disp=0, method="bfgs", maxiter=500).params[-1]
    assert nb.info["nb_alpha"] == pytest.approx(a_disc, rel=1e-3)
    # ... which maximises the GLM profile likelihood
    prof = optimize.minimize_scalar(
        lambda la: -sm.GLM(yy, X, family=sm.families.NegativeBinomial(link=sm.families.links.Log(), alpha=np.exp(la)), offset=off).fit().llf,
        bounds=(-15, 2), method="bounded", options={"xatol": 1e-8},
    )
    assert nb.info["nb_alpha"] == pytest.approx(np.exp(prof.x), rel=2e-3)
    ref_nb = sm.GLM(yy, X, family=sm.families.NegativeBinomial(link=sm.families.links.Log(), alpha=nb.info["nb_alpha"]), offset=off).fit()
    assert np.max(np.abs(nb.model.params - ref_nb.params)) < 1e-8
    assert np.max(np.abs(nb.model.bse - ref_nb.bse)) < 1e-8


def test_gaussian_hac_equals_statsmodels_ols():
    rng = np.random.default_rng(3)
    y = 20 + 0.3 * t + 2 * D - 0.1 * (t - T0) * D + ar1(rng, 2, T, 0.5)
    d = make_design({"y": y}, [T0, -1], kinds={"y": "continuous"})
    L = hac_lag_rule(T)
    assert L == 3 and hac_lag_rule(100) == 4 and hac_lag_rule(20) == 2
    for seas, X in (("none", SEG), ("fourier", np.column_stack([SEG, fourier(MONTH0, 2)]))):
        res = its(d, "y", units=["U000"], family="gaussian", seasonality=seas)
        ref = sm.OLS(y[0], X).fit(cov_type="HAC", cov_kwds={"maxlags": L, "use_correction": True})
        assert np.max(np.abs(res.model.params - ref.params)) < 1e-8
        assert np.max(np.abs(res.model.bse - ref.bse)) < 1e-8
        tid = res.tidy().set_index("estimand")
        assert tid.loc["level_change", "std_error"] == pytest.approx(ref.bse[2], abs=1e-10)
        assert res.info["df"] == T - X.shape[1]
        assert tid.loc["level_change", "p_value"] == pytest.approx(2 * stats.t.sf(abs(ref.params[2] / ref.bse[2]), T - X.shape[1]), rel=1e-8)
    naive = its(d, "y", units=["U000"], seasonality="none", robust=False)
    ref0 = sm.OLS(y[0], SEG).fit()
    assert np.max(np.abs(naive.model.bse - ref0.bse)) < 1e-10
    lag5 = its(d, "y", units=["U000"], seasonality="none", hac_lags=5)
    ref5 = sm.OLS(y[0], SEG).fit(cov_type="HAC", cov_kwds={"maxlags": 5, "use_correction": True})
    assert np.max(np.abs(lag5.model.bse - ref5.bse)) < 1e-10


def test_controlled_gaussian_equals_newey_west_on_difference_series():
    """The stacked, fully interacted CITS with Driscoll-Kraay SEs is Newey-West OLS on treated minus comparison."""
    rng = np.random.default_rng(5)
    base = 30 + 0.2 * t + 1.5 * np.cos(2 * np.pi * MONTH0 / 12)
    y = np.vstack([base + 3 * D + 0.1 * (t - T0) * D, base + 1.0 * D]) + ar1(rng, 2, T, 0.4)
    d = make_design({"y": y}, [T0, -1], kinds={"y": "continuous"})
    res = its(d, "y", control="pooled", seasonality="fourier", harmonics=1)
    X = np.column_stack([SEG, fourier(MONTH0, 1)])
    ref = sm.OLS(y[0] - y[1], X).fit(cov_type="HAC", cov_kwds={"maxlags": hac_lag_rule(T), "use_correction": True})
    tid = res.tidy().set_index("estimand")
    assert tid.loc["level_change", "estimate"] == pytest.approx(ref.params[2], abs=1e-9)
    assert tid.loc["slope_change", "estimate"] == pytest.approx(ref.params[3], abs=1e-9)
    assert tid.loc["level_change", "std_error"] == pytest.approx(ref.bse[2], abs=1e-9)
    assert tid.loc["slope_change", "std_error"] == pytest.approx(ref.bse[3], abs=1e-9)
    assert res.info["df"] == T - X.shape[1]
    assert tid.loc["level_change", "group"] == "pooled|controlled"
    assert res.control_series is not None and np.allclose(res.control_series["observed"], y[1])


def test_controlled_poisson_robust_is_driscoll_kraay_by_hand():
    """Scores summed over the two series in each period, Bartlett-weighted over periods, times n/(n-k)."""
    rng = np.random.default_rng(1)
    pop = np.full((2, T), 1e5)
    y = rng.poisson(pop * 1e-3 * np.exp(0.003 * t + 0.1 * np.cos(2 * np.pi * MONTH0 / 12))).astype(float)
    res = its(make_design({"n": y}, [T0, -1], population=pop), "n", family="poisson", control="pooled", robust=True)
    X, yy, off = res.exog.to_numpy(), res.endog, res.offset
    assert np.allclose(off, np.log(np.r_[pop[0], pop[1]])) and X.shape == (2 * T, 2 * 8)
    mu = sm.GLM(yy, X, family=sm.families.Poisson(), offset=off).fit().fittedvalues
    by_period = np.zeros((T, X.shape[1]))
    np.add.at(by_period, np.r_[t, t], X * (yy - mu)[:, None])
    L = hac_lag_rule(T)
    S = by_period.T @ by_period
    for lag in range(1, L + 1):
        G = by_period[lag:].T @ by_period[:-lag]
        S += (1 - lag / (L + 1)) * (G + G.T)
    bread = np.linalg.inv(X.T @ (mu[:, None] * X))
    V = bread @ S @ bread * len(yy) / (len(yy) - X.shape[1])
    assert np.max(np.abs(np.sqrt(np.diag(V)) - res.model.bse)) < 1e-10
    assert row(res, "level_change")["std_error"] == pytest.approx(np.sqrt(V[10, 10]), rel=1e-10)  # treated:level
    assert res.info["df"] is None  # normal intervals


# --------------------------------------------------------------------------------------------------------------
# recovery and coverage (small Monte Carlo)
def test_gaussian_ar1_recovery_and_newey_west_coverage():
    rng = np.random.default_rng(2024)
    R, TT, t0, rho, lev, slp = 150, 72, 36, 0.5, 2.0, 0.05
    tt = np.arange(TT)
    DD = (tt >= t0).astype(float)
    Y = 10 + 0.1 * tt + lev * DD + slp * (tt - t0) * DD + ar1(rng, R, TT, rho)
    d = make_design({"y": np.vstack([Y[0], Y[0]])}, [t0, -1], kinds={"y": "continuous"})
    est, cov_nw, cov_naive = [], [], []
    for i in range(R):
        set_outcome(d, "y", np.vstack([Y[i], Y[i]]))
        res = its(d, "y", units=["U000"], seasonality="none")
        nb = numbers(res)
        est.append([nb["level_change"][0], nb["slope_change"][0]])
        cov_nw.append([nb["level_change"][1] <= lev <= nb["level_change"][2], nb["slope_change"][1] <= slp <= nb["slope_change"][2]])
        naive = sm.OLS(res.endog, res.exog.to_numpy()).fit().conf_int()
        cov_naive.append([naive[2, 0] <= lev <= naive[2, 1], naive[3, 0] <= slp <= naive[3, 1]])
    bias = np.mean(est, axis=0) - [lev, slp]
    cov_nw, cov_naive = np.mean(cov_nw, axis=0), np.mean(cov_naive, axis=0)
    assert abs(bias[0]) < 0.1 and abs(bias[1]) < 0.005  # level SE ~0.6, slope SE ~0.03 per replicate
    assert np.all(cov_naive < 0.85)  # naive OLS under-covers under AR(1) errors
    assert np.all(cov_nw > cov_naive + 0.03)  # Newey-West is closer to nominal
    assert np.all(np.abs(cov_nw - 0.95) < np.abs(cov_naive - 0.95))


@pytest.fixture(scope="module")
def count_mc():
    """Monte Carlo over Poisson and overdispersed (NB2, alpha = 0.02) monthly counts with population offset and seasonality."""
    rng = np.random.default_rng(77)
    R, TT, t0, lev, slp = 50, 60, 30, -0.15, 0.004
    tt = np.arange(TT)
    DD = (tt >= t0).astype(float)
    m = tt % 12
    pop = 1e5 * (1 + 0.002 * tt)
    mu = np.exp(np.log(pop) + np.log(2e-3) + 0.003 * tt + 0.15 * np.cos(2 * np.pi * m / 12) + 0.05 * np.sin(2 * np.pi * m / 12) + lev * DD + slp * (tt - t0) * DD)
    Yp = rng.poisson(mu, (R, TT)).astype(float)
    Ynb = rng.poisson(rng.gamma(1 / 0.02, 0.02 * mu, (R, TT))).astype(float)
    d = make_design({"y": np.vstack([Yp[0], Yp[0]])}, [t0, -1], population=np.vstack([pop, pop]))
    out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for data_name, Y, fams in (("poisson", Yp, ("poisson",)), ("nb", Ynb, ("poisson", "quasipoisson", "negbin"))):
        for fam in fams:
            rec = {"level": [], "slope": [], "cover_level": [], "cover_slope": [], "width": [], "alpha": [], "rr": []}
            for i in range(R):
                set_outcome(d, "y", np.vstack([Y[i], Y[i]]))
                res = its(d, "y", units=["U000"], family=fam, seasonality="fourier", harmonics=1)
                nb = numbers(res)
                lv, sl = nb["level_change"], nb["slope_change"]
                rec["level"].append(lv[0])
                rec["slope"].append(sl[0])
                rec["cover_level"].append(lv[1] <= lev <= lv[2])
                rec["cover_slope"].append(sl[1] <= slp <= sl[2])
                rec["width"].append(lv[2] - lv[1])
                rec["alpha"].append(res.info["nb_alpha"] if res.info["nb_alpha"] is not None else np.nan)
                rec["rr"].append(nb["rate_ratio_post"][0])
            out[(data_name, fam)] = {k: np.asarray(v, dtype=float) for k, v in rec.items()}
    truth_rr = (mu * DD).sum() / (mu * np.exp(-(lev * DD + slp * (tt - t0) * DD)) * DD).sum()
    return out, lev, slp, truth_rr


def test_poisson_recovery_with_offset_and_seasonality(count_mc):
    out, lev, slp, truth_rr = count_mc
    r = out[("poisson", "poisson")]
    assert abs(r["level"].mean() - lev) < 0.01  # per-replicate SE about 0.035
    assert abs(r["slope"].mean() - slp) < 0.0007
    assert abs(r["rr"].mean() - truth_rr) < 0.02  # per-replicate SD about 0.03
    assert 0.85 <= r["cover_level"].mean() <= 1.0 and 0.85 <= r["cover_slope"].mean() <= 1.0


def test_overdispersion_quasipoisson_and_negbin_widen_intervals(count_mc):
    out, lev, slp, _ = count_mc
    pois, quasi, nb = out[("nb", "poisson")], out[("nb", "quasipoisson")], out[("nb", "negbin")]
    for r in (pois, quasi, nb):
        assert abs(r["level"].mean() - lev) < 0.03 and abs(r["slope"].mean() - slp) < 0.002
    assert np.all(quasi["width"] > pois["width"]) and np.all(nb["width"] > pois["width"])
    assert pois["cover_level"].mean() < 0.75  # Poisson intervals under-cover on overdispersed counts
    assert quasi["cover_level"].mean() > 0.85 and nb["cover_level"].mean() > 0.85
    assert 0.01 < np.nanmedian(nb["alpha"]) < 0.03  # true alpha 0.02


def test_common_shock_is_differenced_out_by_controlled_its():
    rng = np.random.default_rng(9)
    shock = 8.0 * D + 0.2 * (t - T0) * D  # hits treated and comparison units alike at the intervention
    effect = 3.0 * D
    base = 50 + 0.3 * t + 2 * np.sin(2 * np.pi * MONTH0 / 12)
    y = np.vstack([base + shock + effect, base + shock, base + 5 + shock, base - 4 + shock]) + rng.normal(0, 0.2, (4, T))
    d = make_design({"y": y}, [T0, -1, -1, -1], kinds={"y": "continuous"})
    single = its(d, "y", control="none")
    ctrl = its(d, "y", control="pooled")
    assert row(single, "level_change")["estimate"] == pytest.approx(11.0, abs=1.0)  # biased by the shock
    assert row(single, "slope_change")["estimate"] == pytest.approx(0.2, abs=0.05)
    assert row(ctrl, "level_change")["estimate"] == pytest.approx(3.0, abs=0.5)  # the shock is differenced out
    assert row(ctrl, "slope_change")["estimate"] == pytest.approx(0.0, abs=0.05)
    assert not covers(single, "level_change", 3.0)
    assert ctrl.info["control_units"] == ["U001", "U002", "U003"]
    # the same on the log scale with counts: a common 30% jump, a treated-only rate ratio of 0.8
    pop = np.full((4, T), 2e6)
    treated_rr = np.r_[0.8, 1.0, 1.0, 1.0][:, None] ** D[None, :]
    lam = pop * 2e-3 * np.exp(0.002 * t + 0.3 * D)[None, :] * treated_rr
    yc = rng.poisson(lam).astype(float)
    dc = make_design({"adm": yc}, [T0, -1, -1, -1], population=pop)
    c1 = its(dc, "adm", family="poisson", control="none", seasonality="none")
    c2 = its(dc, "adm", family="poisson", control="pooled", seasonality="none")
    assert row(c1, "level_change")["estimate"] == pytest.approx(0.3 + np.log(0.8), abs=0.05)
    assert row(c2, "level_change")["estimate"] == pytest.approx(np.log(0.8), abs=0.05)
    assert row(c2, "rate_ratio_post")["estimate"] == pytest.approx(0.8, abs=0.04)


# --------------------------------------------------------------------------------------------------------------
# specification details
def test_full_fourier_equals_month_dummies(counts):
    d, _, _ = counts
    f = its(d, "adm", family="poisson", seasonality="fourier", harmonics=6)
    m = its(d, "adm", family="poisson", seasonality="dummies")
    assert f.exog.shape[1] == m.exog.shape[1] == 4 + 11  # sin6 is identically zero and left out
    for est in ("level_change", "slope_change", "rate_ratio_post", "abs_diff_post"):
        assert row(f, est)["estimate"] == pytest.approx(row(m, est)["estimate"], rel=1e-7)
        assert row(f, est)["std_error"] == pytest.approx(row(m, est)["std_error"], rel=1e-6)


def test_mean_post_residual_is_zero_so_abs_diff_matches_observed(counts):
    d, _, _ = counts
    for fam in ("gaussian", "poisson"):
        res = its(d, "adm", family=fam)
        cf = res.counterfactual
        post = np.arange(T) >= T0
        obs_minus_cf = (cf["observed"] - cf["counterfactual"])[post].mean()
        assert row(res, "abs_diff_post")["estimate"] == pytest.approx(obs_minus_cf, rel=1e-6)
        assert list(cf.columns) == ["period", "observed", "fitted", "counterfactual", "cf_lower", "cf_upper"]
        assert np.allclose(cf["fitted"][~post], cf["counterfactual"][~post])
        assert np.all(cf["cf_lower"] < cf["counterfactual"]) and np.all(cf["counterfactual"] < cf["cf_upper"])


def test_tidy_contract_and_labels(counts):
    d, _, _ = counts
    res = its(d, "adm", family="poisson", horizons=[0, 12])
    tid = res.tidy()
    assert list(tid.columns) == ESTIMATE_COLUMNS
    assert set(tid["method"]) == {"its"} and set(tid["group"]) == {"pooled"}
    assert list(tid["estimand"]) == ["level_change", "slope_change", "rate_ratio_post", "abs_diff_post", "effect_at_end", "rate_ratio_end", "effect_at", "rate_ratio_at", "effect_at", "rate_ratio_at"]
    assert set(tid["n_obs"]) == {T} and set(tid["n_units"]) == {3}
    assert tid.loc[tid["estimand"] == "level_change", "period"].iloc[0] == "2014-01"
    assert tid.loc[tid["estimand"] == "effect_at_end", "event_time"].iloc[0] == T - 1 - T0
    at12 = tid[(tid["estimand"] == "rate_ratio_at") & (tid["event_time"] == 12)].iloc[0]
    assert at12["estimate"] == pytest.approx(np.exp(res.model.params[2] + 12 * res.model.params[3]), rel=1e-10)
    assert at12["ci_lower"] < at12["estimate"] < at12["ci_upper"]
    g = its(d, "adm", family="gaussian")
    assert "rate_ratio_post" not in set(g.tidy()["estimand"])
    one = its(d, "adm", units="U001", control="pooled", family="poisson")
    assert set(one.tidy()["group"]) == {"U001|controlled"} and set(one.tidy()["n_units"]) == {4}
    text = res.summary()
    assert "rate_ratio_post" in text and "intervention: 2014-01" in text
    assert "level_change" in res._repr_html_()


def test_intervention_forms_and_default(counts):
    d, _, _ = counts
    ref = row(its(d, "adm", family="poisson"), "level_change")["estimate"]
    for spec in ("2014-01", "2014-01-01", T0):
        assert row(its(d, "adm", family="poisson", intervention=spec), "level_change")["estimate"] == pytest.approx(ref, rel=1e-12)
    later = its(d, "adm", family="poisson", intervention="2014-07")
    assert later.info["intervention_index"] == T0 + 6 and later.info["n_post"] == T - T0 - 6
    # an untreated unit on its own needs an explicit intervention
    placebo = its(d, "adm", units=["U004"], family="poisson", intervention="2014-01")
    assert abs(row(placebo, "level_change")["estimate"]) < 0.1


def test_staggered_pool_uses_earliest_cohort_and_says_so():
    rng = np.random.default_rng(4)
    y = 100 + rng.normal(0, 1, (4, T))
    d = make_design({"y": y}, [20, 30, -1, -1], kinds={"y": "continuous"})
    res = its(d, "y")
    assert res.info["intervention_index"] == 20 and res.intervention == "2013-09"
    assert any("2 cohorts" in n for n in res.notes)
    assert row(res, "level_change")["n_units"] == 2
    assert its(d, "y", units=["U001"]).info["intervention_index"] == 30


def test_quarterly_annual_integer_and_single_post_period():
    rng = np.random.default_rng(8)
    Tq = 20
    tq = np.arange(Tq)
    yq = 5 + 0.1 * tq + 2 * (tq >= 10) + np.cos(np.pi * tq / 2) + rng.normal(0, 0.1, (2, Tq))
    dq = make_design({"y": yq}, [10, -1], freq="QS", kinds={"y": "continuous"})
    rq = its(dq, "y", seasonality="dummies")
    assert rq.exog.shape[1] == 4 + 3 and row(rq, "level_change")["estimate"] == pytest.approx(2.0, abs=0.3)
    assert rq.intervention == "2014Q3"
    with pytest.raises(EstimationError, match="harmonics"):
        its(dq, "y", seasonality="fourier", harmonics=3)
    ya = 5 + 0.5 * np.arange(12) + 3 * (np.arange(12) >= 6) + rng.normal(0, 0.1, (2, 12))
    da = make_design({"y": ya}, [6, -1], freq="YS", kinds={"y": "continuous"})
    ra = its(da, "y")  # fourier requested, none possible
    assert ra.info["seasonality"] == "none" and any("annual" in n for n in ra.notes)
    assert row(ra, "level_change")["estimate"] == pytest.approx(3.0, abs=0.5)
    di = make_design({"y": ya}, [6, -1], integer_time=True, kinds={"y": "continuous"})
    ri = its(di, "y", intervention=2006)
    assert ri.info["intervention_index"] == 6 and ri.intervention == "2006"
    assert its(di, "y", intervention=6).info["intervention_index"] == 6  # not a year of the data: an index
    last = its(di, "y", intervention=11)
    assert "slope_change" not in set(last.tidy()["estimand"]) and any("slope change is not identified" in n for n in last.notes)


def test_mean_pooling_for_continuous_and_no_offset_without_population():
    rng = np.random.default_rng(1)
    y = 10 + rng.normal(0, 1, (4, T))
    d = make_design({"y": y}, [T0, T0, -1, -1], kinds={"y": "continuous"})
    res = its(d, "y")
    assert np.allclose(res.counterfactual["observed"], y[:2].mean(0)) and res.info["pooling"] == "mean"
    dc = make_design({"n": rng.poisson(50, (4, T)).astype(float)}, [T0, T0, -1, -1])
    rc = its(dc, "n", family="poisson")
    assert rc.offset is None and any("no offset" in n for n in rc.notes)
    assert np.allclose(rc.counterfactual["observed"], dc.panel.matrix("n")[:2].sum(0))


def test_plots_draw_and_stamp_synthetic(counts):
    import matplotlib.pyplot as plt

    d, _, _ = counts
    res = its(d, "adm", family="poisson", control="pooled")
    ax = res.plot(synthetic=True)
    assert any(txt.get_text() == "SYNTHETIC DATA" for txt in ax.texts)
    assert len(ax.lines) >= 5  # observed, fitted, counterfactual, comparison observed and fitted (+ intervention line)
    axes = plot_acf_pacf(res, synthetic=True)
    assert len(axes) == 2 and all(any(x.get_text() == "SYNTHETIC DATA" for x in a.texts) for a in axes)
    _, ax2 = plt.subplots()
    assert plot_counterfactual(res, ax=ax2) is ax2
    plt.close("all")


# --------------------------------------------------------------------------------------------------------------
# bad input: one-line EstimationError naming the parameter
@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    y = rng.poisson(40, (4, T)).astype(float)
    pop = np.full((4, T), 1e4)
    return make_design({"adm": y, "z": y - 45.0}, [T0, T0, -1, -1], population=pop, kinds={"z": "continuous"})


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"family": "binomial"}, "methods.its.family"),
        ({"seasonality": "splines"}, "methods.its.seasonality"),
        ({"control": "synthetic"}, "methods.its.control"),
        ({"intervention": "2030-01"}, "methods.its.intervention"),
        ({"intervention": "2011-06"}, "methods.its.intervention"),
        ({"intervention": 99}, "methods.its.intervention"),
        ({"intervention": "not a date"}, "methods.its.intervention"),
        ({"intervention": 2, "seasonality": "none"}, "at least 3"),
        ({"intervention": 8, "seasonality": "fourier"}, "at least 12"),
        ({"intervention": 8, "seasonality": "dummies"}, "seasonality: none"),
        ({"harmonics": 7}, "methods.its.harmonics"),
        ({"harmonics": 0}, "methods.its.harmonics"),
        ({"hac_lags": -1}, "methods.its.hac_lags"),
        ({"hac_lags": 1.5}, "methods.its.hac_lags"),
        ({"units": ["NOPE"]}, "methods.its.units"),
        ({"units": []}, "methods.its.units"),
        ({"units": ["U002"]}, "methods.its.intervention"),
        ({"horizons": [40]}, "methods.its.horizons"),
        ({"alpha": 1.5}, "methods.its.alpha"),
    ],
)
def test_bad_arguments(small, kwargs, needle):
    with pytest.raises(EstimationError) as err:
        its(small, "adm", **kwargs)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


def test_bad_data(small):
    for fam in ("poisson", "quasipoisson", "negbin"):
        with pytest.raises(EstimationError, match=r"negative values .* methods\.its\.family: gaussian"):
            its(small, "z", family=fam)
    assert its(small, "z", family="gaussian").tidy().shape[0] == 4
    with pytest.raises(EstimationError, match="outcome 'nope'"):
        its(small, "nope")
    # zeros are fine for Poisson; a series that is zero throughout the post period is not
    y = np.random.default_rng(2).poisson(3, (2, T)).astype(float)
    y[0, :5] = 0
    d = make_design({"n": y}, [T0, -1])
    assert np.isfinite(row(its(d, "n", family="poisson"), "level_change")["estimate"])
    y2 = y.copy()
    y2[0, T0:] = 0
    with pytest.raises(EstimationError, match="zero in every post-intervention period"):
        its(make_design({"n": y2}, [T0, -1]), "n", family="poisson")
    # no untreated units for control='pooled'
    dall = make_design({"n": y}, [T0, T0])
    with pytest.raises(EstimationError, match="methods.its.control is 'pooled' but no unit is untreated"):
        its(dall, "n", control="pooled")
    # zero population under a log-population offset (validate_panel rejects it, so plant it in the design)
    dz = make_design({"n": y}, [T0, -1], population=np.full((2, T), 1e3))
    dz.panel.data.loc[3, "population"] = 0.0
    with pytest.raises(EstimationError, match="population .* methods.its.offset: false"):
        its(dz, "n", family="poisson")
    assert its(dz, "n", family="poisson", offset=False).offset is None


def test_a_per_unit_series_reads_only_its_own_cells():
    """A per-unit ITS (control none) uses the unit's own rows: missing cells elsewhere neither change it nor stop it,
    and missing cells of the unit itself are refused in one line naming it."""
    rng = np.random.default_rng(5)
    T = 48
    y = rng.poisson(200, size=(4, T)).astype(float)
    pop = np.full((4, T), 10_000.0)
    d = make_design({"y": y}, [30, 30, -1, -1], population=pop)
    full = numbers(its(d, "y", units=["U000"], family="quasipoisson"))
    y2 = y.copy()
    y2[1, 5] = np.nan  # another treated unit with a missing cell
    set_outcome(d, "y", y2)
    part = its(d, "y", units=["U000"], family="quasipoisson")
    for k, v in numbers(part).items():
        np.testing.assert_allclose(v, full[k], rtol=1e-12)
    assert part.details.get("missing") is None
    with pytest.raises(EstimationError, match="U001 has missing cells"):
        its(d, "y", units=["U001"], family="quasipoisson")
