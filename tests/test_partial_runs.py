"""Partial runs (`--only`, `--set`) never replace a full report, and a run states the shapes of its two panels.

Issue 18 items 3 and 5: `evidence run params/default.yaml --only 01_did` replaced the nine-notebook report with a
one-notebook one; the console and index must state the shapes of `panel.csv` (built) and `analysis_panel.csv` (what
the estimators used), the latter agreeing with the estimates' `n_obs` and `n_units`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from foreign_designs import BY_NAME, write_design

ROOT = Path(__file__).resolve().parents[1]


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def full_report(reports: Path, run_name: str) -> Path:
    """A report folder as a previous full run of every notebook left it (its files are never read by a new run)."""
    from evidence.params import NOTEBOOK_ORDER

    folder = reports / run_name
    folder.mkdir(parents=True)
    for nb in NOTEBOOK_ORDER:
        (folder / f"{nb}.html").write_text(f"<html><body>full run: {nb}</body></html>\n", encoding="utf-8")
    (folder / "estimates.csv").write_text("notebook,outcome,estimate\n" + "".join(f"{nb},y,1.0\n" for nb in NOTEBOOK_ORDER), encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps({"run_name": run_name, "notebooks": list(NOTEBOOK_ORDER)}), encoding="utf-8")
    return folder


# --------------------------------------------------------------------------------------------------------------
# the naming rule (no notebook runs)
# --------------------------------------------------------------------------------------------------------------
def test_derived_run_name_rule():
    from evidence.params import NOTEBOOK_ORDER, load_params
    from evidence.runner import derived_run_name

    full = list(NOTEBOOK_ORDER)
    assert derived_run_name("default", None, full, {}) == "default"
    assert derived_run_name("default", full, full, {}) == "default"  # --only every notebook: the full run
    assert derived_run_name("default", ["01_did"], full, {}) == "default--only-01_did"
    assert derived_run_name("default", ["02_staggered", "00_data"], full, {}) == "default--only-00_data-02_staggered"  # workbook order
    many = derived_run_name("default", full[:5], full, {})
    assert re.fullmatch(r"default--only-5nb-[0-9a-f]{6}", many)
    a = derived_run_name("default", None, full, {"design.end": "2018-12", "inference.seed": 7})
    b = derived_run_name("default", None, full, {"inference.seed": 7, "design.end": "2018-12"})
    assert a == b and re.fullmatch(r"default--set-[0-9a-f]{8}", a)  # the order of --set does not matter
    assert derived_run_name("default", None, full, {"design.end": "2018-11"}) != derived_run_name("default", None, full, {"design.end": "2018-12"})
    both = derived_run_name("default", ["01_did"], full, {"design.end": "2018-12"})
    assert both.startswith("default--only-01_did--set-")
    long = derived_run_name("x" * 64, ["01_did"], full, {"design.end": "2018-12"})
    for name in (many, a, both, long):  # every derived name is itself a valid run_name (notebooks re-read params.yaml)
        assert load_params(data={"run_name": name}).run_name == name


def test_explicit_run_name_is_respected_and_others_are_derived(tmp_path, monkeypatch):
    """The folder a run publishes to, for each form of the command (the notebooks themselves are not run)."""
    from evidence import runner

    params = write_design(BY_NAME["coarse_clusters"], tmp_path / "design")
    seen: list[str] = []

    def fake_run(params_, notebooks, jobs, tmp, final, *args, **kwargs):
        seen.append(final.name)
        assert (final.parent / f".{final.name}.lock").is_file()  # the lock is held while the run runs
        return final

    monkeypatch.setattr(runner, "_run", fake_run)
    reports = tmp_path / "reports"
    runner.run(str(params), ["run_name=coarse_clusters"], ["00_data"], reports=reports, quiet=True)
    runner.run(str(params), ["design.end=2018-12", "run_name=mine"], None, reports=reports, quiet=True)
    runner.run(str(params), [], None, reports=reports, quiet=True)
    runner.run(str(params), [], ["00_data"], reports=reports, quiet=True)
    runner.run(str(params), ["design.end=2018-12"], None, reports=reports, quiet=True)
    assert seen[:4] == ["coarse_clusters", "mine", "coarse_clusters", "coarse_clusters--only-00_data"]
    assert re.fullmatch(r"coarse_clusters--set-[0-9a-f]{8}", seen[4])
    assert not list(reports.glob(".*.lock"))  # released


# --------------------------------------------------------------------------------------------------------------
# end to end: one light run
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_only_and_set_leave_the_full_report_byte_identical_and_state_the_shapes(tmp_path):
    params = write_design(BY_NAME["coarse_clusters"], tmp_path / "design")  # 20 areas x 48 months, 2016-04 to 2020-03
    reports = tmp_path / "reports"
    full = full_report(reports, "coarse_clusters")
    before = tree_digest(full)
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("EVIDENCE_REPORTS", None)
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "run", str(params), "--reports", str(reports), "--only", "01_did", "--set", "design.end=2018-06", "--jobs", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert tree_digest(full) == before  # the full report is byte-identical
    lines = proc.stdout.splitlines()
    m = re.match(r"run name (coarse_clusters--only-01_did--set-[0-9a-f]{8}): --only runs part of the workbook and --set changes the parameters, so this run does not replace (\S+) ", lines[0])
    assert m and Path(m.group(2)) == full, lines[0]
    out = reports / m.group(1)
    assert sorted(p.name for p in reports.iterdir()) == sorted(["coarse_clusters", out.name])  # no lock, tmp or old folder left
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run_name"] == out.name and list(manifest["notebooks"]) == ["01_did"]
    assert manifest["derived_from"] == {"run_name": "coarse_clusters", "only": ["01_did"], "overrides": ["design.end=2018-06"]}
    assert "run_name: " + out.name in (out / "params.yaml").read_text()

    # shapes: stated at the end of the run and in the index, equal to the files and to the estimates
    built = pd.read_csv(out / "panel.csv")
    used = pd.read_csv(out / "analysis_panel.csv")
    est = pd.read_csv(out / "estimates.csv")
    assert built.shape == (20 * 48, built.shape[1]) and used.shape == (20 * 27, used.shape[1])  # design.end trims 21 months
    n_units, n_periods = used["unit"].nunique(), used["time"].nunique()
    stated_used = f"{n_units} units x {n_periods} periods (2016-04 to 2018-06): {used.shape[0]:,} rows x {used.shape[1]} columns"
    stated_built = f"{built['unit'].nunique()} units x {built['time'].nunique()} periods (2016-04 to 2020-03): {built.shape[0]:,} rows x {built.shape[1]} columns"
    last = [ln for ln in lines if ln.startswith("published ")][-1]
    assert last.endswith(f"panel.csv (built): {stated_built}; analysis_panel.csv (used by the estimators): {stated_used}"), last
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f"(built) {stated_built};" in page and f"(used by the estimators: the window applied, units dropped) {stated_used}." in page
    assert n_units == est["n_units"].max() and est.loc[est["method"] == "twfe", "n_obs"].eq(used.shape[0]).all()
    assert manifest["analysis_panel"] == {"units": n_units, "periods": n_periods, "rows": used.shape[0], "columns": used.shape[1], "window": ["2016-04", "2018-06"]}
