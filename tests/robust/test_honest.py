"""HonestDiD sensitivity analysis (evidence.robust.honest) against published results and known properties.

References (tests/fixtures/honestdid, provenance in its README):

* the published Medicaid example of the HonestDiD R and Stata READMEs and of the Mixtape exercise: the event study is
  rebuilt here from the raw data, then every printed interval is reproduced to 1e-3 absolute (printed precision is 3
  significant digits; R's relative-magnitudes intervals live on a theta grid with step 3.7e-4 and a Monte Carlo
  critical value; R's FLCI uses a simulated critical value);
* R outputs on the package's BCdata_EventStudy (1e-3 for C-LF and FLCI for the same reasons, 1e-6 for the
  deterministic conditional smoothness intervals).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence.errors import EstimationError
from evidence.inference import demean_two_way
from evidence.results import ESTIMATE_COLUMNS
from evidence.robust import honest as H
from evidence.robust.honest import HonestResult, event_study_inputs, honest_did, identified_set

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "honestdid"
TOL = 1e-3  # absolute, for every published number (see the module docstring)


# ------------------------------------------------------------------------------------------------ fixtures


def ehec_event_study(sample: str) -> tuple[np.ndarray, np.ndarray]:
    """feols(dins ~ i(year, D, ref = 2013) | stfips + year, cluster = "stfips") with fixest's small-sample factor."""
    d = pd.read_csv(FIX / "ehec_data.csv")
    if sample == "readme":
        d = d[(d.year < 2016) & (d.yexp2.isna() | (d.yexp2 != 2015))]
    else:
        d = d[(d.year <= 2015) & (d.yexp2.isna() | (d.yexp2 < 2015))]
    d = d.sort_values(["stfips", "year"])
    years = np.sort(d.year.unique())
    N, T = d.stfips.nunique(), years.size
    y = d.dins.to_numpy().reshape(N, T)
    D = (d.groupby("stfips", sort=False).yexp2.first() == 2014).to_numpy(dtype=float)
    X = np.stack([np.outer(D, years == yr) for yr in years if yr != 2013], axis=-1).astype(float)
    Xd, yd = demean_two_way(X).reshape(N * T, -1), demean_two_way(y).ravel()
    bread = np.linalg.inv(Xd.T @ Xd)
    b = bread @ Xd.T @ yd
    scores = np.zeros((N, Xd.shape[1]))
    np.add.at(scores, np.repeat(np.arange(N), T), Xd * (yd - Xd @ b)[:, None])
    n, K = N * T, Xd.shape[1] + T  # fixest: 7 coefficients + 8 year effects (state effects nested in the clusters)
    return b, bread @ scores.T @ scores @ bread * N / (N - 1) * (n - 1) / (n - K)


@pytest.fixture(scope="module")
def ehec():
    return {s: ehec_event_study(s) for s in ("readme", "mixtape")}


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return pd.read_csv(FIX / "published_ehec.csv", dtype={"lb": str, "ub": str})


@pytest.fixture(scope="module")
def bc() -> dict:
    ref = json.loads((FIX / "bcdata_r_reference.json").read_text())
    ref["betahat"], ref["sigma"] = np.array(ref["betahat"]), np.array(ref["sigma"])
    return ref


def _half_unit(s: str) -> float:
    return 0.5 * 10.0 ** -len(s.split(".")[1])


def _compare(res: HonestResult, rows: pd.DataFrame, slack: float) -> float:
    """Max abs difference to the published rows; each end within TOL, and within printed rounding + slack."""
    ci = res.ci.set_index(np.round(res.ci["M"], 6))
    worst = 0.0
    for r in rows.itertuples():
        for col, pub in (("lower", r.lb), ("upper", r.ub)):
            diff = abs(ci.loc[round(r.M, 6), col] - float(pub))
            assert diff <= TOL, (r, col, diff)
            assert diff <= _half_unit(pub) + slack, (r, col, diff)
            worst = max(worst, diff)
    return worst


