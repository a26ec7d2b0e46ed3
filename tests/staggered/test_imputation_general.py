"""Imputation with a richer untreated model: equal to the BJS estimator in its two-way form, and recovering known
effects when units have their own trends or seasonality that two-way effects cannot absorb (synthetic data)."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.errors import EstimationError
from evidence.staggered.imputation import imputation
from evidence.staggered.imputation_general import balancing_weights, imputation_general

from simdata import design_of, simulate_panel


def test_two_way_form_equals_the_imputation_estimator():
    d = design_of(simulate_panel(n_units=30, n_periods=20, cohorts={6: 6, 12: 5}, effect=lambda e, g: 1 + 0.1 * e, seed=3), cluster="region")
    a = imputation_general(d, "y").tidy().iloc[0]
    b = imputation(d, "y").tidy().query("estimand == 'simple'").iloc[0]
    assert a["estimate"] == pytest.approx(b["estimate"], abs=1e-10) and a["std_error"] == pytest.approx(b["std_error"], abs=1e-10)
    # unit weights of one change nothing; region x period effects with one region are period effects
    assert imputation_general(d, "y", weights=np.ones(30)).tidy()["estimate"].iloc[0] == pytest.approx(b["estimate"], abs=1e-10)


def _with_unit_trends(seed: int):
    df = simulate_panel(n_units=40, n_periods=30, cohorts={10: 10, 18: 10}, effect=2.0, noise=0.5, seed=seed)
    rng = np.random.default_rng(seed)
    treated = df["first"] != "0"
    slope = {a: (0.4 if t else 0.0) + rng.normal(0, 0.05) for a, t in df.groupby("area")["first"].first().ne("0").items()}
    t = df.groupby("area").cumcount()
    df["y"] = df["y"] + df["area"].map(slope) * t
    return design_of(df), treated


def test_unit_trends_fitted_on_untreated_cells_recover_the_effect():
    est_tw, est_tr = [], []
    for seed in range(8):
        d, _ = _with_unit_trends(seed)
        est_tw.append(imputation_general(d, "y").tidy()["estimate"].iloc[0])
        est_tr.append(imputation_general(d, "y", unit_trends=True).tidy()["estimate"].iloc[0])
    assert abs(np.mean(est_tr) - 2.0) < 0.15  # trends from each unit's untreated periods: unbiased
    assert np.mean(est_tw) - 2.0 > 1.0  # two-way effects cannot absorb the treated units' own trends


def test_unit_seasonality_recovers_the_effect_under_unit_specific_seasons():
    df = simulate_panel(n_units=30, n_periods=48, cohorts={30: 10}, effect=1.5, noise=0.3, seed=4)
    month = df.groupby("area").cumcount() % 12
    amp = df["area"].map({a: (3.0 if f != "0" else 0.5) for a, f in df.groupby("area")["first"].first().items()})
    df["y"] = df["y"] + amp * np.cos(2 * np.pi * month / 12)
    d = design_of(df)
    est = imputation_general(d, "y", unit_seasonality=True).tidy()["estimate"].iloc[0]
    assert est == pytest.approx(1.5, abs=0.25)


def test_balancing_weights_match_treated_means_and_refuse_the_impossible():
    rng = np.random.default_rng(0)
    Xc = rng.normal(size=(50, 2))
    target = np.array([0.4, -0.3])
    w = balancing_weights(target, Xc)
    assert w.sum() == pytest.approx(50) and (w > 0).all()
    np.testing.assert_allclose((w / w.sum()) @ Xc, target, atol=1e-8)
    with pytest.raises(EstimationError, match="outside the comparison areas' range"):
        balancing_weights(np.array([10.0, 0.0]), Xc)


def test_a_model_that_cannot_reach_a_treated_cell_is_refused():
    d = design_of(simulate_panel(n_units=10, n_periods=12, cohorts={1: 3}, seed=1))  # one untreated period only
    with pytest.raises(EstimationError, match="cannot be extrapolated"):
        imputation_general(d, "y", unit_trends=True)
