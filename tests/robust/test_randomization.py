"""Randomisation inference: exact enumeration against hand enumeration, the null distribution, bad input."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from evidence.did import did_2x2, twfe
from evidence.errors import EstimationError
from evidence.results import ESTIMATE_COLUMNS
from evidence.robust import enumerate_assignments, n_assignments, randomization_inference

from simdata import design_of, simulate_panel


def dummy_ols_coef(y: np.ndarray, D: np.ndarray) -> float:
    """TWFE coefficient by least squares with explicit unit and period dummies (independent of the package)."""
    N, T = y.shape
    X = np.column_stack([D.ravel(), np.repeat(np.eye(N), T, axis=0), np.tile(np.eye(T), (N, 1))[:, 1:]])
    return float(np.linalg.lstsq(X, y.ravel(), rcond=None)[0][0])


@pytest.fixture(scope="module")
def six():
    """6 units x 8 periods, 2 treated from period 4 (C(6, 2) = 15 assignments), an effect of 1."""
    return design_of(simulate_panel(6, 8, {4: 2}, effect=1.0, noise=1.0, seed=3))


def test_enumeration_helpers():
    assert n_assignments([2, 4]) == 15
    assert n_assignments([1, 1, 4]) == 30
    A = enumerate_assignments([2, 1, 3])
    assert A.shape == (60, 6)
    assert len({tuple(r) for r in A}) == 60
    assert set(map(tuple, A)) == set(itertools.permutations([0, 0, 1, 2, 2, 2]))


def test_exact_p_value_equals_hand_enumeration(six):
    res = randomization_inference(six, "y")
    d = res.details
    assert d["exact"] and d["n_assignments"] == 15 and d["permutations"] == 15
    y = six.panel.matrix("y")
    T = y.shape[1]
    coefs = []
    for treated in itertools.combinations(range(6), 2):
        g = np.full(6, np.inf)
        g[list(treated)] = 4
        coefs.append(dummy_ols_coef(y, (np.arange(T)[None, :] >= g[:, None]).astype(float)))
    coefs = np.array(coefs)
    obs = dummy_ols_coef(y, six.treatment_matrix())
    hand_p = np.mean(np.abs(coefs) >= abs(obs) - 1e-12)
    row = res.tidy().iloc[0]
    assert row["p_value"] == pytest.approx(hand_p, abs=1e-15)
    assert row["estimate"] == pytest.approx(obs, rel=1e-10)
    np.testing.assert_allclose(np.sort(d["stats"]), np.sort(coefs), rtol=1e-9, atol=1e-12)
    # the observed assignment is one of the 15, so p >= 1/15
    assert row["p_value"] >= 1 / 15


def test_exact_two_cohorts_against_permutations():
    design = design_of(simulate_panel(6, 9, {3: 1, 6: 1}, effect=0.5, seed=8))
    res = randomization_inference(design, "y")
    assert res.details["exact"] and res.details["n_assignments"] == 30
    y = design.panel.matrix("y")
    T = y.shape[1]
    coefs = []
    for perm in sorted(set(itertools.permutations(design.g.tolist()))):
        g = np.array(perm)
        coefs.append(dummy_ols_coef(y, (np.arange(T)[None, :] >= g[:, None]).astype(float)))
    np.testing.assert_allclose(np.sort(res.details["stats"]), np.sort(coefs), rtol=1e-9, atol=1e-12)


def test_t_statistic_and_did_2x2(six):
    res_t = randomization_inference(six, "y", statistic="t")
    ref = twfe(six, "y", engine="numpy").tidy().iloc[0]
    assert res_t.details["stat_obs"] == pytest.approx(ref["estimate"] / ref["std_error"], rel=1e-9)
    assert np.isnan(res_t.tidy()["ci_lower"].iloc[0])
    res_d = randomization_inference(six, "y", estimator="did_2x2")
    assert res_d.tidy()["estimate"].iloc[0] == pytest.approx(did_2x2(six, "y").tidy()["estimate"].iloc[-1], rel=1e-12)


def test_null_distribution_centred_and_power():
    null = design_of(simulate_panel(40, 20, {8: 6, 12: 6}, effect=0.0, seed=21))
    res = randomization_inference(null, "y", permutations=999, seed=1)
    s = res.details["stats"]
    assert not res.details["exact"] and s.size == 999
    assert abs(s.mean()) < 0.1 * s.std()
    assert res.tidy()["p_value"].iloc[0] > 0.05
    effect = design_of(simulate_panel(40, 20, {8: 6, 12: 6}, effect=1.5, seed=21))
    r2 = randomization_inference(effect, "y", permutations=999, seed=1).tidy().iloc[0]
    assert r2["p_value"] == pytest.approx(1 / 1000)  # sampled: (1 + 0) / (1 + 999)
    assert r2["ci_lower"] < 1.5 < r2["ci_upper"]


def test_interval_inverts_constant_effect_nulls():
    design = design_of(simulate_panel(30, 16, {7: 8}, effect=1.0, seed=4))
    res = randomization_inference(design, "y", permutations=499, seed=2)
    row = res.tidy().iloc[0]
    lo, hi = row["ci_lower"], row["ci_upper"]
    assert lo < row["estimate"] < hi
    D = design.treatment_matrix()
    y = design.panel.matrix("y")
    # re-running the test on y - tau D (a design whose outcome has the constant effect removed) at the ends
    for tau, inside in ((lo + 1e-6, True), (hi - 1e-6, True), (lo - 1e-3, False), (hi + 1e-3, False)):
        df = design.panel.data.copy()
        df["y"] = (y - tau * D).ravel()
        design.panel.data = df
        try:
            p = randomization_inference(design, "y", permutations=499, seed=2).tidy()["p_value"].iloc[0]
        finally:
            design.panel.data = design.panel.data.assign(y=y.ravel())
        assert (p > 0.05) == inside, (tau, p)


def test_cluster_level_permutation():
    # 12 units in 6 clusters of 2; treatment assigned by cluster (clusters 0 and 1 treated)
    df = simulate_panel(12, 8, {4: 4}, effect=0.0, seed=6)
    df["cl"] = df["area"].str[1:].astype(int).floordiv(2).astype(str).radd("C")
    design = design_of(df, cluster="cl")
    res = randomization_inference(design, "y")
    assert res.details["level"] == "cluster" and res.details["exact"] and res.details["n_assignments"] == 15
    unit = randomization_inference(design, "y", level="unit")
    assert unit.details["n_assignments"] == n_assignments([4, 8]) == 495
    mixed = design_of(simulate_panel(12, 8, {4: 3}, seed=6), cluster="region")
    auto = randomization_inference(mixed, "y")  # timing varies within clusters: auto permutes units, and says so
    assert auto.details["level"] == "unit (timing varies within clusters)" and auto.details["n_assignments"] == n_assignments([3, 9])
    with pytest.raises(EstimationError, match="set inference.permutation_level: unit") as exc:
        randomization_inference(mixed, "y", level="cluster")
    assert "level=" not in str(exc.value)


def test_contract_plot_and_determinism(six):
    big = design_of(simulate_panel(20, 10, {5: 5}, seed=2))
    a = randomization_inference(big, "y", permutations=199, seed=5)
    tidy = a.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS
    assert (tidy["method"].iloc[0], tidy["estimand"].iloc[0], tidy["group"].iloc[0]) == ("randomization", "att", "all")
    pd.testing.assert_frame_equal(tidy, randomization_inference(big, "y", permutations=199, seed=5).tidy())
    assert "Randomisation inference over units" in a.summary()
    assert a.plot() is not None


def test_bad_inputs(six):
    with pytest.raises(EstimationError, match="only 15 distinct assignments") as exc:
        randomization_inference(six, "y", permutations=999, exact=True)
    assert "\n" not in str(exc.value)
    assert randomization_inference(six, "y", permutations=15, exact=True).details["n_assignments"] == 15
    one = design_of(simulate_panel(1, 6, {3: 1}, seed=1))
    with pytest.raises(EstimationError, match="at least two"):
        randomization_inference(one, "y")
    with pytest.raises(EstimationError, match="statistic='t'"):
        randomization_inference(six, "y", estimator="did_2x2", statistic="t")
    with pytest.raises(EstimationError, match="permutations=0"):
        randomization_inference(six, "y", permutations=0)


# --- Callaway-Sant'Anna overall ATT under re-assigned timing ----------------------------------------------------


def _cs_simple(design, outcome="y", control_group="not_yet_treated"):
    from evidence.staggered.from_design import cs

    t = cs(design, outcome, control_group=control_group, est_method="reg", base_period="universal").aggregate("simple").tidy()
    return float(t["estimate"].iloc[0])


@pytest.mark.parametrize("control_group", ["not_yet_treated", "never_treated"])
def test_cs_statistic_equals_the_estimator_for_the_observed_and_permuted_timings(control_group):
    df = simulate_panel(n_units=24, n_periods=14, cohorts={5: 4, 9: 3, 11: 1}, effect=lambda e, g: 1 + 0.2 * e, seed=11)
    d = design_of(df)
    ri = randomization_inference(d, "y", estimator="cs", permutations=199, seed=3, cs_control=control_group)
    assert ri.tidy()["estimate"].iloc[0] == pytest.approx(_cs_simple(d, control_group=control_group), abs=1e-10)
    # relabel the cohorts across units (a permutation of first-treated dates) and re-estimate with the engine
    rng = np.random.default_rng(5)
    first = df.groupby("area", sort=True)["first"].first()
    perm = pd.Series(rng.permutation(first.to_numpy()), index=first.index)
    d2 = design_of(df.assign(first=df["area"].map(perm)))
    ri2 = randomization_inference(d2, "y", estimator="cs", permutations=199, seed=3, cs_control=control_group)
    assert ri2.tidy()["estimate"].iloc[0] == pytest.approx(_cs_simple(d2, control_group=control_group), abs=1e-10)
    # the permutation distribution contains the estimator's value for the relabelled design (same outcomes)
    stats = ri.details["stats"]
    assert np.isfinite(stats).all() and stats.size == 199


def test_cs_randomization_rejects_a_real_effect_and_not_a_null():
    null = design_of(simulate_panel(n_units=30, n_periods=16, cohorts={6: 6, 10: 6}, effect=0.0, noise=1.0, seed=2))
    eff = design_of(simulate_panel(n_units=30, n_periods=16, cohorts={6: 6, 10: 6}, effect=3.0, noise=1.0, seed=2))
    p_null = randomization_inference(null, "y", estimator="cs", permutations=499, seed=1).tidy()["p_value"].iloc[0]
    r = randomization_inference(eff, "y", estimator="cs", permutations=499, seed=1).tidy().iloc[0]
    assert p_null > 0.05 and r["p_value"] < 0.01
    assert r["ci_lower"] < 3.0 < r["ci_upper"]  # the inverted interval covers the true constant effect


def test_cs_randomization_needs_never_treated_units_for_that_comparison():
    d = design_of(simulate_panel(n_units=12, n_periods=12, cohorts={4: 6, 8: 6}, seed=1))
    with pytest.raises(EstimationError, match="not_yet_treated comparison"):
        randomization_inference(d, "y", estimator="cs", cs_control="never_treated")


def test_twfe_coefficient_from_suffix_sums_equals_the_dense_statistic():
    """The O(N)-per-assignment TWFE coefficient (suffix sums of the demeaned outcome) equals the statistic built from
    each assignment's treatment array, for units treated from the first period, inside and never."""
    from evidence.inference import demean_two_way
    from evidence.robust.randomization import _twfe_coef_suffix, _twfe_stats

    rng = np.random.default_rng(2)
    N, T = 60, 14
    g = np.where(rng.random(N) < 0.6, rng.integers(-1, T + 2, N), np.inf).astype(float)
    y = rng.normal(size=(N, T))
    D = (np.arange(T)[None, :] >= g[:, None]).astype(float)
    ys = np.stack([demean_two_way(y), demean_two_way(D)])
    A = np.stack([rng.permutation(g) for _ in range(40)])
    S = np.concatenate([np.cumsum(ys[:, :, ::-1], axis=2)[:, :, ::-1], np.zeros((2, N, 1))], axis=2)
    assert np.abs(_twfe_coef_suffix(A, S, T) - _twfe_stats(A, ys, None, T)[0]).max() < 1e-12
    # and the statistic of the observed assignment is the TWFE coefficient
    assert _twfe_coef_suffix(g[None], S, T)[0, 0] == pytest.approx(dummy_ols_coef(y, D), abs=1e-10)


def test_assignment_counts_too_long_to_print_are_powers_of_ten():
    from evidence.robust.randomization import count_text

    m = n_assignments([6000, 6000, 6000, 12000])  # 30,000 small areas: over 17,000 digits
    assert count_text(m).startswith("about 10^17,") and count_text(120) == "120"