# ------------------------------------------------------------------------------------------------ published example


def test_rebuilt_event_study_reproduces_the_published_original_intervals(ehec, published):
    b, V = ehec["readme"]
    assert b.shape == (7,) and np.all(np.linalg.eigvalsh(V) > 0)
    orig = published[published.restriction == "original"].set_index("target")
    for target, lv in (("first", np.array([1.0, 0.0])), ("average", np.array([0.5, 0.5]))):
        res = honest_did(b, V, 5, 2, method="smoothness", grid=[0.0], target=target)
        se = math.sqrt(lv @ V[5:, 5:] @ lv)
        assert res.se == pytest.approx(se, rel=1e-12)
        for got, pub in zip(res.original, (orig.loc[target, "lb"], orig.loc[target, "ub"])):
            assert abs(got - float(pub)) <= _half_unit(pub) + 1e-9


def test_readme_relative_magnitudes_table(ehec, published):
    b, V = ehec["readme"]
    rows = published[(published.source == "r_readme") & (published.restriction == "relative_magnitude")]
    res = honest_did(b, V, 5, 2, method="relative_magnitude", grid=rows.M.to_numpy(), refine_breakdown=False)
    worst = _compare(res, rows, slack=3.7e-4)  # one theta-grid step
    assert worst < 2e-4
    assert res.inference == "C-LF"


def test_readme_smoothness_table_and_breakdown(ehec, published):
    b, V = ehec["readme"]
    rows = published[(published.source == "r_readme") & (published.restriction == "smoothness")]
    res = honest_did(b, V, 5, 2, method="smoothness", grid=rows.M.to_numpy())
    _compare(res, rows, slack=1e-4)
    # the README's reading: significant up to M = 0.02, not at 0.03 ("breakdown M ~ 0.03")
    assert 0.02 < res.breakdown <= 0.03
    ci = res.ci.set_index("M")
    assert ci.loc[0.02, "lower"] > 0 > ci.loc[0.03, "lower"]


def test_stata_readme_average_effect_table(ehec, published):
    b, V = ehec["readme"]
    rows = published[(published.source == "stata_readme") & (published.restriction == "relative_magnitude")]
    res = honest_did(b, V, 5, 2, method="relative_magnitude", grid=rows.M.to_numpy(), target="average", refine_breakdown=False)
    assert res.estimand == "theta_average"
    _compare(res, rows, slack=3.7e-4)


def test_mixtape_exercise_tables(ehec, published):
    b, V = ehec["mixtape"]
    for restriction, slack in (("relative_magnitude", 3.7e-4), ("smoothness", 1e-4)):
        rows = published[(published.source == "mixtape_exercise2") & (published.restriction == restriction)]
        res = honest_did(b, V, 5, 2, method=restriction, grid=rows.M.to_numpy(), refine_breakdown=False)
        _compare(res, rows, slack=slack)


# ------------------------------------------------------------------------------------------------ R outputs on BCdata


def test_bcdata_flci_original_and_default_grid(bc):
    b, S = bc["betahat"], bc["sigma"]
    flci = pd.DataFrame(bc["flci"])
    res = honest_did(b, S, 4, 4, method="smoothness", grid=flci.M.to_numpy(), refine_breakdown=False)
    got = res.ci[["lower", "upper"]].to_numpy()
    assert np.abs(got - flci[["lb", "ub"]].to_numpy()).max() <= TOL
    assert res.original == pytest.approx((bc["original_ci"]["lb"], bc["original_ci"]["ub"]), abs=1e-8)
    default = honest_did(b, S, 4, 4, method="smoothness", grid=None, refine_breakdown=False)
    assert default.ci.M.max() == pytest.approx(bc["sd_upper_bound_M"]["value"], abs=1e-8)
    assert len(default.ci) == 10 and default.ci.M.min() == 0


