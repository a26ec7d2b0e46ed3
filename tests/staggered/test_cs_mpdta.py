"""Callaway & Sant'Anna ATT(g,t) on mpdta against R did 2.5.1 (tests/fixtures/did_mpdta, see its README).

Tolerance: absolute 1e-6 for every reference number (the estimator is closed form here, and agrees to ~1e-14).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence.errors import EstimationError
from evidence.results import ESTIMATE_COLUMNS
from evidence.staggered import AggteResult, AttGtResult, att_gt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "did_mpdta"
TOL = 1e-6
ARGS = {"yname": "lemp", "tname": "year", "idname": "countyreal", "gname": "first.treat"}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "mpdta.csv")


@pytest.fixture(scope="module")
def ref_attgt() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "r_did_2.5.1_attgt.csv")


@pytest.fixture(scope="module")
def ref_aggte() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "r_did_2.5.1_aggte.csv")


@pytest.fixture(scope="module")
def ref_pretest() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "r_did_2.5.1_pretest.csv")


@pytest.fixture(scope="module", params=["cohort", "dense"])
def res(request: pytest.FixtureRequest, mpdta: pd.DataFrame) -> AttGtResult:
    """The scenario mpdta_nev_dr, by both engines (cohort sufficient statistics, and per-cell DRDID)."""
    return att_gt(mpdta, **ARGS, control_group="never_treated", est_method="dr", _engine=request.param)


def test_attgt_matches_r(res: AttGtResult, ref_attgt: pd.DataFrame) -> None:
    np.testing.assert_array_equal(res.group, ref_attgt["group"].to_numpy())
    np.testing.assert_array_equal(res.period, ref_attgt["t"].to_numpy())
    np.testing.assert_allclose(res.att, ref_attgt["att"], rtol=0, atol=TOL)
    np.testing.assert_allclose(res.se, ref_attgt["se"], rtol=0, atol=TOL)
    assert res.ci_type == "pointwise"


def test_pretest_matches_r(res: AttGtResult, ref_pretest: pd.DataFrame) -> None:
    ref = ref_pretest.iloc[0]
    assert res.pretest.df == 5
    assert res.pretest.W == pytest.approx(ref["W"], abs=TOL)
    # R reports round(1 - pchisq(W, q), 5)
    assert round(res.pretest.p_value, 5) == pytest.approx(ref["Wpval"], abs=1e-12)
    assert res.pretest.p_value == pytest.approx(ref["Wpval"], abs=5e-6)


@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_aggregations_match_r(res: AttGtResult, ref_aggte: pd.DataFrame, kind: str) -> None:
    ref = ref_aggte[ref_aggte["type"] == kind]
    agg = res.aggregate(kind)
    assert isinstance(agg, AggteResult)
    assert agg.overall.estimate == pytest.approx(ref["overall_att"].iloc[0], abs=TOL)
    assert agg.overall.se == pytest.approx(ref["overall_se"].iloc[0], abs=TOL)
    if kind == "simple":
        assert len(agg.egt) == 0
        return
    np.testing.assert_array_equal(agg.egt, ref["egt"].to_numpy(dtype=float))
    np.testing.assert_allclose(agg.estimates, ref["att_egt"], rtol=0, atol=TOL)
    np.testing.assert_allclose(agg.se, ref["se_egt"], rtol=0, atol=TOL)


def test_influence_function_scaling(res: AttGtResult, ref_attgt: pd.DataFrame) -> None:
    IF = res.influence_function
    assert IF.shape == (500, 12)
    # R: V = IF'IF / n, se = sqrt(diag(V) / n)
    np.testing.assert_allclose(np.sqrt((IF**2).sum(axis=0)) / 500, ref_attgt["se"], atol=TOL)
    np.testing.assert_allclose(IF.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(res.vcov, IF.T @ IF / 500**2, rtol=1e-10, atol=1e-14)


def test_aggregate_influence_function(res: AttGtResult, ref_aggte: pd.DataFrame) -> None:
    agg = res.aggregate("dynamic")
    ref = ref_aggte[ref_aggte["type"] == "dynamic"]
    np.testing.assert_allclose(np.sqrt((agg.influence_function**2).mean(axis=0) / 500), ref["se_egt"], atol=TOL)
    assert np.sqrt((agg.overall_influence_function**2).mean() / 500) == pytest.approx(
        ref["overall_se"].iloc[0], abs=TOL
    )


def test_tidy_contract(res: AttGtResult, ref_attgt: pd.DataFrame) -> None:
    tidy = res.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS
    assert (tidy["method"] == "cs").all() and (tidy["estimand"] == "att_gt").all()
    assert (tidy["outcome"] == "lemp").all()
    assert tidy["group"].tolist() == [str(g) for g in ref_attgt["group"]]
    assert tidy["period"].tolist() == [str(t) for t in ref_attgt["t"]]
    np.testing.assert_array_equal(tidy["event_time"].to_numpy(dtype=float), (ref_attgt["t"] - ref_attgt["group"]))
    np.testing.assert_allclose(tidy["ci_upper"] - tidy["estimate"], 1.959963984540054 * ref_attgt["se"], atol=1e-6)
    # cohort 2004 (20 units) + never treated (309 units)
    assert tidy["n_units"].iloc[0] == 20 + 309 and tidy["n_obs"].iloc[0] == 2 * (20 + 309)
    assert tidy["notebook"].isna().all()


def test_aggregate_tidy(res: AttGtResult) -> None:
    for kind, col in [("group", "group"), ("dynamic", "event_time"), ("calendar", "period")]:
        tidy = res.aggregate(kind).tidy()
        assert list(tidy.columns) == ESTIMATE_COLUMNS
        assert (tidy["estimand"] == kind).all()
        assert tidy[["group", "period", "event_time"]].iloc[0].isna().all()  # the overall row
        assert tidy[col].iloc[1:].notna().all()
    simple = res.aggregate("simple").tidy()
    assert len(simple) == 1 and simple["estimand"].iloc[0] == "simple"
    dyn = res.aggregate("dynamic").tidy()
    assert dyn["event_time"].iloc[1:].tolist() == [-3, -2, -1, 0, 1, 2, 3]
    assert res.aggregate("dynamic", min_e=-1, max_e=1).tidy()["event_time"].iloc[1:].tolist() == [-1, 0, 1]


def test_summary_and_repr(res: AttGtResult) -> None:
    text = res.summary()
    assert "Callaway & Sant'Anna" in text and "W = 7.7912" in text and "p = 0.16812" in text
    assert "2004" in text and "pointwise" in text
    assert "<pre" in res._repr_html_()
    agg = res.aggregate("dynamic")
    assert "overall" in agg.summary() and "<pre" in agg._repr_html_()
    assert "AggteResult" in repr(agg) and "AttGtResult" in repr(res)


def test_engines_agree_on_covariance(mpdta: pd.DataFrame) -> None:
    a = att_gt(mpdta, **ARGS, _engine="cohort")
    b = att_gt(mpdta, **ARGS, _engine="dense")
    np.testing.assert_allclose(a.vcov, b.vcov, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(a.influence_function, b.influence_function, rtol=1e-8, atol=1e-10)


def test_row_order_and_id_type_do_not_matter(mpdta: pd.DataFrame, ref_attgt: pd.DataFrame) -> None:
    shuffled = mpdta.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled["countyreal"] = "c" + shuffled["countyreal"].astype(str)
    r = att_gt(shuffled, **ARGS)
    np.testing.assert_allclose(r.att, ref_attgt["att"], atol=TOL)
    np.testing.assert_allclose(r.se, ref_attgt["se"], atol=TOL)
    assert r.unit_ids[0].startswith("c")


def test_missing_or_late_cohort_is_never_treated(mpdta: pd.DataFrame, ref_attgt: pd.DataFrame) -> None:
    d = mpdta.copy()
    never = d["first.treat"] == 0
    ids = d.loc[never, "countyreal"].unique()
    half = np.isin(d["countyreal"], ids[: len(ids) // 2])
    d.loc[half, "first.treat"] = np.nan  # missing = never treated
    d.loc[never & ~half, "first.treat"] = 2012  # after the last period = never treated within the data
    r = att_gt(d, **ARGS)
    np.testing.assert_allclose(r.att, ref_attgt["att"], atol=TOL)
    np.testing.assert_allclose(r.se, ref_attgt["se"], atol=TOL)
    assert any("after the last period" in n for n in r.notes)


def test_bootstrap_is_seeded_and_close_to_analytic(mpdta: pd.DataFrame, ref_attgt: pd.DataFrame) -> None:
    a = att_gt(mpdta, **ARGS, bootstrap_draws=2999, seed=11)
    b = att_gt(mpdta, **ARGS, bootstrap_draws=2999, seed=11)
    c = att_gt(mpdta, **ARGS, bootstrap_draws=2999, seed=12)
    np.testing.assert_array_equal(a.se, b.se)
    assert a.critical_value == b.critical_value
    assert not np.array_equal(a.se, c.se)
    np.testing.assert_allclose(a.att, ref_attgt["att"], atol=TOL)  # the bootstrap changes only the inference
    np.testing.assert_allclose(a.se / ref_attgt["se"], 1.0, atol=0.10)
    assert a.ci_type == "uniform"
    assert a.critical_value > 1.96
    tidy = a.tidy()
    width = (tidy["ci_upper"] - tidy["ci_lower"]).to_numpy()
    np.testing.assert_array_less(2 * 1.96 * a.se, width)  # the uniform band is wider than a pointwise CI
    # the pre-test always uses the analytic covariance, as R
    assert a.pretest.W == pytest.approx(7.79123662720035, abs=TOL)


def test_bootstrap_mammen_and_aggregations(mpdta: pd.DataFrame, ref_aggte: pd.DataFrame) -> None:
    r = att_gt(mpdta, **ARGS, bootstrap_draws=2999, seed=5, bootstrap_weights="mammen")
    ref_se = pd.read_csv(FIXTURES / "r_did_2.5.1_attgt.csv")["se"]
    np.testing.assert_allclose(r.se / ref_se, 1.0, atol=0.10)
    dyn = r.aggregate("dynamic")
    dyn2 = r.aggregate("dynamic")
    np.testing.assert_array_equal(dyn.se, dyn2.se)  # reuses the seed of att_gt
    refd = ref_aggte[ref_aggte["type"] == "dynamic"]
    np.testing.assert_allclose(dyn.se / refd["se_egt"].to_numpy(), 1.0, atol=0.10)
    assert dyn.ci_type == "uniform" and dyn.critical_value > 1.96
    analytic = r.aggregate("dynamic", bootstrap_draws=0)
    np.testing.assert_allclose(analytic.se, refd["se_egt"], atol=TOL)
    assert analytic.ci_type == "pointwise"


def test_cluster_on_id_is_unit_level(mpdta: pd.DataFrame, ref_attgt: pd.DataFrame) -> None:
    r = att_gt(mpdta, **ARGS, cluster="countyreal")
    np.testing.assert_allclose(r.se, ref_attgt["se"], atol=TOL)
    assert r.n_clusters == 500


def test_cluster_sums(mpdta: pd.DataFrame) -> None:
    d = mpdta.copy()
    d["state"] = d["countyreal"] // 1000  # FIPS state part of the county code
    r = att_gt(d, **ARGS, cluster="state")
    base = att_gt(d, **ARGS)
    IF = base.influence_function
    states = pd.Series(base.unit_ids // 1000)
    S = pd.DataFrame(IF).groupby(states.to_numpy()).sum().to_numpy()
    np.testing.assert_allclose(r.se, np.sqrt((S**2).sum(axis=0)) / 500, rtol=1e-10)
    np.testing.assert_allclose(r.att, base.att, atol=1e-14)
    assert r.n_clusters == states.nunique()
    agg = r.aggregate("simple")
    bagg = base.aggregate("simple")
    Sa = pd.Series(bagg.overall_influence_function).groupby(states.to_numpy()).sum().to_numpy()
    assert agg.overall.se == pytest.approx(np.sqrt((Sa**2).sum()) / 500, rel=1e-10)
    dense = att_gt(d, **ARGS, cluster="state", _engine="dense")
    np.testing.assert_allclose(dense.se, r.se, rtol=1e-9)
    boot = att_gt(d, **ARGS, cluster="state", bootstrap_draws=999, seed=1)
    assert np.all(np.isfinite(boot.se))
    assert (r.tidy()["n_clusters"] <= r.n_clusters).all()


def test_covariates_run_on_mpdta(mpdta: pd.DataFrame) -> None:
    for method in ("dr", "ipw", "reg"):
        r = att_gt(mpdta, **ARGS, covariates=["lpop"], est_method=method)
        assert np.all(np.isfinite(r.att)) and np.all(np.isfinite(r.se))
        assert r.engine == "dense"
        # lpop barely matters here: estimates stay close to the unconditional ones
        np.testing.assert_allclose(r.att, att_gt(mpdta, **ARGS).att, atol=0.02)


def test_no_never_treated_units(mpdta: pd.DataFrame) -> None:
    # as R: periods from the last cohort on are dropped and that cohort is only a not-yet-treated comparison
    d = mpdta[mpdta["first.treat"] > 0]
    r = att_gt(d, **ARGS, control_group="not_yet_treated")
    assert any("No never-treated units" in n for n in r.notes)
    assert set(np.unique(r.group)) == {2004, 2006}
    assert r.period.max() == 2006
    with pytest.raises(EstimationError, match="never_treated"):
        att_gt(d, **ARGS)


def test_bad_aggregation_arguments(res: AttGtResult) -> None:
    with pytest.raises(EstimationError, match="type="):
        res.aggregate("eventstudy")
    with pytest.raises(EstimationError, match="balance_e"):
        res.aggregate("dynamic", balance_e=1.5)  # type: ignore[arg-type]


def test_balance_e(res: AttGtResult) -> None:
    agg = res.aggregate("dynamic", balance_e=1)
    # cohorts observed at least 1 period after treatment: 2004 and 2006; event times -1 .. 1 within the window
    assert agg.egt.tolist() == [-2.0, -1.0, 0.0, 1.0]
    att = pd.DataFrame({"g": res.group, "t": res.period, "att": res.att})
    att = att[att["g"].isin([2004, 2006])]
    sizes = {2004: 20, 2006: 40}
    e0 = att[(att["t"] - att["g"]) == 0]
    w = np.array([sizes[g] for g in e0["g"]], dtype=float)
    assert agg.estimates[2] == pytest.approx(float(np.sum(w * e0["att"]) / w.sum()), abs=1e-12)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # seaborn heatmap internals
def test_plot_hooks(res: AttGtResult) -> None:
    plots = pytest.importorskip("evidence.plots")
    if not hasattr(plots, "plot_att_gt") or not hasattr(plots, "plot_event_study"):
        pytest.skip("evidence.plots has no plot_att_gt / plot_event_study yet")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert res.plot() is not None
    assert res.aggregate("dynamic").plot() is not None
    plt.close("all")
    with pytest.raises(EstimationError, match="aggregate\\('dynamic'\\)"):
        res.aggregate("group").plot()
