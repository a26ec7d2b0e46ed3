"""Property tests (hypothesis) for every estimator: relabelling or reordering units leaves estimates unchanged; adding
a constant to the outcome leaves effects unchanged; scaling the outcome scales effects and standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.did import did_2x2, event_study, twfe
from evidence.its import its
from evidence.staggered import bacon_decomposition, cs, imputation, sun_abraham
from evidence.synth import sdid, synthetic_control
from simdata import design_of, simulate_panel

SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

# estimator name -> function(design, outcome) returning a tidy frame of effect rows
ESTIMATORS = {
    "did_2x2": lambda d, o: did_2x2(d, o).tidy(),
    "twfe": lambda d, o: twfe(d, o, engine="numpy").tidy(),
    "event_study": lambda d, o: event_study(d, o, window=(-3, 3)).tidy().query("estimand == 'event_time'"),
    "cs": lambda d, o: cs(d, o, control_group="never_treated", est_method="dr").aggregate("dynamic").tidy(),
    "sun_abraham": lambda d, o: sun_abraham(d, o).tidy(),
    "imputation": lambda d, o: imputation(d, o).tidy(),
    "sdid": lambda d, o: sdid(d, o, inference="jackknife").tidy().query("estimand == 'att'"),
    "synthetic_control": lambda d, o: synthetic_control(d, o, inference="none").tidy().query("estimand == 'att'"),
    "its": lambda d, o: its(d.only_cohort(), o, family="gaussian", control="pooled", seasonality="none").tidy().query("estimand in ['level_change', 'slope_change', 'abs_diff_post']"),
}
NO_SE = {"synthetic_control"}  # inference "none" here: point estimates only


def _panel(seed: int) -> pd.DataFrame:
    return simulate_panel(n_units=16, n_periods=10, cohorts={5: 4, 7: 4}, effect=lambda e, g: 1.0 + 0.2 * e, noise=1.0, seed=seed)


def _key(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["estimand", "group", "event_time", "period"], na_position="first", kind="stable").reset_index(drop=True)


@SETTINGS
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_relabelling_and_reordering_units_changes_nothing(seed, perm_seed):
    df = _panel(seed)
    base = {k: _key(f(design_of(df), "y")) for k, f in ESTIMATORS.items()}
    rng = np.random.default_rng(perm_seed)
    units = df["area"].unique()
    new = dict(zip(units, [f"Z{v:03d}" for v in rng.permutation(len(units))]))
    df2 = df.assign(area=df["area"].map(new)).sample(frac=1.0, random_state=perm_seed)
    for k, f in ESTIMATORS.items():
        other = _key(f(design_of(df2), "y"))
        if k == "synthetic_control":  # per-unit rows are labelled by unit: compare the pooled row
            base[k], other = base[k].query("group == 'all'"), other.query("group == 'all'")
        np.testing.assert_allclose(other["estimate"], base[k]["estimate"], rtol=1e-7, atol=1e-9, err_msg=k)
        if k not in NO_SE:
            np.testing.assert_allclose(other["std_error"], base[k]["std_error"], rtol=1e-6, atol=1e-9, err_msg=k)


@SETTINGS
@given(seed=st.integers(0, 10_000), shift=st.floats(-500, 500, allow_nan=False))
def test_adding_a_constant_leaves_effects_unchanged(seed, shift):
    df = _panel(seed)
    base = {k: _key(f(design_of(df), "y")) for k, f in ESTIMATORS.items()}
    df2 = df.assign(y=df["y"] + shift)
    for k, f in ESTIMATORS.items():
        other = _key(f(design_of(df2), "y"))
        np.testing.assert_allclose(other["estimate"], base[k]["estimate"], rtol=1e-6, atol=1e-7, err_msg=k)
        if k not in NO_SE:
            np.testing.assert_allclose(other["std_error"], base[k]["std_error"], rtol=1e-6, atol=1e-7, err_msg=k)


@SETTINGS
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([0.01, 0.5, 3.0, 250.0, -2.0]))
def test_scaling_the_outcome_scales_effects_and_standard_errors(seed, scale):
    df = _panel(seed)
    base = {k: _key(f(design_of(df), "y")) for k, f in ESTIMATORS.items()}
    df2 = df.assign(y=df["y"] * scale)
    for k, f in ESTIMATORS.items():
        other = _key(f(design_of(df2), "y"))
        np.testing.assert_allclose(other["estimate"], scale * base[k]["estimate"], rtol=1e-6, atol=1e-8 * abs(scale), err_msg=k)
        if k not in NO_SE:
            np.testing.assert_allclose(other["std_error"], abs(scale) * base[k]["std_error"], rtol=1e-6, atol=1e-8 * abs(scale), err_msg=k)


@SETTINGS
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([0.5, 3.0, 40.0]))
def test_bacon_components_scale_and_ignore_constants(seed, scale):
    df = _panel(seed)
    b = bacon_decomposition(design_of(df), "y").components()
    b2 = bacon_decomposition(design_of(df.assign(y=df["y"] * scale + 17.0)), "y").components()
    np.testing.assert_allclose(b2["estimate"], scale * b["estimate"], rtol=1e-8)
    np.testing.assert_allclose(b2["weight"], b["weight"], rtol=1e-12)


@SETTINGS
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([0.5, 3.0, 40.0]))
def test_count_its_rate_ratios_do_not_depend_on_the_unit_of_count(seed, scale):
    df = simulate_panel(n_units=12, n_periods=30, cohorts={15: 6}, effect=0.0, noise=0.5, seed=seed)
    df["y"] = np.round(np.exp(df["y"] / 10)) + 5  # positive counts
    kinds = {"y": "count"}
    a = its(design_of(df, kinds=kinds).only_cohort(), "y", family="poisson", seasonality="none").tidy().set_index("estimand")
    b = its(design_of(df.assign(y=df["y"] * scale), kinds=kinds).only_cohort(), "y", family="poisson", seasonality="none").tidy().set_index("estimand")
    for e in ("level_change", "slope_change", "rate_ratio_post"):
        assert b.loc[e, "estimate"] == np.float64(a.loc[e, "estimate"]) or np.isclose(b.loc[e, "estimate"], a.loc[e, "estimate"], rtol=1e-6)


@SETTINGS
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([0.5, 3.0, -2.0]), shift=st.floats(-100, 100, allow_nan=False))
def test_wild_bootstrap_and_randomisation_p_values_are_invariant_to_affine_outcome_changes(seed, scale, shift):
    from evidence.robust import randomization_inference, wild_bootstrap

    df = _panel(seed)
    d1, d2 = design_of(df), design_of(df.assign(y=df["y"] * scale + shift))
    w1, w2 = wild_bootstrap(d1, "y", draws=499, seed=3).tidy().iloc[0], wild_bootstrap(d2, "y", draws=499, seed=3).tidy().iloc[0]
    assert w2["p_value"] == w1["p_value"]
    assert w2["estimate"] == np.float64(w1["estimate"] * scale) or np.isclose(w2["estimate"], w1["estimate"] * scale, rtol=1e-8)
    lo, hi = sorted([w1["ci_lower"] * scale + 0.0, w1["ci_upper"] * scale])
    np.testing.assert_allclose([w2["ci_lower"], w2["ci_upper"]], [lo, hi], rtol=1e-5, atol=1e-8)
    r1, r2 = randomization_inference(d1, "y", permutations=199, seed=5).tidy().iloc[0], randomization_inference(d2, "y", permutations=199, seed=5).tidy().iloc[0]
    assert r2["p_value"] == r1["p_value"]