def test_bcdata_relative_magnitudes_clf(bc):
    b, S = bc["betahat"], bc["sigma"]
    ref = pd.DataFrame(bc["relative_magnitude_clf"])
    res = honest_did(b, S, 4, 4, method="relative_magnitude", grid=ref.Mbar.to_numpy(), refine_breakdown=False)
    got = res.ci[["lower", "upper"]].to_numpy()
    assert np.abs(got - ref[["lb", "ub"]].to_numpy()).max() <= TOL
    # Mbar = 2: the accepted set reaches the top of R's grid (20 sd above 0); flagged, value = grid end as in R
    assert res.ci.open_upper.iloc[-1] and not res.ci.open_upper.iloc[0]
    assert res.ci.upper.iloc[-1] == pytest.approx(20 * math.sqrt(S[4, 4]), rel=1e-12)


def test_bcdata_conditional_smoothness_exact_on_rs_grid(bc):
    # the general LP path of the ARP test (no closed form): same grid as R, so the same accepted points
    b, S = bc["betahat"], bc["sigma"]
    for row in bc["smoothness_conditional"]:
        res = honest_did(b, S, 4, 4, method="smoothness", inference="conditional", grid=[row["M"]], grid_points=row["grid_points"], refine_breakdown=False)
        assert res.ci.lower.iloc[0] == pytest.approx(row["lb"], abs=1e-6)
        assert res.ci.upper.iloc[0] == pytest.approx(row["ub"], abs=1e-6)


# ------------------------------------------------------------------------------------------------ internals


def test_rm_closed_form_vertices_match_the_linear_programmes():
    rng = np.random.default_rng(3)
    for K, T in ((3, 3), (2, 1), (4, 2)):
        A0 = rng.normal(size=(K + T, K + T))
        S = A0 @ A0.T / (K + T) * 1e-3 + np.eye(K + T) * 1e-4
        b = rng.normal(scale=0.05, size=K + T)
        for lv in (np.eye(T)[0], np.full(T, 1 / T), rng.normal(size=T)):
            A = H._rm_constraints(K, T, 1.3, -1 if K > 1 else 0, True)
            mom = H._Moments(A, np.zeros(A.shape[0]), b, S, K, lv, None)
            V = H._rm_vertices(mom.sd, lv)
            for theta in (-0.1, 0.0, 0.07):
                y = mom.Y - theta * mom.a
                eta_lp, g = mom.eta_lp(y)
                eta_v = float(np.max(V @ y))
                assert eta_v == pytest.approx(eta_lp, abs=1e-8)
                # the truncation points of the conditional test: bisection/Newton on LPs vs closed form
                lo, up = mom.truncation_lp(y, g)
                mom.V = V
                acc_v = H._accept_vertices(mom, np.array([theta]), 0.05, "ARP", None)[0]
                acc_lp = H._accept_lp(mom, theta, 0.05, "ARP", None)
                mom.V = None
                assert acc_v == acc_lp
                assert lo <= g @ y <= up


def test_rm_lp_path_with_least_favourable_values_matches_closed_form():
    rng = np.random.default_rng(5)
    K, T = 2, 2
    A0 = rng.normal(size=(K + T, K + T))
    S = A0 @ A0.T * 1e-4 + np.eye(K + T) * 1e-5
    b = np.r_[0.01, 0.006, 0.05, 0.07]
    lv = np.eye(T)[0]
    sd = math.sqrt(S[K, K])
    grid = np.linspace(-20 * sd, 20 * sd, 120)
    fast = H._rm_ci(b, S, K, T, lv, 1.0, 0.05, "LF", 120, 150, 0)
    accept = np.zeros(grid.size, dtype=bool)
    for s in range(-K + 1, 1):
        for pos in (True, False):
            A = H._rm_constraints(K, T, 1.0, s, pos)
            mom = H._Moments(A, np.zeros(A.shape[0]), b, S, K, lv)
            lf = mom.lf_cv(0.005, 150, 0)  # eta of every draw by linprog
            mom.V = H._rm_vertices(mom.sd, lv)
            assert lf == pytest.approx(mom.lf_cv(0.005, 150, 0), abs=1e-8)
            mom.V = None
            accept |= H._scan_grid(lambda th, m=mom, c=lf: H._accept_lp(m, th, 0.05, "LF", c), grid, stride=10)
    assert H._interval(grid, accept)[:2] == pytest.approx(fast[:2], abs=1e-12)


