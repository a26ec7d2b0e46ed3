"""Write the full-precision csdid reference for Callaway & Sant'Anna with covariates on mpdta.

Not part of the test suite (csdid is a benchmark-only package). Run with the benchmark environment::

    /work/bench-peers/bin/python bench/references/csdid_covariates_reference.py

Output: ``tests/staggered/fixtures/csdid_mpdta_covariates.csv``, read by
``tests/staggered/test_cs_covariates.py``. Cases: covariates ``lpop`` and ``lpop + lpop2`` (``lpop2 = lpop**2``,
added here), estimators dr / ipw / reg, never-treated and not-yet-treated comparison groups, analytic standard
errors (``bstrap=False``); every ATT(g,t) and the simple, group, dynamic and calendar aggregations (overall and
by egt). csdid (a port of R did, which calls DRDID) agrees with R did to rounding; the stored numbers are printed
with 17 significant digits.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "staggered" / "fixtures" / "csdid_mpdta_covariates.csv"


def main() -> None:
    from csdid.att_gt import ATTgt

    warnings.filterwarnings("ignore")
    df = pd.read_csv(ROOT / "tests" / "fixtures" / "did_mpdta" / "mpdta.csv")
    df["lpop2"] = df["lpop"] ** 2
    rows = []
    for covs in (["lpop"], ["lpop", "lpop2"]):
        for cg in ("nevertreated", "notyettreated"):
            for method in ("dr", "ipw", "reg"):
                case = dict(covariates="+".join(covs), control_group=cg, est_method=method)
                with contextlib.redirect_stdout(io.StringIO()):
                    o = ATTgt(yname="lemp", gname="first.treat", idname="countyreal", tname="year", data=df,
                              xformla="lemp~" + "+".join(covs), control_group=[cg])
                    o.fit(est_method=method, bstrap=False)
                    r = o.results
                    for g, t, a, s in zip(r["group"], r["year"], r["att"], r["se"], strict=True):
                        rows.append({**case, "kind": "attgt", "group": g, "period": t, "egt": np.nan, "estimate": a, "std_error": s})
                    for kind in ("simple", "group", "dynamic", "calendar"):
                        o.aggte(typec=kind, bstrap=False, cband=False)
                        at = o.atte
                        rows.append({**case, "kind": kind, "group": np.nan, "period": np.nan, "egt": np.nan,
                                     "estimate": float(at["overall_att"]), "std_error": float(at["overall_se"])})
                        if at["egt"] is not None:
                            for e, a, s in zip(np.atleast_1d(at["egt"]), np.atleast_1d(at["att_egt"]), np.atleast_1d(at["se_egt"]), strict=True):
                                rows.append({**case, "kind": kind, "group": np.nan, "period": np.nan, "egt": float(e),
                                             "estimate": float(a), "std_error": float(s)})
    out = pd.DataFrame(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w") as fh:
        fh.write(f"# csdid {version('csdid')} on mpdta (did's example data) with lpop2 = lpop**2; written by bench/references/csdid_covariates_reference.py\n")
        out.to_csv(fh, index=False, float_format="%.17g")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(out)} rows)")


if __name__ == "__main__":
    main()
