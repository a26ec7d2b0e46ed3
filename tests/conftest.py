"""Shared fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simdata import design_of, simulate_panel


@pytest.fixture
def simulated():
    return simulate_panel


@pytest.fixture
def make_design():
    return design_of


ROOT = Path(__file__).resolve().parents[1]

# nbval executes the committed notebooks outside `evidence run`; a notebook run that way writes a run folder of its
# own (reports/lab-<notebook>-<time>/). The test suite must not litter reports/: the kernels nbval starts inherit this.
os.environ.setdefault("EVIDENCE_LAB_REPORTS", "off")


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """The default workbook run once per test session into a temporary reports folder (run_name e2e)."""
    reports = tmp_path_factory.mktemp("reports")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "run", "params/default.yaml", "--reports", str(reports), "--set", "run_name=e2e"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=dict(os.environ, MPLBACKEND="Agg"))
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    return reports, reports / "e2e", proc, seconds


# Under CI (CI=true) the browser test and the Spark tests must run: a skip there (Chromium, Playwright, pyspark or
# Java missing) is turned into a failure that says what is missing, so a green CI always includes them.
MUST_RUN_IN_CI = ("tests/test_reports_browser.py", "tests/records/test_records_spark.py")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and item.nodeid.startswith(MUST_RUN_IN_CI):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where it must run: {reason}"