def test_flci_bias_is_the_worst_case_over_the_smoothness_set():
    from scipy.optimize import linprog

    rng = np.random.default_rng(1)
    K, T = 3, 3
    P = H._second_diff_map(K, T)
    periods = np.r_[np.arange(-K, 0), np.arange(1, T + 1)]
    A, d = H._sd_constraints(K, T, 1.0)
    for _ in range(5):
        w = rng.normal(size=K + T)
        w[0] -= (w @ periods) / periods[0]  # orthogonal to linear trends: finite worst-case bias
        worst = -linprog(-w, A_ub=A, b_ub=d, bounds=[(None, None)] * (K + T), method="highs").fun
        assert worst == pytest.approx(np.abs(P.T @ w).sum(), rel=1e-9)


def test_flci_is_the_shortest_interval():
    from scipy.optimize import minimize

    rng = np.random.default_rng(2)
    K, T = 3, 2
    A0 = rng.normal(size=(K + T, K + T))
    S = A0 @ A0.T * 1e-4 + np.eye(K + T) * 2e-5
    b = rng.normal(scale=0.05, size=K + T)
    lv = np.array([0.5, 0.5])
    P = H._second_diff_map(K, T)
    tp = np.arange(-K, 0.0)
    c = -float(np.array([1.0, 2.0]) @ lv)
    null = np.linalg.svd(tp[None, :])[2][1:].T
    base = tp * c / (tp @ tp)
    for M in (0.002, 0.01, 0.05):
        f = H._flci(b, S, K, T, lv, M, 0.05)

        def half(x: np.ndarray) -> float:
            w = np.r_[base + null @ x, lv]
            h = math.sqrt(w @ S @ w)
            return h * H._folded_cv(M * np.abs(P.T @ w).sum() / h, 0.05)

        brute = min(minimize(half, rng.normal(size=K - 1), method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 4000}).fun for _ in range(6))
        assert f["half_length"] <= brute * (1 + 1e-7)
        assert f["half_length"] == pytest.approx(brute, rel=1e-5)


def test_flci_at_m0_is_the_gls_linear_trend_extrapolation(bc):
    # Delta^SD(0) = linear trends through the reference period: the FLCI is the BLUE of l'tau in
    # beta = [t_pre, 0; t_post, I] (slope, tau) + noise, +/- z * its standard error (Gauss-Markov)
    b, S = bc["betahat"], bc["sigma"]
    K = T = 4
    X = np.zeros((K + T, 1 + T))
    X[:, 0] = np.r_[np.arange(-K, 0), np.arange(1, T + 1)]
    X[K:, 1:] = np.eye(T)
    Si = np.linalg.inv(S)
    cov = np.linalg.inv(X.T @ Si @ X)
    coef = cov @ X.T @ Si @ b
    for target, lv in (("first", np.eye(T)[0]), ("average", np.full(T, 0.25))):
        res = honest_did(b, S, K, T, method="smoothness", grid=[0.0], target=target)
        est, se = lv @ coef[1:], math.sqrt(lv @ cov[1:, 1:] @ lv)
        assert res.ci.lower.iloc[0] == pytest.approx(est - 1.959963984540054 * se, abs=1e-10)
        assert res.ci.upper.iloc[0] == pytest.approx(est + 1.959963984540054 * se, abs=1e-10)


