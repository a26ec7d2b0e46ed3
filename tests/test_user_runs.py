"""A user's panel end to end: the derived protocol's primary analysis runs, and nothing from the built-in NHS data
(GP payments, GP Patient Survey) appears under the user's title."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_user_panel_runs_primary_and_reports_builtin_sources_as_not_applicable(tmp_path):
    params = tmp_path / "mine.yaml"
    params.write_text(
        "run_name: mine\ntitle: My county panel\n"
        f"data:\n  path: {ROOT / 'data/examples/mpdta.csv'}\n  unit: countyreal\n  time: year\n  outcomes: [lemp]\n  outcome_kinds: {{lemp: continuous}}\n"
        "treatment:\n  cohort: first.treat\n"  # no design block: the data's own span
        "methods:\n  did:\n    log_outcomes: false\n"
        "notebooks: [00_primary, 08_costs_satisfaction]\n"
    )
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "run", str(params), "--reports", str(tmp_path / "reports"), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "reports" / "mine"
    est = pd.read_csv(out / "estimates.csv")
    assert set(est["outcome"].dropna()) <= {"lemp", "lemp_log"}  # nothing from GP payments or the GP Patient Survey
    prim = est[(est["notebook"] == "00_primary") & (est["method"] == "cs") & (est["estimand"] == "simple")]
    assert len(prim) >= 1 and prim["n_units"].iloc[0] == 500
    html = (out / "08_costs_satisfaction.html").read_text()
    assert "Not applicable to this design" in html and "built-in NHS GP-payments and GP Patient Survey data" in html
    assert "derived from the data" in (out / "00_primary.html").read_text()
    assert "2003 to 2007" in (out / "params.yaml").read_text() or "start: 2003" in (out / "params.yaml").read_text()
