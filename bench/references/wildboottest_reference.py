"""Produce tests/fixtures/wild/wildboottest_reference.json: wildboottest's wild cluster bootstrap p-values on the
test problem of tests/robust/test_wild.py (30 units, one cohort of 5, no effect; SYNTHETIC), with the package's own
Rademacher weights (seed 0, 1999 draws) handed to wildboottest, restricted (WCR) and unrestricted (WCU).

Run (needs the peer, which is not a test dependency: it pulls numba and llvmlite):
    .venv/bin/pip install wildboottest==0.3.2
    .venv/bin/python bench/references/wildboottest_reference.py
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from simdata import design_of, simulate_panel  # noqa: E402
from wildboottest.wildboottest import WildboottestCL  # noqa: E402

from evidence.robust.wild import bootstrap_weights  # noqa: E402

design = design_of(simulate_panel(30, 16, {9: 5}, effect=0.0, seed=5))
y = design.panel.matrix("y")
N, T = y.shape
D = design.treatment_matrix()
ud = lambda a: a - a.mean(axis=1, keepdims=True)  # noqa: E731 - unit effects are nested in the clusters
dummies = np.zeros((N, T, T - 1))
for t in range(1, T):
    dummies[:, t, t - 1] = 1.0
X = np.column_stack([ud(D).ravel(), (dummies - dummies.mean(axis=1, keepdims=True)).reshape(N * T, T - 1)])
Y = ud(y).ravel()
cl = np.repeat(design.cluster_codes, T)
R = np.zeros(X.shape[1])
R[0] = 1.0
B = 1999
V, _ = bootstrap_weights(int(design.cluster_codes.max()) + 1, B, "rademacher", seed=0)
out = {"command": "bench/references/wildboottest_reference.py", "wildboottest": version("wildboottest"), "draws": B, "weights": "rademacher, evidence.robust.wild.bootstrap_weights(seed=0)", "p_values": {}}
for restricted in (True, False):
    wb = WildboottestCL(X=X, Y=Y, cluster=cl, R=R, B=B, seed=1, parallel=False)
    wb.get_scores(bootstrap_type="11", impose_null=restricted)
    wb.get_weights(weights_type="rademacher")
    wb.v, wb.B = V.T.copy(), B
    wb.get_numer(); wb.get_denom(); wb.get_tboot(); wb.get_vcov(); wb.get_tstat(); wb.get_pvalue()  # noqa: E702
    out["p_values"]["restricted" if restricted else "unrestricted"] = float(wb.pvalue)
    out.setdefault("t_stat", float(np.asarray(wb.t_stat).ravel()[0]))
dest = ROOT / "tests" / "fixtures" / "wild" / "wildboottest_reference.json"
dest.parent.mkdir(parents=True, exist_ok=True)
dest.write_text(json.dumps(out, indent=1) + "\n")
print(dest.read_text())
