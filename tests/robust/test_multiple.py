"""Holm against statsmodels; Romano-Wolf against a brute-force step-down and its defining properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from evidence.did import twfe
from evidence.errors import EstimationError
from evidence.results import ESTIMATE_COLUMNS
from evidence.robust import holm, romano_wolf, romano_wolf_adjust, wild_bootstrap

from simdata import design_of, simulate_panel


@pytest.fixture(scope="module")
def multi_design():
    """40 units in 8 region clusters; outcomes y (effect 0.6), y2 = y + noise (correlated), w (independent, no effect)."""
    df = simulate_panel(40, 20, {8: 10, 13: 6}, effect=0.6, noise=1.0, seed=31)
    rng = np.random.default_rng(2)
    df["y2"] = df["y"] + rng.normal(0, 0.3, len(df))
    df["w"] = rng.normal(0, 1, len(df)) + np.repeat(rng.normal(0, 2, 40), 20)
    d = design_of(df, cluster="region")
    for col in ("y2", "w"):
        d.panel.data[col] = df[col].to_numpy()
        d.panel.outcomes.append(col)
        d.panel.outcome_kinds[col] = "continuous"
    return d


def test_holm_equals_statsmodels():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 12):
        p = rng.uniform(0, 0.2, m)
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)
    tied = np.array([0.01, 0.01, 0.04, 0.04, 0.5])
    np.testing.assert_allclose(holm(tied), multipletests(tied, method="holm")[1], atol=1e-15)
    s = pd.Series([0.03, 0.001, 0.2], index=["a", "b", "c"])
    out = holm(s)
    assert list(out.index) == ["a", "b", "c"]
    np.testing.assert_allclose(out.to_numpy(), multipletests(s.to_numpy(), method="holm")[1])
    with_nan = holm(np.array([0.01, np.nan, 0.02]))
    assert np.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02)
    with pytest.raises(EstimationError, match="outside"):
        holm([0.5, 1.5])


def test_holm_on_tidy_rows(multi_design):
    rows = pd.concat([twfe(multi_design, o, engine="numpy").tidy() for o in ("y", "y2", "w")], ignore_index=True)
    out = holm(rows)
    assert list(out.columns) == ESTIMATE_COLUMNS
    assert set(out["method"]) == {"holm"} and set(out["estimand"]) == {"att"}
    np.testing.assert_allclose(out["p_value"], multipletests(rows["p_value"], method="holm")[1])
    assert out["ci_lower"].isna().all()


def brute_force_romano_wolf(t_obs, t_boot):
    """The step-down as in Romano and Wolf (2016, algorithm 4.1), written as a plain loop."""
    S = len(t_obs)
    order = sorted(range(S), key=lambda j: -abs(t_obs[j]))
    adj, prev = {}, 0.0
    for s in range(S):
        rest = order[s:]
        count = 0
        for b in range(t_boot.shape[0]):
            if max(abs(t_boot[b, j]) for j in rest) >= abs(t_obs[order[s]]) * (1 - 1e-10):
                count += 1
        prev = max(prev, count / t_boot.shape[0])
        adj[order[s]] = prev
    return np.array([adj[j] for j in range(S)])


def test_romano_wolf_adjust_against_loop():
    rng = np.random.default_rng(5)
    t_boot = rng.standard_t(5, size=(400, 4)) @ np.array([[1, 0.5, 0, 0], [0, 1, 0.3, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    t_obs = np.array([2.5, -0.4, 3.1, 1.7])
    np.testing.assert_allclose(romano_wolf_adjust(t_obs, t_boot), brute_force_romano_wolf(t_obs, t_boot))


def test_romano_wolf_properties(multi_design):
    res = romano_wolf(multi_design, ["y", "y2", "w"], draws=999, seed=3, weights="webb")
    tidy = res.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS
    assert set(tidy["method"]) == {"romano_wolf"} and set(tidy["estimand"]) == {"att"}
    adj = tidy.set_index("outcome")["p_value"]
    raw = pd.Series(res.details["p_unadjusted"])
    assert (adj >= raw - 1e-15).all()
    order = pd.Series(res.details["t_stat"]).abs().sort_values(ascending=False).index
    assert adj[order].is_monotonic_increasing
    # the unadjusted p-values are the single-outcome wild bootstrap p-values with the same draws
    for o in ("y", "y2", "w"):
        single = wild_bootstrap(multi_design, o, draws=999, seed=3, weights="webb").tidy()["p_value"].iloc[0]
        assert raw[o] == single
    # y and y2 are nearly the same outcome: Romano-Wolf keeps that dependence and is not more conservative than Holm
    assert (adj <= pd.Series(res.details["p_holm"]) + 1e-12).all()


def test_romano_wolf_single_outcome_is_the_bootstrap_p(multi_design):
    for restricted in (True, False):
        rw = romano_wolf(multi_design, [("y", False)], draws=999, seed=1, restricted=restricted).tidy()["p_value"].iloc[0]
        wb = wild_bootstrap(multi_design, "y", draws=999, seed=1, restricted=restricted).tidy()["p_value"].iloc[0]
        assert rw == wb


def test_romano_wolf_bad_input(multi_design):
    with pytest.raises(EstimationError, match="repeat"):
        romano_wolf(multi_design, ["y", "y"])
    with pytest.raises(EstimationError, match="draws=0"):
        romano_wolf(multi_design, ["y"], draws=0)
    with pytest.raises(EstimationError, match="no outcome"):
        romano_wolf(multi_design, [])
