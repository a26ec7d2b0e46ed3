"""The protocol: defaults, derivation for user data, one-line refusals, the hash and the commit that fixed it;
the primary analysis (rows and conversions), the secondary family (Holm) and baseline balance."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from evidence.balance import _smd, balance_table, baseline_periods
from evidence.errors import ParamsError
from evidence.params import load_params
from evidence.paths import ROOT
from evidence.pipeline import prepare
from evidence.protocol import NHS_PRIMARY, check, file_digest_at, fixed_status, resolve

from simdata import design_of, simulate_panel


@pytest.fixture(scope="module")
def default():
    params = load_params("params/default.yaml")
    panel, design = prepare(params)
    return params, panel, design


def test_shipped_protocol_is_written_fixed_and_followed(default):
    params, panel, design = default
    proto = check(params, panel, design)
    assert proto.source == "written" and proto.derived == [] and proto.run_deviations == []
    assert proto.primary == {"outcome": NHS_PRIMARY, "estimator": "cs", "control_group": "not_yet_treated", "base_period": "universal", "covariates": [], "anticipation": 0, "inference": ["analytic", "randomization"], "permutations": 999}
    assert proto.window == ("2016-04", "2020-02") and proto.waves == [1, 2, 3]
    assert "pct_within_4h" in proto.secondary and proto.negative_controls == ["attendances_type2_per_100k"]
    assert proto.fixed_on and "2016-2019 analyses" in proto.seen_before
    assert [d["hash"] for d in proto.deviations] and "gp_payments:payments_per_registered_patient_real" in proto.secondary


def test_protocol_unchanged_since_the_commit_that_fixed_it(default):
    """Editing the shipped protocol without logging a deviation fails here."""
    params, _, _ = default
    proto = resolve(params)
    if not proto.fixed_commit:
        pytest.fail("params/default.yaml has no protocol.fixed_commit")
    if subprocess.run(["git", "cat-file", "-e", proto.fixed_commit], cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip("the commit that fixed the protocol is not in this clone's history")
    then = file_digest_at(proto.fixed_commit, ROOT / "params/default.yaml")
    assert then is not None
    if then != proto.digest:  # changed since it was fixed: the last deviation must name the current hash
        assert proto.deviations, "the protocol changed since it was fixed: log the change in protocol.deviations"
        assert str(proto.deviations[-1].get("hash", "")) == proto.digest[:12], f"log the latest protocol change in protocol.deviations with hash: {proto.digest[:12]}"
        assert "CHANGED since" in fixed_status(proto, ROOT / "params/default.yaml")
    else:
        assert "unchanged since" in fixed_status(proto, ROOT / "params/default.yaml")


def test_a_run_on_other_parameters_lists_its_deviations():
    params = load_params("params/default.yaml", ["design.end=2019-03", "treatment.waves=[1, 2]", "data.incomplete=impute"])
    proto = resolve(params)
    text = " ".join(proto.run_deviations)
    assert len(proto.run_deviations) == 3 and "2016-04 to 2019-03" in text and "waves 1, 2" in text and "imputed" in text
    assert proto.digest == resolve(load_params("params/default.yaml")).digest  # the protocol itself did not change


def test_digest_changes_with_the_content_only():
    a = resolve(load_params("params/default.yaml"))
    b = resolve(load_params("params/default.yaml", ["protocol.primary.base_period=varying"]))
    c = resolve(load_params("params/default.yaml", ["protocol.deviations=[{date: 2027-01-01, change: x, reason: y}]"]))
    assert a.digest != b.digest and a.digest == c.digest


def test_user_data_get_a_derived_protocol():
    params = load_params("params/example_mpdta.yaml")
    panel, design = prepare(params)
    proto = check(params, panel, design)
    assert proto.source == "derived" and proto.primary["outcome"] == "lemp" and proto.secondary == []
    assert proto.primary["control_group"] == "never_treated" and proto.window == ("2003", "2007") and proto.waves is None
    assert "exploratory" in fixed_status(proto, None)


@pytest.mark.parametrize(
    "override, message",
    [
        ("protocol.primary.outcome=visits", "protocol.primary.outcome: 'visits' is not an outcome of this data"),
        ("protocol.secondary.outcomes=[nonsense]", "protocol.secondary.outcomes: 'nonsense'"),
        ("protocol.primary.covariates=[imd_score, pct_65_plus_2016, log_population_2016]", "at most two baseline covariates"),
        ("protocol.primary.covariates=[income]", "'income' is not a baseline covariate"),
        ("protocol.window=[2015-01, 2020-02]", "protocol.window: 2015-01 is not a period of the data"),
    ],
)
def test_written_keys_the_data_cannot_support_are_one_line_errors(default, override, message):
    params = load_params("params/default.yaml", [override])
    _, panel, design = default
    with pytest.raises(ParamsError, match=message) as exc:
        check(params, panel, design)
    assert "\n" not in str(exc.value)


def test_never_treated_primary_needs_never_treated_units():
    df = simulate_panel(n_units=12, n_periods=12, cohorts={4: 6, 8: 6}, seed=1)
    d = design_of(df)
    params = load_params(data={"data": {"path": "data/examples/mpdta.csv", "unit": "countyreal", "time": "year", "outcomes": ["y"]}, "treatment": {"cohort": "first.treat"}, "design": {"start": "2016-04", "end": "2017-03"}, "protocol": {"primary": {"control_group": "never_treated"}}})
    with pytest.raises(ParamsError, match="never_treated, but every unit is treated"):
        check(params, d.panel, d)


# --- the primary analysis -----------------------------------------------------------------------------------


class _Ctx:
    """The parts of a RunContext the primary analysis reads."""

    def __init__(self, params, panel, design):
        self.params, self.panel, self.design = params, panel, design
        self.alpha, self.seed = 0.05, 7


def test_primary_rows_and_conversions_trace_to_the_estimate(default):
    from evidence.primary import primary_analysis, treated_baseline
    from evidence.staggered.from_design import cs

    params, panel, design = default
    proto = resolve(params)
    res = primary_analysis(_Ctx(params, panel, design), proto)
    t = res.tidy()
    get = lambda m, e: t[(t["method"] == m) & (t["estimand"] == e)].iloc[0]  # noqa: E731
    ref = cs(design, NHS_PRIMARY, control_group="not_yet_treated", est_method="reg", base_period="universal").aggregate("simple").tidy().iloc[0]
    a = get("cs", "simple")
    assert a["estimate"] == pytest.approx(ref["estimate"], abs=1e-12) and a["std_error"] == pytest.approx(ref["std_error"], abs=1e-12)
    ri = get("randomization", "simple")
    assert ri["estimate"] == pytest.approx(a["estimate"], abs=1e-10) and 0 < ri["p_value"] <= 1
    base = get("baseline", "treated_pre_mean")["estimate"]
    assert base == pytest.approx(treated_baseline(design, NHS_PRIMARY))
    y = design.panel.matrix(NHS_PRIMARY)
    pre = np.concatenate([y[i, : int(g)] for i, g in enumerate(design.g) if np.isfinite(g)])
    assert base == pytest.approx(pre.mean())
    for col in ("estimate", "ci_lower", "ci_upper"):
        assert get("cs", "simple_per_year")[col] == pytest.approx(12 * a[col])
        assert get("cs", "simple_pct")[col] == pytest.approx(100 * a[col] / base)
        assert get("randomization", "simple_pct")[col] == pytest.approx(100 * ri[col] / base)
    assert 800 < base < 1000  # total emergency admissions per 100,000 residents per month


def test_secondary_family_gets_holm_and_the_negative_control_is_apart(default):
    from evidence.primary import family_analysis

    params, panel, design = default
    proto = resolve(params)
    fam = family_analysis(_Ctx(params, panel, design), proto)
    simple = fam[(fam["method"] == "cs") & (fam["estimand"] == "simple")].set_index("outcome")
    holm = fam[fam["method"] == "holm"].set_index("outcome")
    assert set(holm.index) == set(proto.secondary) and "attendances_type2_per_100k" not in holm.index
    p = simple.loc[proto.secondary, "p_value"].sort_values()
    m = len(p)
    want = np.minimum(1, np.maximum.accumulate([(m - i) * v for i, v in enumerate(p.to_numpy())]))
    np.testing.assert_allclose(holm.loc[p.index, "p_value"].to_numpy(), want)
    assert simple.loc["pct_within_4h", "n_units"] == 41  # Frimley has no 4-hour measure over the field test
    assert simple.loc["attendances_per_100k", "n_units"] == 42


# --- baseline balance ----------------------------------------------------------------------------------------


def test_standardised_differences_by_hand():
    xt, xc = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0, 8.0])
    want = (2.0 - 5.0) / np.sqrt((1.0 + np.var(xc, ddof=1)) / 2)
    assert _smd(xt, xc) == pytest.approx(want)
    assert _smd(np.array([1.0, 1.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.0, 1.0]), binary=True) == pytest.approx((0.5 - 0.25) / np.sqrt((0.25 + 0.1875) / 2))


def test_balance_table_on_a_panel_built_to_be_imbalanced():
    df = simulate_panel(n_units=30, n_periods=20, cohorts={8: 10}, seed=4)
    treated_units = df.loc[df["first"] != "0", "area"].unique()
    df.loc[df["area"].isin(treated_units), "y"] += 25.0  # treated areas higher at baseline
    d = design_of(df)
    tab = balance_table(d, ["y"]).set_index("variable")
    assert baseline_periods(d).tolist() == list(range(8))
    assert tab.loc["y", "smd"] > 1 and tab.loc["y", "flag"] == ">= 0.25"
    assert abs(tab.loc["y (trend per year)", "smd"]) < 1  # trends were not moved
    assert "cohort 2016-12 (10)" in tab.columns and tab.attrs["n_treated"] == 10


def test_default_balance_has_outcomes_population_region_and_programmes(default):
    from evidence.primary import baseline_balance

    params, panel, design = default
    tab = baseline_balance(_Ctx(params, panel, design), resolve(params)).set_index("variable")
    assert tab.attrs["baseline"] == ("2016-04", "2017-06")
    for v in ("emergency_admissions_per_100k", "emergency_admissions_per_100k (trend per year)", "population", "imd_score", "region: London", "Greater Manchester devolution", "A&E field-test trust (share of type-1 attendances 2018/19)"):
        assert v in tab.index, v
    assert tab.loc["Greater Manchester devolution", "treated"] == pytest.approx(1 / 14)
    assert tab.loc["region: London", "treated"] == pytest.approx(1 / 14)  # the wave-3 footprint
    assert np.isfinite(tab["smd"]).all()


def test_honestdid_targets_the_balanced_event_time_average(default):
    from evidence.primary import balanced_horizon, honest_primary, primary_analysis

    params, panel, design = default
    proto = resolve(params)
    ctx = _Ctx(params, panel, design)
    prim = primary_analysis(ctx, proto)
    assert balanced_horizon(design) == 7  # wave 3 (2019-07) is observed to 2020-02
    h = honest_primary(ctx, proto, prim)
    dyn = prim.details["dynamic"].tidy()
    post = dyn[(dyn["event_time"] >= 0) & (dyn["event_time"] <= 7)].sort_values("event_time")
    est = h["estimand"].iloc[0]
    assert est["estimand"] == "event_average" and est["estimate"] == pytest.approx(post["estimate"].mean(), abs=1e-10)
    assert h["window"] == (-12, 7) and [r.method for r in h["honest"]] == ["honest_did_rm_cs", "honest_did_sm_cs"]
    for r in h["honest"]:
        assert r.tidy()["estimate"].iloc[0] == pytest.approx(est["estimate"], abs=1e-10) and np.isfinite(r.breakdown) and r.breakdown >= 0
    first = honest_primary(_Ctx(load_params("params/default.yaml", ["robustness.honest_target=first"]), panel, design), proto, prim)
    assert first["estimand"].iloc[0]["estimate"] == pytest.approx(post["estimate"].iloc[0], abs=1e-10)
    late = honest_primary(_Ctx(load_params("params/default.yaml", ["robustness.honest_target=9"]), panel, design), proto, prim)
    assert "outside the balanced window 0..7 (parameter: robustness.honest_target)" in late["not_applicable"]
    with pytest.raises(ParamsError, match="robustness.honest_target"):
        load_params("params/default.yaml", ["robustness.honest_target=last"])


def test_waves_4_to_6_are_stated_not_identifiable(default):
    from evidence.primary import wave_identifiability

    params, panel, design = default
    w = wave_identifiability(_Ctx(params, panel, design)).set_index("wave")
    assert list(w.index) == [1, 2, 3, 4, 5, 6] and w["footprints"].sum() == 42
    assert (w.loc[[1, 2, 3], "identifiable"] == "yes").all() and (w.loc[[4, 5, 6], "identifiable"] == "no").all()
    assert w.loc[1, "first treated month"] == "2017-07" and w.loc[1, "pre-COVID months of follow-up"] == 32
    assert "every footprint was an ICS" in w.loc[6, "why"] and "after COVID began" in w.loc[4, "why"]
    mpdta = load_params("params/example_mpdta.yaml")
    p2, d2 = prepare(mpdta)
    assert wave_identifiability(_Ctx(mpdta, p2, d2)).empty


def test_simple_aggregation_over_some_cohorts():
    from evidence.staggered.from_design import cs

    d = design_of(simulate_panel(n_units=30, n_periods=16, cohorts={5: 5, 9: 5, 12: 4}, effect=lambda e, g: 1.0 + (g == 5) * 2.0, seed=8))
    res = cs(d, "y", control_group="not_yet_treated", est_method="reg", base_period="universal")
    full = res.aggregate("simple").tidy().iloc[0]
    every = res.inner.aggregate("simple", cohorts=[6, 10, 13]).tidy().iloc[0]
    assert every["estimate"] == pytest.approx(full["estimate"], abs=1e-12) and every["std_error"] == pytest.approx(full["std_error"], abs=1e-12)
    sub = res.inner.aggregate("simple", cohorts=[6]).tidy().iloc[0]
    gt = res.tidy()
    cells = gt[(gt["estimand"] == "att_gt") & (gt["group"] == d.panel.period_labels[5])]
    post = cells[cells["period"] >= d.panel.period_labels[5]]
    assert sub["estimate"] == pytest.approx(post["estimate"].mean(), abs=1e-10)  # one cohort: plain mean of its post cells
    assert 2.0 < sub["estimate"] < 4.0 and sub["std_error"] > 0


def test_covid_era_follow_up_is_labelled_and_uses_later_waves_as_comparisons(default):
    from evidence.primary import covid_era

    params, panel, design = default
    out = covid_era(_Ctx(params, panel, design), resolve(params))
    row = out["rows"].iloc[0]
    assert row["group"] == "covid era: waves 1, 2, 3, 2016-04..2021-03" and row["n_units"] == 42
    assert "not as the effect of designation" in out["note"] and out["design"].window == ("2016-04", "2021-03")
    assert out["design"].n_treated == 42 - 13  # wave 6 (13 footprints, April 2021) is untreated within the window
    mp = load_params("params/example_mpdta.yaml")
    p2, d2 = prepare(mp)
    assert "built-in NHS data" in covid_era(_Ctx(mp, p2, d2), resolve(mp))["not_applicable"]
