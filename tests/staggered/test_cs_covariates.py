"""Callaway & Sant'Anna with covariates: the batched engine against csdid (full precision) and against the per-cell
DRDID transcription, and the BLAS thread limit the estimator runs under.

The csdid reference (``fixtures/csdid_mpdta_covariates.csv``) is written by
``bench/references/csdid_covariates_reference.py`` with csdid 0.4.3 (a port of R did / DRDID), 17 significant
digits; agreement is required to 1e-10 for every ATT(g,t), standard error and aggregation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence._blas import _openblas_controls, blas_threads
from evidence.staggered import att_gt

ROOT = Path(__file__).resolve().parents[2]
REF = Path(__file__).resolve().parent / "fixtures" / "csdid_mpdta_covariates.csv"
TOL = 1e-10
ARGS = {"yname": "lemp", "tname": "year", "idname": "countyreal", "gname": "first.treat"}
CG = {"nevertreated": "never_treated", "notyettreated": "not_yet_treated"}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    df = pd.read_csv(ROOT / "tests" / "fixtures" / "did_mpdta" / "mpdta.csv")
    df["lpop2"] = df["lpop"] ** 2
    return df


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF, comment="#")


CASES = [(c, g, m) for c in ("lpop", "lpop+lpop2") for g in ("nevertreated", "notyettreated") for m in ("dr", "ipw", "reg")]


@pytest.mark.parametrize(("covs", "cg", "method"), CASES)
def test_matches_csdid_to_1e10(mpdta: pd.DataFrame, ref: pd.DataFrame, covs: str, cg: str, method: str) -> None:
    r = ref[(ref["covariates"] == covs) & (ref["control_group"] == cg) & (ref["est_method"] == method)]
    res = att_gt(mpdta, **ARGS, covariates=covs.split("+"), control_group=CG[cg], est_method=method)
    assert res.engine == "dense"
    cells = r[r["kind"] == "attgt"]
    np.testing.assert_array_equal(res.group, cells["group"].to_numpy(float))
    np.testing.assert_array_equal(res.period, cells["period"].to_numpy(float))
    np.testing.assert_allclose(res.att, cells["estimate"], rtol=0, atol=TOL)
    np.testing.assert_allclose(res.se, cells["std_error"], rtol=0, atol=TOL)
    for kind in ("simple", "group", "dynamic", "calendar"):
        a = res.aggregate(kind)
        rk = r[r["kind"] == kind]
        overall = rk[rk["egt"].isna()].iloc[0]
        assert a.overall.estimate == pytest.approx(overall["estimate"], abs=TOL)
        assert a.overall.se == pytest.approx(overall["std_error"], abs=TOL)
        by = rk[rk["egt"].notna()]
        if kind != "simple":
            np.testing.assert_array_equal(a.egt, by["egt"].to_numpy(float))
            np.testing.assert_allclose(a.estimates, by["estimate"], rtol=0, atol=TOL)
            np.testing.assert_allclose(a.se, by["std_error"], rtol=0, atol=TOL)


def _panel(n: int = 1500, periods: int = 6, seed: int = 3) -> pd.DataFrame:
    """Cohorts chosen by two covariates (one continuous, one binary) that also shift the trend."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), (rng.random(n) < 0.4).astype(float)
    cohorts = np.array([0.0, 3.0, 4.0, 5.0])
    score = np.outer(x1, [0, 0.3, 0.6, 0.9]) - np.outer(x2, [0, 0.5, 0, 0.5]) + rng.gumbel(size=(n, 4))
    g = cohorts[np.argmax(score, axis=1)]
    t = np.arange(1, periods + 1, dtype=float)
    y = rng.normal(size=n)[:, None] + np.outer(0.2 + 0.3 * x1 + 0.2 * x2, t) + np.where((g[:, None] > 0) & (t >= g[:, None]), 1.0, 0.0)
    y += rng.normal(size=(n, periods)) + 1e4  # a large level: differences must not lose precision
    return pd.DataFrame({"id": np.repeat(np.arange(n), periods), "t": np.tile(t, n), "y": y.ravel(), "g": np.repeat(g, periods),
                         "x1": np.repeat(x1, periods), "x2": np.repeat(x2, periods)})


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("cg", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("base", ["varying", "universal"])
def test_batched_engine_equals_per_cell_drdid(method: str, cg: str, base: str) -> None:
    """The batched fit (one propensity score and OLS per cohort and comparison set, all periods at once) equals the
    per-cell transcription of DRDID, cell by cell, influence function included."""
    df = _panel()
    kw = dict(yname="y", tname="t", idname="id", gname="g", covariates=["x1", "x2"], est_method=method, control_group=cg, base_period=base)
    a, b = att_gt(df, **kw), att_gt(df, **kw, _engine="cell")
    assert (a.engine, b.engine) == ("dense", "cell")
    np.testing.assert_allclose(a.att, b.att, rtol=0, atol=1e-11)
    np.testing.assert_allclose(a.se, b.se, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.influence_function, b.influence_function, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.vcov, b.vcov, rtol=1e-9, atol=1e-16)
    for kind in ("simple", "dynamic"):
        np.testing.assert_allclose(a.aggregate(kind).se, b.aggregate(kind).se, rtol=1e-10)
        assert a.aggregate(kind).overall.se == pytest.approx(b.aggregate(kind).overall.se, rel=1e-10)


def test_failed_group_is_reported_per_cell_as_the_per_cell_engine_does() -> None:
    """A covariate that separates one cohort from the comparison group: its cells are not estimated, with the
    reason, identically in both engines; the other cohorts are unaffected."""
    df = _panel(n=800)
    noise = np.random.default_rng(9).normal(size=800)
    df["sep"] = np.where(df["g"] == 4, 10.0, 0.0) + np.repeat(noise, 6) * 0.1
    kw = dict(yname="y", tname="t", idname="id", gname="g", covariates=["x1", "sep"], est_method="dr")
    a, b = att_gt(df, **kw), att_gt(df, **kw, _engine="cell")
    assert a.notes == b.notes
    bad = a.group == 4
    assert np.isnan(a.att[bad]).all() and np.isfinite(a.att[~bad & ~a._reference]).all()
    assert sum("g=4" in n and "not estimated" in n for n in a.notes) == bad.sum()
    np.testing.assert_allclose(a.att[~bad], b.att[~bad], atol=1e-11)


def test_influence_function_is_a_copy() -> None:
    res = att_gt(_panel(n=400), "y", "t", "id", "g", covariates=["x1"])
    se = res.se.copy()
    res.influence_function[:] = 0.0
    np.testing.assert_array_equal(res.aggregate("simple").se.size, 0)
    assert np.isfinite(res.aggregate("simple").overall.se) and res.aggregate("simple").overall.se > 0
    np.testing.assert_array_equal(res.se, se)


def test_blas_threads_limits_and_restores() -> None:
    controls = _openblas_controls()
    if not controls:
        pytest.skip("no OpenBLAS mapped into this process (another BLAS: left alone by design)")
    before = [get() for _, get in controls]
    with blas_threads(1):
        assert [get() for _, get in controls] == [1] * len(controls)
        with blas_threads(1):
            pass
        assert [get() for _, get in controls] == [1] * len(controls)
    assert [get() for _, get in controls] == before
