"""Placebo-in-time, placebo outcomes and leave-one-out on simulated data with known effects and pre-trends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.did import did_2x2, twfe
from evidence.did.estimators import _fit_panelols, _panel_frame
from evidence.errors import EstimationError
from evidence.results import ESTIMATE_COLUMNS
from evidence.robust import leave_one_out, placebo_in_time, placebo_outcomes, twfe_masked

from simdata import design_of, simulate_panel


@pytest.fixture(scope="module")
def effect_design():
    """48 units x 30 periods, cohorts of 8 at periods 14 and 20, a constant effect of 2, noise sd 1."""
    df = simulate_panel(48, 30, {14: 8, 20: 8}, effect=2.0, noise=1.0, seed=17)
    rng = np.random.default_rng(3)
    df["z"] = rng.normal(size=len(df)) + np.repeat(rng.normal(0, 3, 48), 30)  # an unaffected outcome
    out = design_of(df, kinds={"y": "continuous"})
    out.panel.data["z"] = df["z"].to_numpy()
    out.panel.outcomes.append("z")
    out.panel.outcome_kinds["z"] = "continuous"
    return out


@pytest.fixture(scope="module")
def pretrend_design():
    """Treated units drift away from the comparison units by 0.15 a period over the whole window, no effect."""
    df = simulate_panel(48, 30, {14: 8, 20: 8}, effect=0.0, noise=1.0, seed=18)
    treated = df["first"] != "0"
    t = df.groupby("area").cumcount()
    df.loc[treated, "y"] += 0.15 * t[treated]
    return design_of(df)


def test_twfe_masked_equals_twfe_balanced_and_panelols_unbalanced(effect_design):
    y = effect_design.panel.matrix("y")
    D = effect_design.treatment_matrix()
    codes = effect_design.cluster_codes
    fit = twfe_masked(y, D, np.ones_like(D, dtype=bool), codes)
    ref = twfe(effect_design, "y", engine="numpy").tidy().iloc[0]
    assert fit["estimate"] == pytest.approx(ref["estimate"], rel=1e-10)
    assert fit["std_error"] == pytest.approx(ref["std_error"], rel=1e-8)
    # unbalanced: drop the post-treatment periods of the first cohort's units; PanelOLS on the remaining rows
    g = effect_design.g
    mask = np.arange(y.shape[1])[None, :] < np.where(g == 14, 14, np.inf)[:, None]
    D2 = (np.arange(y.shape[1])[None, :] >= np.where(g == 20, 20, np.inf)[:, None]).astype(float)
    fit2 = twfe_masked(y, D2, mask, codes)
    frame = _panel_frame(effect_design, y, {"treated": D2})[mask.ravel()]
    pol = _fit_panelols(frame, ["treated"], codes[frame.index.get_level_values("unit")], 1)
    assert fit2["estimate"] == pytest.approx(float(pol.params["treated"]), rel=1e-8)
    assert fit2["std_error"] == pytest.approx(float(pol.std_errors["treated"]), rel=1e-6)
    assert fit2["n_obs"] == int(mask.sum())


def test_placebo_in_time_near_zero_when_effect_is_real(effect_design):
    res = placebo_in_time(effect_design, "y", shifts=(2, 4, 8))
    tidy = res.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS
    assert list(tidy["group"]) == ["shift -2", "shift -4", "shift -8"]
    assert set(tidy["method"]) == {"placebo_time"} and set(tidy["estimand"]) == {"att"}
    assert (tidy["estimate"].abs() < 0.5).all()
    assert (tidy["p_value"] > 0.01).all()
    real = twfe(effect_design, "y", engine="numpy").tidy().iloc[0]
    assert real["estimate"] == pytest.approx(2.0, abs=0.3) and real["p_value"] < 1e-6
    # the 2x2 version too
    tidy2 = placebo_in_time(effect_design, "y", shifts=(2, 4, 8), estimator="did_2x2").tidy()
    assert (tidy2["estimate"].abs() < 0.5).all()


def test_placebo_in_time_detects_pretrend(pretrend_design):
    tidy = placebo_in_time(pretrend_design, "y", shifts=(4, 8)).tidy()
    assert (tidy["estimate"] > 0.2).all()
    assert (tidy["p_value"] < 0.01).all()
    tidy2 = placebo_in_time(pretrend_design, "y", shifts=(4, 8), estimator="did_2x2").tidy()
    assert (tidy2["p_value"] < 0.01).all()


def test_placebo_did_2x2_by_hand(effect_design):
    y = effect_design.panel.matrix("y")
    g = effect_design.g
    k = 4
    ctrl = ~np.isfinite(g)
    est, sizes = [], []
    for c in (14, 20):
        t = np.arange(y.shape[1])
        pre, post = t < c - k, (t >= c - k) & (t < c)
        delta = y[:, post].mean(axis=1) - y[:, pre].mean(axis=1)
        est.append(delta[g == c].mean() - delta[ctrl].mean())
        sizes.append((g == c).sum())
    hand = np.average(est, weights=sizes)
    row = placebo_in_time(effect_design, "y", shifts=(k,), estimator="did_2x2").tidy().iloc[0]
    assert row["estimate"] == pytest.approx(hand, rel=1e-10)


def test_infeasible_shifts_are_noted_or_refused(effect_design):
    res = placebo_in_time(effect_design, "y", shifts=(16,))  # only the period-20 cohort has 17 pre-periods
    assert len(res.tidy()) == 1 and any("left out" in n for n in res.details["notes"])
    with pytest.raises(EstimationError, match="smaller shifts"):
        placebo_in_time(effect_design, "y", shifts=(25,))
    with pytest.raises(EstimationError, match="positive whole numbers"):
        placebo_in_time(effect_design, "y", shifts=(0,))


def test_placebo_outcomes(effect_design):
    res = placebo_outcomes(effect_design, ["z", "y"])
    tidy = res.tidy()
    assert list(tidy["outcome"]) == ["z", "y"] and set(tidy["method"]) == {"placebo_outcome"}
    ref = twfe(effect_design, "z", engine="numpy").tidy().iloc[0]
    assert tidy["estimate"].iloc[0] == pytest.approx(ref["estimate"], rel=1e-12)
    assert tidy["p_value"].iloc[0] > 0.05 and tidy["p_value"].iloc[1] < 1e-6
    d = placebo_outcomes(effect_design, ["z"], estimator="did_2x2").tidy().iloc[0]
    assert d["estimate"] == pytest.approx(did_2x2(effect_design, "z").tidy()["estimate"].iloc[-1], rel=1e-12)


def test_leave_one_out_by_cohort_and_unit(effect_design):
    res = leave_one_out(effect_design, "y", by="wave")  # simulated designs have no waves: cohorts
    tidy = res.tidy()
    assert list(tidy["group"]) == ["without cohort 2017-06", "without cohort 2017-12"] and set(tidy["method"]) == {"leave_one_out"}
    # by hand: the TWFE on the panel without the first cohort's units
    y = effect_design.panel.matrix("y")
    keep = effect_design.g != 14
    fit = twfe_masked(y[keep], effect_design.treatment_matrix()[keep], np.ones((keep.sum(), y.shape[1]), bool), np.unique(effect_design.cluster_codes[keep], return_inverse=True)[1])
    assert tidy["estimate"].iloc[0] == pytest.approx(fit["estimate"], rel=1e-10)
    assert tidy["n_units"].iloc[0] == 40
    units = leave_one_out(effect_design, "y", by="unit").tidy()
    assert len(units) == 16 and units["group"].iloc[0] == "without U000"
    assert (units["estimate"].sub(2.0).abs() < 0.4).all()
    assert res.details["full"]["estimate"] == pytest.approx(twfe(effect_design, "y", engine="numpy").tidy()["estimate"].iloc[0])
    with pytest.raises(EstimationError, match="by='cohort'"):
        leave_one_out(effect_design, "y", by="cohort")


def test_leave_one_out_by_wave_on_real_style_design():
    # a design with waves: the single wave cannot be left out
    design = design_of(simulate_panel(20, 12, {6: 5}, effect=1.0, seed=1))
    design.cohorts["wave"] = pd.array([1 if s == "treated" else pd.NA for s in design.cohorts["status"]], dtype="Int64")
    design.__dict__.pop("included", None)
    with pytest.raises(EstimationError, match="no treated unit"):
        leave_one_out(design, "y", by="wave")


@pytest.mark.parametrize("clusters", [False, True])
def test_leave_one_unit_out_in_closed_form_equals_refitting(clusters):
    """Every treated unit left out at once (closed form) equals re-estimating the TWFE without it, with units or
    regions as clusters (a region of one treated unit loses its cluster)."""
    from evidence.robust.placebo import _estimate, without_units

    df = simulate_panel(40, 16, {6: 8, 10: 7}, effect=1.5, noise=1.0, seed=5)
    if clusters:
        codes = df["area"].astype("category").cat.codes
        df["region"] = np.where(df["area"] == df["area"].iloc[0], "solo", "R" + (codes % 6).astype(str))
    d = design_of(df, cluster="region" if clusters else None)
    fast = leave_one_out(d, "y", by="unit").tidy()
    for k, u in list(enumerate(d.included.loc[d.treated, "unit"]))[::4]:  # the first (alone in its region) and every fourth
        ref = _estimate(without_units(d, [u], "test"), "y", False, "twfe", 0.05)
        row = fast.iloc[k]
        assert row["group"] == f"without {u}"
        for c in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value"):
            assert row[c] == pytest.approx(ref[c], rel=1e-9, abs=1e-12), c
        assert (row["n_obs"], row["n_units"], row["n_clusters"]) == (ref["n_obs"], ref["n_units"], ref["n_clusters"])
