"""Classic (ADH) synthetic control: a treated unit built as a known convex combination of donors, predictors with
nested predictor weights, placebo-in-space inference, the simplex solver, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from evidence.errors import EstimationError
from evidence.results import ESTIMATE_COLUMNS
from evidence.synth import synth_predictors, synthetic_control
from evidence.synth.weights import sc_predictor_weights, simplex_lsq
from simdata import design_of

TRUE_W = {"U001": 0.5, "U002": 0.3, "U003": 0.2}
EFFECT = -4.0


def convex_panel(n_donors: int = 20, T: int = 24, start: int = 16, noise: float = 0.05, seed: int = 0, extra_treated: dict | None = None) -> pd.DataFrame:
    """Donors follow random walks around different levels; U000 is 0.5 U001 + 0.3 U002 + 0.2 U003 plus a little
    noise, and EFFECT from period ``start`` on. ``extra_treated`` maps unit index -> (start, weights) for more
    treated units built the same way (they are appended after the donors)."""
    rng = np.random.default_rng(seed)
    donors = 60 + 10 * rng.normal(size=(n_donors, 1)) + np.cumsum(rng.normal(0, 1.5, (n_donors, T)), axis=1)
    treated = [(start, {1: 0.5, 2: 0.3, 3: 0.2})] + list((extra_treated or {}).values())
    rows = []
    for s, w in treated:
        path = sum(v * donors[k - 1] for k, v in w.items()) + rng.normal(0, noise, T)
        rows.append(path + np.where(np.arange(T) >= s, EFFECT, 0.0))
    Y = np.vstack([rows[0], donors] + rows[1:])
    n = Y.shape[0]
    names = [f"U{i:03d}" for i in range(n)]
    dates = pd.date_range("2016-04-01", periods=T, freq="MS")
    first = ["0"] * n
    first[0] = dates[start].strftime("%Y-%m-%d")
    for j, (s, _) in enumerate(treated[1:]):
        first[1 + n_donors + j] = dates[s].strftime("%Y-%m-%d")
    return pd.DataFrame({"area": np.repeat(names, T), "month": np.tile(dates.strftime("%Y-%m-%d"), n), "y": Y.ravel(), "first": np.repeat(first, T)})


@pytest.fixture(scope="module")
def design():
    return design_of(convex_panel())


def _att(res, group="all") -> pd.Series:
    t = res.tidy()
    return t[(t["estimand"] == "att") & (t["group"] == group)].iloc[0]


def test_recovers_effect_and_donor_weights(design):
    res = synthetic_control(design, "y", inference="none")
    assert _att(res)["estimate"] == pytest.approx(EFFECT, abs=0.1)
    w = res.weights_unit.set_index("unit")["weight"]
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)
    for unit, ref in TRUE_W.items():
        assert w[unit] == pytest.approx(ref, abs=0.05), unit
    assert w.drop(list(TRUE_W)).sum() < 0.1
    assert res.pre_rmspe < 0.1
    assert res.details["rmspe_ratio"] > 20  # post-period gap of 4 against a pre-period fit error of ~0.05
    assert (res.weights_time["weight"] == 0).all()


def test_tidy_rows_and_gaps(design):
    res = synthetic_control(design, "y", inference="none")
    t = res.tidy()
    assert list(t.columns) == ESTIMATE_COLUMNS and set(t["method"]) == {"synthetic_control"}
    gaps = t[t["estimand"] == "gap"]
    assert len(gaps) == 24 and set(gaps["group"]) == {"U000"}
    assert gaps.loc[gaps["event_time"] >= 0, "estimate"].mean() == pytest.approx(_att(res)["estimate"], abs=1e-12)
    assert np.sqrt(np.mean(gaps.loc[gaps["event_time"] < 0, "estimate"] ** 2)) == pytest.approx(res.pre_rmspe, abs=1e-12)


def test_placebo_in_space_over_all_donors(design):
    res = synthetic_control(design, "y")
    assert res.placebo.shape == (20,) and res.details["draws"] == 20
    assert sorted(res.details["placebo_units"]) == [f"U{i:03d}" for i in range(1, 21)]
    att = _att(res)
    # the treated unit has the largest post/pre RMSPE ratio of all 21 units (ADH's rank test): p = 1/21. The raw
    # placebo effects are not small (random-walk donors outside their peers' hull fit badly), which is why ADH
    # scale by the pre-period fit.
    assert res.details["p_value_rmspe_ratio"] == pytest.approx(1 / 21)
    assert (res.details["placebo_rmspe_ratio"] < res.details["rmspe_ratio"]).all()
    assert res.details["p_value_placebo"] == pytest.approx(np.mean(np.abs(res.placebo) >= abs(att["estimate"])))
    assert att["std_error"] == pytest.approx(np.std(res.placebo), rel=1e-12)


def test_placebo_draws_are_a_seeded_subset(design):
    a = synthetic_control(design, "y", draws=6, seed=4)
    b = synthetic_control(design, "y", draws=6, seed=4)
    assert a.details["placebo_units"] == b.details["placebo_units"] and len(set(a.details["placebo_units"])) == 6
    assert np.array_equal(a.placebo, b.placebo)


def test_error_more_placebo_draws_than_donors(design):
    with pytest.raises(EstimationError) as e:
        synthetic_control(design, "y", draws=21)
    msg = str(e.value)
    assert "\n" not in msg and "draws=21" in msg and "20 donors" in msg


def test_predictors_with_nested_v(design):
    """Predictors: the outcome in every other pre-period plus a pure-noise covariate; V (chosen to minimise the
    pre-period outcome MSPE) gives the noise no weight and the donor weights are recovered."""
    Y = design.panel.matrix("y")
    X = pd.DataFrame(Y[:, 0:16:2], index=design.panel.units, columns=[f"y_{t}" for t in range(0, 16, 2)])
    X["noise"] = np.random.default_rng(5).normal(0, 10, len(X))
    res = synthetic_control(design, "y", predictors=X, inference="none")
    v = res.details["predictor_weights"]["U000"]
    assert set(v) == set(X.columns) and min(v.values()) >= 0 and sum(v.values()) == pytest.approx(1.0)
    assert v["noise"] < 0.01
    w = res.weights_unit.set_index("unit")["weight"]
    for unit, ref in TRUE_W.items():
        assert w[unit] == pytest.approx(ref, abs=0.05), unit
    assert _att(res)["estimate"] == pytest.approx(EFFECT, abs=0.15)
    assert res.pre_rmspe < 0.1
    # an array in panel order gives the same fit
    same = synthetic_control(design, "y", predictors=X.to_numpy(), inference="none")
    assert _att(same)["estimate"] == pytest.approx(_att(res)["estimate"], abs=1e-12)
    # the helper: pre-period block means, one column per block
    P = synth_predictors(design, "y", blocks=4)
    assert P.shape == (21, 4) and P.iloc[0, 0] == pytest.approx(Y[0, :4].mean())


def test_nested_v_is_no_worse_than_equal_weights():
    rng = np.random.default_rng(1)
    Z0 = rng.normal(size=(12, 15)).cumsum(axis=0)
    z1 = Z0[:, :3].mean(axis=1) + rng.normal(0, 0.3, 12)
    X0 = np.vstack([Z0[:4].mean(0), Z0[4:8].mean(0), Z0[8:].mean(0), rng.normal(size=15)])
    x1 = np.array([z1[:4].mean(), z1[4:8].mean(), z1[8:].mean(), 0.0])
    v, w, mspe = sc_predictor_weights(X0, x1, Z0, z1)
    w_eq = simplex_lsq(X0, x1, np.full(4, 0.25))
    assert mspe <= np.mean((z1 - Z0 @ w_eq) ** 2) + 1e-12
    assert v.sum() == pytest.approx(1.0) and (v >= 0).all() and w.sum() == pytest.approx(1.0)


def test_simplex_lsq_matches_a_general_solver():
    rng = np.random.default_rng(7)
    for _ in range(5):
        X0 = rng.normal(size=(10, 8))
        x1 = rng.normal(size=10)
        v = rng.uniform(0.2, 2.0, 10)
        w = simplex_lsq(X0, x1, v)
        obj = lambda u: float(np.sum(v * (x1 - X0 @ u) ** 2))  # noqa: E731
        ref = optimize.minimize(obj, np.full(8, 1 / 8), method="SLSQP", bounds=[(0, 1)] * 8, constraints=[{"type": "eq", "fun": lambda u: u.sum() - 1}], options={"ftol": 1e-14, "maxiter": 500})
        assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)
        assert obj(w) <= ref.fun + 1e-7
        assert np.allclose(w, ref.x, atol=1e-4)


def test_several_treated_units_get_one_synthetic_control_each():
    df = convex_panel(extra_treated={"b": (20, {4: 0.6, 5: 0.4})})
    design = design_of(df)
    res = synthetic_control(design, "y", inference="placebo", seed=2)
    t = res.tidy()
    att = t[t["estimand"] == "att"]
    assert list(att["group"]) == ["all", "U000", "U021"]
    assert _att(res, "U021")["estimate"] == pytest.approx(EFFECT, abs=0.15)
    # average weighted by post-periods: 8 for U000, 4 for U021
    w = res.details["unit_weights_in_average"]
    assert w == pytest.approx({"U000": 8 / 12, "U021": 4 / 12})
    assert _att(res)["estimate"] == pytest.approx(w["U000"] * _att(res, "U000")["estimate"] + w["U021"] * _att(res, "U021")["estimate"], abs=1e-12)
    assert res.placebo.shape == (20,)  # one draw per donor by default, each assigning both dates
    assert set(res.weights_unit["group"]) == {"U000", "U021"}
    one = synthetic_control(design, "y", inference="none", units=["U021"])
    assert _att(one)["estimate"] == pytest.approx(_att(res, "U021")["estimate"], abs=1e-12)


def test_predictor_errors(design):
    X = synth_predictors(design, "y", blocks=2)
    with pytest.raises(EstimationError, match="no row for unit U000"):
        synthetic_control(design, "y", predictors=X.drop(index="U000"), inference="none")
    bad = X.copy()
    bad.iloc[3, 0] = np.nan
    with pytest.raises(EstimationError, match="missing or infinite"):
        synthetic_control(design, "y", predictors=bad, inference="none")
    with pytest.raises(EstimationError, match="expected a \\(units x k\\) array"):
        synthetic_control(design, "y", predictors=np.ones((5, 2)), inference="none")
    with pytest.raises(EstimationError, match="blocks=40"):
        synth_predictors(design, "y", blocks=40)


def test_design_errors():
    with pytest.raises(EstimationError, match="donor pool is empty"):
        synthetic_control(design_of(convex_panel().assign(first="2017-06-01")), "y")
    with pytest.raises(EstimationError, match="pre-period"):
        synthetic_control(design_of(convex_panel(start=1)), "y")
    with pytest.raises(EstimationError, match="inference='jackknife'"):
        synthetic_control(design_of(convex_panel()), "y", inference="jackknife")