def test_truncated_normal_quantile():
    from scipy.stats import truncnorm

    lo = np.array([-np.inf, -1.0, 0.5, -3.0, 2.0, -np.inf])
    hi = np.array([np.inf, 1.0, 3.0, -0.5, np.inf, -1.0])
    for p in (0.05, 0.5, 0.975):
        assert H._truncnorm_ppf(p, lo, hi) == pytest.approx(truncnorm.ppf(p, lo, hi), abs=1e-9)
    far = H._truncnorm_ppf(0.95, np.array([40.0]), np.array([np.inf]))[0]  # exponential tail: 40 + Exp(40)
    assert far == pytest.approx(40 + math.log(20) / 40, abs=2e-3)
    assert H._folded_cv(0.0, 0.05) == pytest.approx(1.959963984540054, abs=1e-12)
    assert H._folded_cv(5.0, 0.05) == pytest.approx(5 + 1.6448536269514722, abs=1e-6)


def test_identified_set_by_hand():
    # K = 2, T = 1: pre changes beta_-1 - beta_-2 and 0 - beta_-1; post |delta_1| <= Mbar * largest
    beta = np.array([0.02, 0.01, 0.2])  # a linear pre-trend, slope -0.01 per period towards the reference period
    largest = max(abs(0.01 - 0.02), abs(0.0 - 0.01))
    assert identified_set(beta, 2, 1, method="relative_magnitude", m=1.5) == pytest.approx((0.2 - 1.5 * largest, 0.2 + 1.5 * largest), abs=1e-10)
    # smoothness, M = 0: linear extrapolation of the slope through the reference period, delta_1 = -beta_-1
    assert identified_set(beta, 2, 1, method="smoothness", m=0.0) == pytest.approx((0.2 + 0.01, 0.2 + 0.01), abs=1e-10)
    lo, hi = identified_set(beta, 2, 1, method="smoothness", m=0.01)
    assert (lo, hi) == pytest.approx((0.21 - 0.01, 0.21 + 0.01), abs=1e-10)
    # pre-period coefficients that violate the restriction themselves: empty set
    assert all(math.isnan(v) for v in identified_set(np.array([0.03, 0.01, 0.2]), 2, 1, method="smoothness", m=0.0))


def test_intervals_shrink_to_the_identified_set_without_noise(bc):
    b, S = bc["betahat"], bc["sigma"] * 1e-10
    for method, inference, m in (("relative_magnitude", "C-LF", 1.0), ("smoothness", "conditional", 0.2)):  # pre-period second differences reach 0.15
        lo, hi = identified_set(b, 4, 4, method=method, m=m)
        bounds = (lo - 0.02, hi + 0.02)
        res = honest_did(b, S, 4, 4, method=method, inference=inference, grid=[m], theta_bounds=bounds, grid_points=401, refine_breakdown=False)
        step = (bounds[1] - bounds[0]) / 400
        assert res.ci.lower.iloc[0] == pytest.approx(lo, abs=1.01 * step)
        assert res.ci.upper.iloc[0] == pytest.approx(hi, abs=1.01 * step)


# ------------------------------------------------------------------------------------------------ properties


@pytest.mark.parametrize("method,grid", [("relative_magnitude", [0, 0.5, 1, 1.5, 2]), ("smoothness", [0, 0.01, 0.02, 0.04, 0.08])])
def test_intervals_widen_with_m_and_breakdown_is_where_zero_enters(ehec, method, grid):
    b, V = ehec["readme"]
    res = honest_did(b, V, 5, 2, method=method, grid=grid)
    length = (res.ci.upper - res.ci.lower).to_numpy()
    assert np.all(np.diff(length) >= -1e-9)
    covers = (res.ci.lower <= 0) & (res.ci.upper >= 0)
    first = int(np.argmax(covers.to_numpy()))
    assert covers.iloc[first] and not covers.iloc[:first].any()
    assert grid[first - 1] < res.breakdown <= grid[first]
    # bisection: zero inside at the breakdown value, outside just below it
    at = honest_did(b, V, 5, 2, method=method, grid=[res.breakdown], refine_breakdown=False).ci.iloc[0]
    below = honest_did(b, V, 5, 2, method=method, grid=[res.breakdown - 2e-3 * (grid[first] - grid[first - 1])], refine_breakdown=False).ci.iloc[0]
    assert at.lower <= 0 <= at.upper and below.lower > 0
    tidy = res.tidy()
    assert tidy.loc[tidy.estimand == "breakdown", "estimate"].iloc[0] == res.breakdown
    assert res.breakdown_status == "breaks down"


