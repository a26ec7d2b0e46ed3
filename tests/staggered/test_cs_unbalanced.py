"""Callaway-Sant'Anna on an UNBALANCED panel against R ``did`` 2.5.1 with ``allow_unbalanced_panel = TRUE``
(repeated cross-section estimators per ATT(g,t), influence functions summed within units) and ``FALSE`` (incomplete
units dropped). Reference numbers: ``tests/fixtures/did_unbalanced`` (README.md there has the command that produced
them; SEMANTICS.md what R does). The unbalanced panel is mpdta minus rows with (countyreal * 31 + year) mod 11 == 0.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence.staggered import att_gt

FIX = Path(__file__).resolve().parents[1] / "fixtures"
REF = FIX / "did_unbalanced"

CASES = {
    "unb_dr_never": dict(est_method="dr", control_group="never_treated"),
    "unb_dr_notyet": dict(est_method="dr", control_group="not_yet_treated"),
    "unb_reg_lpop": dict(est_method="reg", covariates=["lpop"]),
    "unb_ipw_lpop": dict(est_method="ipw", covariates=["lpop"]),
    "unb_dr_lpop_notyet": dict(est_method="dr", covariates=["lpop"], control_group="not_yet_treated"),
    "unb_dr_universal": dict(est_method="dr", base_period="universal"),
    "bal_dr_never": dict(est_method="dr", allow_unbalanced="drop"),
}
# intercept-only and outcome-regression cells are closed forms (1e-12); logit fits converge to ~1e-10
TOL = {"unb_ipw_lpop": 1e-8, "unb_dr_lpop_notyet": 1e-8}


@pytest.fixture(scope="module")
def unbalanced() -> pd.DataFrame:
    mp = pd.read_csv(FIX / "did_mpdta" / "mpdta.csv")
    return mp[((mp["countyreal"] * 31 + mp["year"]) % 11) != 0]


def _run(data: pd.DataFrame, case: str):
    kw = dict(CASES[case])
    allow = kw.pop("allow_unbalanced", True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return att_gt(data, "lemp", "year", "countyreal", "first.treat", allow_unbalanced=allow, **kw)


@pytest.mark.parametrize("case", list(CASES))
def test_att_gt_and_aggregations_match_r_did_on_an_unbalanced_panel(unbalanced, case):
    tol = TOL.get(case, 1e-12)
    res = _run(unbalanced, case)
    ref = pd.read_csv(REF / f"{case}_attgt.csv")
    ours = pd.DataFrame({"group": res.group, "time": res.period, "att": res.att, "se": res.se})
    m = ref.merge(ours, on=["group", "time"], suffixes=("_r", ""), how="left")
    assert len(m) == len(ref) == len(ours)
    np.testing.assert_allclose(m["att"], m["att_r"], atol=tol, rtol=0)
    np.testing.assert_allclose(m["se"], m["se_r"], atol=tol, rtol=0)  # NaN where R has NA (universal reference cells)
    agg_ref = pd.read_csv(REF / f"{case}_aggte.csv")
    for kind in ("simple", "dynamic", "group", "calendar"):
        agg = res.aggregate(kind, na_rm=True)
        r = agg_ref[agg_ref["type"] == kind]
        overall = r[r["e"].isna()].iloc[0]
        assert agg.overall.estimate == pytest.approx(overall["att"], abs=tol), kind
        assert agg.overall.se == pytest.approx(overall["se"], abs=tol), kind
        if kind != "simple":
            detail = r[r["e"].notna()]
            np.testing.assert_array_equal(agg.egt, detail["e"].to_numpy(dtype=float))
            np.testing.assert_allclose(agg.estimates, detail["att"], atol=tol, rtol=0)
            np.testing.assert_allclose(agg.se, detail["se"], atol=tol, rtol=0)


def test_unbalanced_cs_keeps_every_unit_and_says_what_it_did(unbalanced):
    res = _run(unbalanced, "unb_dr_never")
    assert res.n_units == 500 and res.engine == "rc"
    assert any("R did's allow_unbalanced_panel" in n for n in res.notes)
    # N / rows scaling and the collapse by unit: se = sqrt(sum_u psi_u^2) / N (R's V = IF'IF / N)
    IF = res.influence_function
    np.testing.assert_allclose(np.sqrt((IF**2).sum(axis=0)) / 500, res.se, rtol=1e-12)
    dropped = _run(unbalanced, "bal_dr_never")
    assert dropped.n_units == 267


def test_on_a_balanced_panel_the_unbalanced_option_changes_nothing():
    mp = pd.read_csv(FIX / "did_mpdta" / "mpdta.csv")
    a = att_gt(mp, "lemp", "year", "countyreal", "first.treat", allow_unbalanced=True)
    b = att_gt(mp, "lemp", "year", "countyreal", "first.treat")
    np.testing.assert_allclose(a.att, b.att, atol=1e-14)
    np.testing.assert_allclose(a.se, b.se, atol=1e-14)
