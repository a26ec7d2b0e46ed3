"""End to end: `evidence run` publishes a complete report, or nothing, and never damages the previous one."""

from __future__ import annotations

import hashlib
import shutil
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence.results import ESTIMATE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = [sys.executable, "-m", "evidence.cli"]

pytestmark = pytest.mark.e2e


def run_cli(*args: str, timeout: int = 300, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", **(extra_env or {}))
    return subprocess.run([*EVIDENCE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_report_folder_is_complete(default_run):
    reports, out, proc, _ = default_run
    names = {p.name for p in out.iterdir()}
    assert {"index.html", "00_data.ipynb", "00_data.html", "01_did.ipynb", "01_did.html", "estimates.csv", "panel.csv", "cohorts.csv", "params.yaml", "manifest.json", "run.log"} <= names
    assert not [p for p in reports.iterdir() if p.name.startswith(".tmp")]
    from evidence.params import NOTEBOOK_ORDER

    n = len(NOTEBOOK_ORDER)
    assert all(f"[{i}/{n}]" in proc.stdout for i in range(1, n + 1))  # progress per notebook
    assert {f"{nb}.html" for nb in NOTEBOOK_ORDER} <= names


def test_estimates_follow_the_contract(default_run):
    _, out, _, _ = default_run
    est = pd.read_csv(out / "estimates.csv")
    assert list(est.columns) == ESTIMATE_COLUMNS
    assert {"did_2x2", "twfe", "twfe_event_study", "cs", "sun_abraham", "imputation", "bacon", "its"} <= set(est["method"])
    assert {"01_did", "02_staggered", "04_its", "08_costs_satisfaction"} <= set(est["notebook"])
    assert {"att_gt", "simple", "group", "dynamic", "calendar"} <= set(est.loc[est["method"] == "cs", "estimand"])
    service_use = est[est["notebook"].isin(["01_did", "02_staggered"])]
    assert set(service_use["outcome"]) == {"emergency_admissions_per_100k", "attendances_per_100k", "emergency_admissions", "emergency_admissions_log"}
    twfe = est[(est["method"] == "twfe") & (est["notebook"] == "01_did")]
    assert len(twfe) == 4 and (twfe["n_clusters"] == 42).all() and (twfe["n_obs"] == 42 * 47).all()
    assert np.isfinite(est["estimate"].to_numpy()).all()
    # every effect row reports a standard error (Goodman-Bacon components, pre-test statistics, synthetic-control
    # gaps and simulation summaries such as RMSE describe rather than estimate; randomisation inference and Holm rows
    # carry p-values without standard errors)
    effects = est[est["estimand"].isin(["att", "simple", "group", "dynamic", "calendar", "event_time", "level_change", "slope_change", "rate_ratio_post", "abs_diff_post"]) & ~est["method"].isin(["bacon", "randomization", "holm"])]
    assert len(effects) > 100 and np.isfinite(effects["std_error"].to_numpy()).all()
    assert est.loc[est["method"] == "bacon", "std_error"].isna().all()
    _assert_one_row_per_key(est)


def _assert_one_row_per_key(est: pd.DataFrame) -> None:
    """estimates.csv identifies each number by its keys: no two rows share notebook, method, outcome, estimand,
    group, period and event time (two estimators or two samples must differ in one of them)."""
    keys = ["notebook", "method", "outcome", "estimand", "group", "period", "event_time"]
    dup = est[est.duplicated(keys, keep=False)]
    assert dup.empty, dup[keys].drop_duplicates().head(10).to_string()


def test_panel_files_are_the_built_and_the_analysis_panel(default_run):
    _, out, proc, _ = default_run
    panel = pd.read_csv(out / "panel.csv")
    assert len(panel) == 42 * 119 and panel["unit"].nunique() == 42  # built: April 2016 - February 2026
    assert {"emergency_admissions", "attendances_incl_booked", "dta_over_12h", "registered_patients", "pct_within_4h"} <= set(panel.columns)
    raw = pd.read_csv(ROOT / "data/raw/nhs/ae_attendances_2016_2019.csv", dtype={"type": str})
    early = panel[panel["time"] <= "2019-03"]
    assert early["attendances"].sum() == pytest.approx(raw.loc[raw["type"] == "1", "attendances"].sum())
    used = pd.read_csv(out / "analysis_panel.csv")
    assert len(used) == 42 * 47 and used["time"].min() == "2016-04" and used["time"].max() == "2020-02"
    est = pd.read_csv(out / "estimates.csv")
    twfe = est[(est["method"] == "twfe") & (est["notebook"] == "01_did")]
    assert (twfe["n_obs"] == len(used)).all() and (twfe["n_units"] == used["unit"].nunique()).all()
    assert "panel.csv (built): 42 units x 119 periods" in proc.stdout and "analysis_panel.csv (used by the estimators): 42 units x 47 periods" in proc.stdout
    inc = pd.read_csv(out / "completeness.csv")
    assert ((inc["series"] == "RHQ type 1") & (inc["period"] == "2016-04")).any()


def test_manifest_and_html_carry_provenance(default_run):
    _, out, _, _ = default_run
    m = json.loads((out / "manifest.json").read_text())
    assert m["params_file"] == "params/default.yaml" and m["overrides"] == ["run_name=e2e"]
    assert "data/raw/nhs/ae_attendances_2016_2019.csv" in m["data_checksums"]
    assert m["versions"]["pandas"] and len(m["git"]["commit"]) in (7, 40) or m["git"]["commit"] == "unknown"
    assert m["outputs"]["estimates.csv"] == hashlib.sha256((out / "estimates.csv").read_bytes()).hexdigest()
    html = (out / "01_did.html").read_text()
    assert "Package versions" in html and "<th>sha256</th>" in html and "data/raw/nhs/ae_attendances_2016_2019.csv" in html
    assert "run_name" in html and "e2e" in html  # the parameters block
    assert "<script src=" not in html and "cdnjs" not in html  # works offline
    assert "import evidence" not in html  # code hidden by default


def test_index_links_every_notebook_and_works_offline(default_run):
    _, out, _, _ = default_run
    page = (out / "index.html").read_text()
    from evidence.params import NOTEBOOK_ORDER

    for nb in NOTEBOOK_ORDER:
        assert f"href='{nb}.html'" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page and "<link" not in page
    assert "Findings by design family" in page and "Warnings" in page and "Provenance" in page
    from evidence.headline import _common_decimals
    from evidence.tables import number

    est = pd.read_csv(out / "estimates.csv", dtype={"group": "string"})
    # the findings table's difference-in-differences cell of the primary outcome: the protocol's estimator (00_primary)
    r = est[(est["notebook"] == "00_primary") & (est["method"] == "cs") & (est["estimand"] == "simple") & (est["outcome"] == "emergency_admissions_per_100k") & (est["group"] == "all")].iloc[0]
    k = _common_decimals(r["estimate"], r["ci_lower"], r["ci_upper"])
    assert f"{number(r['estimate'], places=k)} ({number(r['ci_lower'], places=k)} to {number(r['ci_upper'], places=k)}) · Callaway–Sant" in page  # numbers come from estimates.csv


def test_failed_notebook_leaves_previous_report_intact(default_run, tmp_path):
    reports, out, _, _ = default_run
    before = tree_digest(out)
    # an analysis that applies but fails inside a notebook: a copy of the project whose 01_did asks for an outcome
    # the panel does not have (a real error, not a not-applicable analysis)
    import nbformat

    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    for name in ("data", "params", "pyproject.toml"):
        (root / name).symlink_to(ROOT / name)
    for nb in ("00_data", "01_did"):
        shutil.copy(ROOT / "notebooks" / f"{nb}.ipynb", root / "notebooks")
    nb = nbformat.read(root / "notebooks" / "01_did.ipynb", as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell('did.twfe(ctx.design, "no_such_outcome")'))
    nbformat.write(nb, root / "notebooks" / "01_did.ipynb")
    months = pd.date_range("2018-01-01", periods=12, freq="MS").strftime("%Y-%m-%d")
    df = pd.DataFrame({"area": np.repeat(["A", "B", "C", "D"], 12), "month": np.tile(months, 4), "visits": np.tile(np.arange(1, 13), 4), "first": np.repeat(["2018-07-01", "0", "0", "0"], 12)})
    data = tmp_path / "visits.csv"
    df.to_csv(data, index=False)
    params = tmp_path / "p.yaml"
    params.write_text(f"run_name: e2e\ndata:\n  path: {data}\n  unit: area\n  time: month\n  outcomes: [visits]\ntreatment:\n  cohort: first\ndesign:\n  start: 2018-01\n  end: 2018-12\n")
    # run_name given explicitly: a partial run is then published under it (and here must not replace it)
    proc = run_cli("run", str(params), "--reports", str(reports), "--only", "00_data", "--only", "01_did", "--set", "run_name=e2e", extra_env={"EVIDENCE_ROOT": str(root)})
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    import re

    assert len(err) == 1 and re.match(r"error: notebook \d\d_\w+ failed in cell In \[\d+\]", err[0])
    assert "no_such_outcome" in err[0] and "unchanged" in err[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert tree_digest(out) == before
    failed_nb = re.match(r"error: notebook (\w+) failed", err[0]).group(1)
    assert (reports / ".failed" / "e2e" / f"{failed_nb}.ipynb").is_file()
    assert not [p for p in reports.iterdir() if p.name.startswith(".tmp")]


def test_interrupted_run_publishes_nothing(default_run):
    reports, out, _, _ = default_run
    before = tree_digest(out)
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.Popen([*EVIDENCE, "run", "params/default.yaml", "--reports", str(reports), "--set", "run_name=e2e"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    # wait until notebooks are executing, then press Ctrl-C (SIGINT to the whole process group)
    deadline = time.time() + 60
    line = ""
    while time.time() < deadline and "panel.csv (built)" not in line:
        line = proc.stdout.readline()
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("error: interrupted")
    assert tree_digest(out) == before
    assert not [p for p in reports.iterdir() if p.name.startswith(".tmp")]
    assert (reports / ".failed" / "e2e" / "run.log").is_file()