def test_breakdown_nan_when_zero_never_enters_and_zero_when_already_inside(ehec):
    b, V = ehec["readme"]
    res = honest_did(b, V, 5, 2, method="relative_magnitude", grid=[0.5, 1.0])
    assert math.isnan(res.breakdown)
    assert math.isnan(res.tidy().query("estimand == 'breakdown'").estimate.iloc[0])
    assert res.breakdown_status == "robust over the grid"
    flipped = honest_did(b * np.r_[np.ones(5), 0.0, 0.0], V, 5, 2, method="smoothness", grid=[0.01, 0.02])  # no effect
    assert flipped.breakdown == 0.0 and flipped.breakdown_status == "not significant at M = 0"


def test_tidy_contract_summary_and_plot(ehec):
    import matplotlib

    matplotlib.use("Agg")
    b, V = ehec["readme"]
    res = honest_did(b, V, 5, 2, method="smoothness", grid=[0, 0.01, 0.02], target="average", outcome="dins", refine_breakdown=False)
    tidy = res.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS
    assert set(tidy.method) == {"honest_did_sm"}
    assert list(tidy.estimand) == ["theta_average"] * 3 + ["breakdown"]
    assert list(tidy.group[:3]) == ["M=0", "M=0.01", "M=0.02"] and pd.isna(tidy.group.iloc[3])
    assert np.allclose(tidy.estimate[:3], b[5:].mean()) and np.allclose(tidy.std_error[:3], math.sqrt(V[5:, 5:].sum()) / 2)
    assert np.allclose(tidy.ci_lower[:3], res.ci.lower)
    assert "breakdown M" in res.summary() and "original" in res.summary()
    import matplotlib.pyplot as plt

    ax = res.plot()
    assert len(ax.collections) >= 4 and ax.get_legend() is not None
    assert ax.get_xticklabels()[0].get_text() == "original"
    plt.close(ax.figure)
    rm = honest_did(b, V, 5, 2, method="relative_magnitude", grid=[1.0], target=np.array([0.0, 1.0]))
    assert rm.tidy().method.iloc[0] == "honest_did_rm" and rm.estimand == "theta_custom" and rm.theta_hat == b[6]


# ------------------------------------------------------------------------------------------------ bad input


def test_bad_inputs_raise_one_line_errors(ehec):
    b, V = ehec["readme"]
    cases = [
        (dict(sigma=np.ones((7, 7)) * 1e-4), "not positive definite.*fewer event times"),
        (dict(grid=[]), "robustness.honest_grid_rm is empty"),
        (dict(grid=[0.5, -1.0]), "robustness.honest_grid_rm has negative"),
        (dict(method="smoothness", grid=[0.01, np.nan]), "robustness.honest_grid_sm has negative or non-finite"),
        (dict(num_pre=0, num_post=7), "num_pre=0.*at least 1 pre-period"),
        (dict(method="smoothness", num_pre=1, num_post=6), "num_pre=1.*at least 2"),
        (dict(target=np.ones(3)), "target has 3 weights but there are 2"),
        (dict(target="last"), "target='last' is unknown"),
        (dict(method="monotone"), "method='monotone'"),
        (dict(inference="FLCI"), "inference='FLCI' is not available for relative_magnitude"),
        (dict(betahat=b[:6]), "betahat has 6 coefficients"),
        (dict(alpha=1.5), "alpha=1.5"),
    ]
    for kw, msg in cases:
        args = dict(betahat=b, sigma=V, num_pre=5, num_post=2, method="relative_magnitude", grid=[1.0])
        args.update(kw)
        with pytest.raises(EstimationError, match=msg) as err:
            honest_did(**args)
        assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------------------ adapters


