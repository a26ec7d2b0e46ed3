"""Wild cluster bootstrap: against a brute-force re-estimation loop, a stored wildboottest reference, and by its size
with few clusters."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import special

from evidence.did import did_2x2, twfe
from evidence.did.estimators import _WithinFit
from evidence.errors import EstimationError
from evidence.inference import cluster_vcov, demean_two_way
from evidence.results import ESTIMATE_COLUMNS
from evidence.robust import LinearProblem, bootstrap_weights, wild_bootstrap
from evidence.robust.wild import _problem, stacked_2x2

from simdata import design_of, simulate_panel


@pytest.fixture(scope="module")
def region_design():
    """40 units in 8 region clusters, two cohorts, a constant effect of 0.5."""
    return design_of(simulate_panel(40, 20, {8: 10, 13: 6}, effect=0.5, noise=1.0, seed=11), cluster="region")


@pytest.fixture(scope="module")
def unit_design():
    """30 units (each its own cluster), one cohort of 5, no effect."""
    return design_of(simulate_panel(30, 16, {9: 5}, effect=0.0, seed=5))


def brute_force_twfe(design, outcome, V, null, restricted):
    """Re-run the two-way fixed-effects regression on y* = fitted + v_g * resid for every draw (the definition)."""
    y = design.panel.matrix(outcome)
    D = design.treatment_matrix()
    codes = design.cluster_codes
    fit = _WithinFit(y, {"treated": D}, codes)
    b_hat = float(fit.params["treated"])
    b0 = null if restricted else b_hat
    resid = demean_two_way(y - b0 * D)  # residuals of the (restricted) model: y - b0 D on unit and period effects
    fitted = y - resid
    t_boot = np.empty(V.shape[0])
    for b, v in enumerate(V):
        f = _WithinFit(fitted + v[codes][:, None] * resid, {"treated": D}, codes)
        t_boot[b] = (float(f.params["treated"]) - b0) / float(f.std_errors["treated"])
    t_obs = (b_hat - null) / float(fit.std_errors["treated"])
    return t_obs, t_boot


def share_at_least(t_boot, t_obs):
    return float(np.mean(np.abs(t_boot) >= abs(t_obs) * (1 - 1e-10)))


@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("weights", ["rademacher", "webb"])
def test_fast_equals_brute_force_twfe_region_clusters(region_design, restricted, weights):
    y = region_design.panel.matrix("y")
    prob, yv, _ = _problem(region_design, y, "twfe")
    V, enumerated = bootstrap_weights(prob.G, 199, weights, seed=3)
    assert not enumerated and V.shape == (199, 8)
    wd = prob.bootstrap(yv, V, restricted=restricted)
    for null in (0.0, 0.3):
        t_obs, t_bf = brute_force_twfe(region_design, "y", V, null, restricted)
        np.testing.assert_allclose(wd.t_boot(null), t_bf, rtol=1e-9, atol=1e-9)
        assert wd.t_stat(null) == pytest.approx(t_obs, rel=1e-12)
        assert wd.p_value(null) == share_at_least(t_bf, t_obs)


def test_fast_equals_brute_force_with_enumeration_and_public_api(region_design):
    # 8 clusters, Rademacher, draws >= 2^8: all 256 sign vectors, p-values identical to the loop (ties included)
    res = wild_bootstrap(region_design, "y", draws=999)
    d = res.details
    assert d["enumerated"] and d["draws"] == 256 and d["restricted"]
    V, enumerated = bootstrap_weights(8, 999)
    assert enumerated and len({tuple(r) for r in V}) == 256
    t_obs, t_bf = brute_force_twfe(region_design, "y", V, 0.0, True)
    np.testing.assert_allclose(d["t_boot"], t_bf, rtol=1e-9, atol=1e-9)
    assert res.tidy()["p_value"].iloc[0] == share_at_least(t_bf, t_obs)
    assert d["t_stat"] == pytest.approx(t_obs, rel=1e-12)
    # v = (1, ..., 1) reproduces the data: the observed t is one of the draws
    assert np.min(np.abs(np.abs(t_bf) - abs(t_obs))) < 1e-9


def test_fast_equals_brute_force_unit_clusters_nonzero_null(unit_design):
    y = unit_design.panel.matrix("y")
    prob, yv, _ = _problem(unit_design, y, "twfe")
    V, _ = bootstrap_weights(prob.G, 99, "webb", seed=1)
    wd = prob.bootstrap(yv, V, restricted=True)
    t_obs, t_bf = brute_force_twfe(unit_design, "y", V, -0.4, True)
    np.testing.assert_allclose(wd.t_boot(-0.4), t_bf, rtol=1e-9, atol=1e-9)
    assert wd.p_value(-0.4) == share_at_least(t_bf, t_obs)


def test_fast_equals_brute_force_did_2x2(region_design):
    y = region_design.panel.matrix("y")
    st = stacked_2x2(y, region_design.g, region_design.cluster_codes)
    X, Y, grp, R = st["X"], st["Y"], st["groups"], st["R"]
    V, _ = bootstrap_weights(8, 150, "webb", seed=9)
    null = 0.2
    # restricted least squares by the textbook formula, then a loop of OLS re-fits
    XtXi = np.linalg.inv(X.T @ X)
    b = XtXi @ X.T @ Y
    b_r = b - XtXi @ R * (R @ b - null) / (R @ XtXi @ R)
    u_r = Y - X @ b_r
    t_bf = []
    for v in V:
        ys = X @ b_r + v[grp] * u_r
        bs = XtXi @ X.T @ ys
        Vc = cluster_vcov(X, ys - X @ bs, grp, XtXi)
        t_bf.append((R @ bs - null) / np.sqrt(R @ Vc @ R))
    t_bf = np.array(t_bf)
    prob, yv, _ = _problem(region_design, y, "did_2x2")
    wd = prob.bootstrap(yv, V, restricted=True)
    np.testing.assert_allclose(wd.t_boot(null), t_bf, rtol=1e-9, atol=1e-9)
    t_obs = (R @ b - null) / np.sqrt(R @ cluster_vcov(X, Y - X @ b, grp, XtXi) @ R)
    assert wd.p_value(null) == share_at_least(t_bf, t_obs)


def test_estimate_and_se_are_those_of_twfe_and_did_2x2(region_design):
    for est, ref in (("twfe", twfe(region_design, "y", engine="numpy").tidy().iloc[0]), ("did_2x2", did_2x2(region_design, "y").tidy().iloc[-1])):
        row = wild_bootstrap(region_design, "y", estimator=est, draws=99, weights="webb").tidy().iloc[0]
        assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-12)
        assert row["std_error"] == pytest.approx(ref["std_error"], rel=1e-10)
        assert int(row["n_clusters"]) == 8


def test_wildboottest_stored_reference(unit_design):
    """The same problem run once in wildboottest 0.3.2 with the package's weights (stored p-values; produced by
    bench/references/wildboottest_reference.py): runs under make test, where the peer is not installed."""
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "wild" / "wildboottest_reference.json").read_text())
    y = unit_design.panel.matrix("y")
    prob, yv, _ = _problem(unit_design, y, "twfe")
    V, _ = bootstrap_weights(prob.G, int(ref["draws"]), "rademacher", seed=0)
    for restricted in (True, False):
        ours = prob.bootstrap(yv, V, restricted=restricted).p_value(0.0)
        assert ours == pytest.approx(ref["p_values"]["restricted" if restricted else "unrestricted"], abs=1e-12)
    # (the t statistics differ by the small-sample factor each package uses; bootstrap p-values are invariant to it)


def test_size_with_few_treated_clusters():
    """10 clusters of very different sizes (1-8 units), 3 treated, heteroskedastic cluster-period shocks, no effect:
    the CRVE t-test (t with G-1 df) over-rejects, the WCR bootstrap (all 2^10 sign vectors) does not."""
    rng = np.random.default_rng(20240611)
    sizes = [1, 1, 2, 2, 3, 3, 4, 5, 6, 8]
    treated_clusters = [0, 4, 9]
    G, T, reps, batch = len(sizes), 12, 2000, 250
    codes = np.repeat(np.arange(G), sizes)
    N = codes.size
    g = np.where(np.isin(codes, treated_clusters), T // 2, np.inf)
    D = (np.arange(T)[None, :] >= g[:, None]).astype(float)
    prob = LinearProblem(demean_two_way(D).reshape(-1, 1), np.repeat(codes, T), np.array([1.0]), panel_shape=(N, T))
    V, enumerated = bootstrap_weights(G, 9999, "rademacher")
    assert enumerated and V.shape[0] == 1024
    sd = np.linspace(0.5, 2.0, G)[codes][:, None, None]  # heteroskedastic across clusters
    t0 = time.perf_counter()
    rej_crve = rej_wcr = 0
    for _ in range(reps // batch):
        e = sd * (rng.normal(size=(G, T, batch))[codes] + rng.normal(size=(N, T, batch)))  # cluster-period shocks + noise
        Y = (e - e.mean(axis=1, keepdims=True) - e.mean(axis=0, keepdims=True) + e.mean(axis=(0, 1), keepdims=True)).reshape(N * T, batch)
        for wd in prob.bootstrap(Y, V, restricted=True):
            rej_crve += 2 * special.stdtr(G - 1, -abs(wd.t_stat(0.0))) < 0.05
            rej_wcr += wd.p_value(0.0) < 0.05
    rate_crve, rate_wcr = rej_crve / reps, rej_wcr / reps
    print(f"rejection at 5%: CRVE {rate_crve:.3f}, WCR {rate_wcr:.3f}")
    assert rate_crve > 0.12, rate_crve
    assert 0.02 < rate_wcr < 0.08, rate_wcr
    assert time.perf_counter() - t0 < 20


def test_confidence_interval_inverts_the_test(region_design):
    res = wild_bootstrap(region_design, "y", weights="webb", draws=1999, seed=4)
    row = res.tidy().iloc[0]
    lo, hi, est = row["ci_lower"], row["ci_upper"], row["estimate"]
    assert lo < est < hi
    y = region_design.panel.matrix("y")
    prob, yv, _ = _problem(region_design, y, "twfe")
    V, _ = bootstrap_weights(prob.G, 1999, "webb", seed=4)
    wd = prob.bootstrap(yv, V, restricted=True)
    eps = 1e-6 * row["std_error"]
    assert wd.p_value(lo + eps) > 0.05 >= wd.p_value(lo - eps)
    assert wd.p_value(hi - eps) > 0.05 >= wd.p_value(hi + eps)
    # the null inside the interval is not rejected, the p-value of the row is that of null 0
    assert row["p_value"] == wd.p_value(0.0)
    assert (row["p_value"] > 0.05) == (lo < 0.0 < hi)


def test_wcu_interval_is_symmetric_percentile_t(region_design):
    res = wild_bootstrap(region_design, "y", restricted=False, weights="webb", draws=999, seed=2)
    row = res.tidy().iloc[0]
    est, se = row["estimate"], row["std_error"]
    assert (row["ci_upper"] - est) == pytest.approx(est - row["ci_lower"], rel=1e-6)
    a = np.sort(np.abs(res.details["t_boot"]))[::-1]
    crit = a[int(np.floor(0.05 * a.size))]  # accepted while more than 5% of |t*| are at least |t|
    assert (row["ci_upper"] - est) / se == pytest.approx(crit, rel=1e-6)


def test_result_contract_summary_plot_and_determinism(region_design):
    res = wild_bootstrap(region_design, "y", weights="webb", draws=499, seed=7)
    tidy = res.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS
    row = tidy.iloc[0]
    assert (row["method"], row["estimand"], row["group"], row["outcome"]) == ("wild_bootstrap", "att", "all", "y")
    for key in ("t_stat", "draws", "weights", "restricted", "enumerated", "t_boot", "p_value_crve"):
        assert key in res.details
    assert res.details["draws"] == 499 and res.details["weights"] == "webb" and not res.details["enumerated"]
    assert "WCR bootstrap-t" in res.summary()
    ax = res.plot()
    assert ax.get_xlabel() == "t-statistic"
    again = wild_bootstrap(region_design, "y", weights="webb", draws=499, seed=7).tidy()
    pd.testing.assert_frame_equal(tidy, again)
    other = wild_bootstrap(region_design, "y", weights="webb", draws=499, seed=8).tidy()
    assert other["p_value"].iloc[0] != row["p_value"] or other["ci_lower"].iloc[0] != row["ci_lower"]


def test_weights_distributions():
    V, enumerated = bootstrap_weights(40, 20000, "webb", seed=0)
    assert not enumerated
    assert set(np.round(np.unique(V) ** 2, 12)) == {0.5, 1.0, 1.5}
    assert abs(V.mean()) < 0.01 and abs((V**2).mean() - 1) < 0.01
    R, _ = bootstrap_weights(40, 100, "rademacher", seed=0)
    assert set(np.unique(R)) == {-1.0, 1.0}
    # 13 clusters: 2^13 > 12-cluster limit, sampled even with many draws
    assert not bootstrap_weights(13, 10**5)[1]


def test_speed_real_sized_problem():
    """9,999 draws x 42 clusters x 36 periods (the real default design's size): the whole call (bootstrap, p-value,
    test-inversion interval) takes well under a second (0.1-0.2 s measured; bench/bench_wild.py); bound loose for
    shared machines."""
    design = design_of(simulate_panel(42, 36, {15: 9, 26: 4}, effect=0.0, seed=1))
    wild_bootstrap(design, "y", draws=99)  # warm-up
    t0 = time.perf_counter()
    res = wild_bootstrap(design, "y", draws=9999)
    assert time.perf_counter() - t0 < 2.0
    assert res.details["draws"] == 9999 and res.tidy()["n_clusters"].iloc[0] == 42


def test_bad_inputs(region_design):
    df = simulate_panel(12, 10, {5: 3}, seed=1)
    df["one"] = "all"
    one = design_of(df, cluster="one")
    with pytest.raises(EstimationError, match="at least two") as exc:
        wild_bootstrap(one, "y")
    assert "\n" not in str(exc.value)
    with pytest.raises(EstimationError, match="draws=0"):
        wild_bootstrap(region_design, "y", draws=0)
    with pytest.raises(EstimationError, match="weights 'mammen'"):
        wild_bootstrap(region_design, "y", weights="mammen")
    with pytest.raises(EstimationError, match="estimator 'cs'"):
        wild_bootstrap(region_design, "y", estimator="cs")
    with pytest.raises(EstimationError, match="outcome 'nope'"):
        wild_bootstrap(region_design, "nope")


def test_factored_score_map_equals_the_dense_one():
    """With many clusters the bootstrap scores come from the factors of P (diagonal plus rank k + T): the same draws'
    numbers as the G x G matrix, for several outcomes at once, WCR and WCU."""
    rng = np.random.default_rng(1)
    N, T = 400, 12
    codes = np.arange(N) // 2
    g = np.where(rng.random(N) < 0.4, rng.integers(3, 10, N), np.inf)
    D = (np.arange(T)[None, :] >= g[:, None]).astype(float)
    prob = LinearProblem(demean_two_way(D).reshape(-1, 1), np.repeat(codes, T), np.array([1.0]), panel_shape=(N, T))
    assert prob.G == 200 and prob.factored
    Y = demean_two_way(rng.normal(size=(N, T, 3)) + 0.2 * D[:, :, None]).reshape(N * T, 3)
    V, _ = bootstrap_weights(prob.G, 499, "webb", seed=3)
    for restricted in (True, False):
        fast = prob.bootstrap(Y, V, restricted=restricted)
        prob.factored = False
        dense = prob.bootstrap(Y, V, restricted=restricted)
        prob.factored = True
        for a, b in zip(fast, dense):
            for f in ("n1", "n2", "A", "C", "D"):
                x, z = getattr(a, f), getattr(b, f)
                assert np.abs(x - z).max() <= 1e-10 * max(1.0, np.abs(z).max()), f
            assert a.p_value(0.0) == b.p_value(0.0)
