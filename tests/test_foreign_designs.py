"""The workbook on panels unlike the default (issue: any evaluator's data): each foreign design runs end to end
through ``evidence run`` with every notebook and publishes, and the run index states which analyses were not
applicable or ran in a fallback form — decided from the design, before any notebook ran."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from foreign_designs import DESIGNS, write_design
from evidence.params import NOTEBOOK_ORDER

ROOT = Path(__file__).resolve().parents[1]


def _run(params: Path, reports: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evidence.cli", "run", str(params), "--reports", str(reports), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=900, env=dict(os.environ, MPLBACKEND="Agg"))


@pytest.mark.e2e
@pytest.mark.parametrize("design", [d for d in DESIGNS if not d.error], ids=lambda d: d.name)
def test_foreign_design_publishes_with_not_applicable_notes(design, tmp_path):
    params = write_design(design, tmp_path / "design")
    proc = _run(params, tmp_path / "reports")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "reports" / design.name
    for nb in NOTEBOOK_ORDER:
        assert (out / f"{nb}.html").is_file()
    plan = pd.read_csv(out / "applicability.csv").set_index("analysis")
    for analysis, status in design.expect.items():
        assert plan.loc[analysis, "status"] == status, (analysis, plan.loc[analysis, "line"])
    index = (out / "index.html").read_text()
    for line in plan.loc[plan["status"] != "runs", "line"]:
        assert line.split(":")[0].replace("'", "&#x27;") in index  # every not-applicable / fallback line is on the index
        assert "(parameter: " in line  # and names the parameter that would change it
    est = pd.read_csv(out / "estimates.csv")
    assert len(est) > 0 and est["estimate"].notna().any()
    skipped = set(pd.read_json(out / "manifest.json", typ="series")["applicability"]["not_applicable_notebooks"])
    for nb in skipped:  # a notebook none of whose analyses applies shows why, and records nothing
        assert "Not applicable to this design" in (out / f"{nb}.html").read_text()
        assert nb not in set(est["notebook"])
    if "log_outcomes" in design.expect:
        assert not est["outcome"].astype(str).str.endswith("_log").any()
    if design.expect.get("its") == "runs":
        assert (est["notebook"] == "04_its").any()
    if design.expect.get("synth") in ("runs", "fallback"):
        assert est["method"].isin(["sdid", "sc"]).any()


@pytest.mark.e2e
@pytest.mark.parametrize("design", [d for d in DESIGNS if d.error], ids=lambda d: d.name)
def test_foreign_design_waiting_on_an_estimator_stops_with_one_line(design, tmp_path):
    params = write_design(design, tmp_path / "design")
    proc = _run(params, tmp_path / "reports")
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and design.error in err[0] and "Traceback" not in proc.stderr