@pytest.fixture(scope="module")
def sim_design():
    from simdata import design_of, simulate_panel

    df = simulate_panel(n_units=60, n_periods=20, cohorts={8: 20, 12: 20}, effect=lambda e, g: 0.3 * (e + 1), noise=0.5, seed=11)
    return design_of(df), design_of(df, cluster="region")


def test_twfe_adapter_rebuilds_the_covariance(sim_design):
    from evidence.did import event_study

    design = sim_design[0]
    es = event_study(design, "y", window=(-5, 5))
    b, S, K, T, times = event_study_inputs(es, design)
    assert list(times) == [-4, -3, -2, 0, 1, 2, 3, 4] and (K, T) == (3, 5)  # binned end points -5 and 5 dropped
    tidy = es.tidy().query("estimand == 'event_time'").set_index("event_time")
    assert np.allclose(b, tidy.loc[times, "estimate"])
    assert np.allclose(np.sqrt(np.diag(S)), tidy.loc[times, "std_error"], rtol=1e-10)
    b2, _, K2, T2, times2 = event_study_inputs(es, design, drop_binned=False, window=(-5, 2))
    assert list(times2) == [-5, -4, -3, -2, 0, 1, 2] and (K2, T2) == (4, 3)
    with pytest.raises(EstimationError, match="pass design="):
        event_study_inputs(es)
    with pytest.raises(EstimationError, match="does not reproduce"):
        event_study_inputs(es, _other_design())
    res = honest_did(b, S, K, T, method="relative_magnitude", grid=[0, 1], source="twfe_event_study", refine_breakdown=False)
    assert res.source == "twfe_event_study" and np.all(res.ci.lower < res.ci.upper)


def _other_design():
    """A design with the same structure but other data: the refit cannot reproduce the stored estimates."""
    from simdata import design_of, simulate_panel

    return design_of(simulate_panel(n_units=60, n_periods=20, cohorts={8: 20, 12: 20}, effect=0.0, noise=0.5, seed=12))


@pytest.mark.parametrize("clustered", [False, True])
def test_cs_adapter_covariance_from_influence_functions(sim_design, clustered):
    from evidence.staggered import cs

    design = sim_design[int(clustered)]
    agg = cs(design, "y", base_period="universal").aggregate("dynamic")
    b, S, K, T, times = event_study_inputs(agg, window=(-6, 6))
    assert times[0] == -6 and times[-1] == 6 and -1 not in times and (K, T) == (5, 7)
    tidy = agg.tidy().dropna(subset=["event_time"]).set_index("event_time")
    assert np.allclose(b, tidy.loc[times, "estimate"])
    assert np.allclose(np.sqrt(np.diag(S)), tidy.loc[times, "std_error"], rtol=1e-10)
    if not clustered:  # IF'IF / n^2, R's honest_did formula
        inner = agg.inner
        keep = np.isin(inner.egt, times)
        IF = inner.influence_function[:, keep]
        assert np.allclose(S, IF.T @ IF / inner.n_units**2, rtol=1e-10, atol=1e-14)
    with pytest.raises(EstimationError, match="base_period='universal'"):
        event_study_inputs(cs(design, "y").aggregate("dynamic"))
    with pytest.raises(EstimationError, match="aggregate\\('dynamic'\\)"):
        event_study_inputs(cs(design, "y", base_period="universal").aggregate("group"))


def test_adapter_rejects_gaps(sim_design):
    from evidence.did import event_study

    design = sim_design[0]
    es = event_study(design, "y", window=(-5, 5))
    with pytest.raises(EstimationError, match="pre-period event times are not consecutive"):
        event_study_inputs(_drop(es, -3), design)
    with pytest.raises(EstimationError, match="post-period event times are not consecutive"):
        event_study_inputs(_drop(es, 2), design)


def _drop(es, e):
    """An event study whose table lacks event time e (as when an event time has no observations)."""
    import copy

    out = copy.copy(es)
    t = es.tidy()
    out._tidy = t[t.event_time.isna() | (t.event_time != e)].reset_index(drop=True)
    out.details = dict(es.details, cov=None)
    return out
