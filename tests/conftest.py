"""Shared fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from background import BackgroundRuns, Run
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


@pytest.fixture(scope="session", autouse=True)
def background_runs(request, tmp_path_factory):
    """The end-to-end runs the selected tests need, queued when the session starts (see tests/background.py): every
    foreign design (tests/foreign_designs.py), then the default run, in the order the tests need them."""
    needed = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    runs = BackgroundRuns()
    env = dict(os.environ, MPLBACKEND="Agg")
    if "matrix" in needed:
        from foreign_designs import DESIGNS, write_design

        base = tmp_path_factory.mktemp("foreign")
        jobs = os.environ.get("EVIDENCE_MATRIX_JOBS", "1")
        for d in DESIGNS:
            params = write_design(d, base / d.name)
            argv = [sys.executable, "-m", "evidence.cli", "run", str(params), "--reports", str(base / "reports"), "--quiet", "--jobs", jobs]
            runs.submit(Run(f"foreign:{d.name}", argv, ROOT, env, weight=int(jobs)))
        runs.matrix_reports = base / "reports"
        if "papermill_f" in needed:  # papermill -f on one design's notebooks, and its summary notebook run alone
            from foreign_designs import PAPERMILL_DESIGN, PAPERMILL_NOTEBOOKS

            params = base / PAPERMILL_DESIGN / "params.yaml"
            work, labs, only = base / "papermill-work", base / "papermill-labs", base / "papermill-only"
            work.mkdir()
            pm_env = dict(env, EVIDENCE_LAB_REPORTS=str(labs))
            for nb in PAPERMILL_NOTEBOOKS:
                argv = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / f"{nb}.ipynb"), str(work / f"{nb}.ipynb"), "-k", "python3", "--no-progress-bar", "-f", str(params)]
                runs.submit(Run(f"papermill:{nb}", argv, work, pm_env, timeout=600))
            argv = [sys.executable, "-m", "evidence.cli", "run", str(params), "--only", "07_evidence", "--reports", str(only), "--quiet", "--jobs", "1"]
            runs.submit(Run("papermill:only", argv, ROOT, env, timeout=600))
            runs.papermill = {"labs": labs, "only": only, "params": params}
    if "default_run" in needed:
        reports = tmp_path_factory.mktemp("reports")
        argv = [sys.executable, "-m", "evidence.cli", "run", "params/default.yaml", "--reports", str(reports), "--set", "run_name=e2e"]
        runs.submit(Run("default", argv, ROOT, env, weight=2, timeout=600))
        runs.default_reports = reports
    runs.start()
    yield runs
    runs.close()


@pytest.fixture(scope="session")
def default_run(background_runs):
    """The default workbook run once per test session into a temporary reports folder (run_name e2e)."""
    code, out, err, seconds = background_runs.result("default")
    assert code == 0, err
    reports = background_runs.default_reports
    return reports, reports / "e2e", subprocess.CompletedProcess([], code, out, err), seconds


# Under CI (CI=true) the browser test, the Spark tests and the C Frank-Wolfe loop's tests must run: a skip there
# (Chromium, Playwright, pyspark, Java or a C compiler missing) is turned into a failure that says what is missing,
# so a green CI always includes them.
MUST_RUN_IN_CI = ("tests/test_reports_browser.py", "tests/records/test_records_spark.py", "tests/synth/test_fw_compiled.py")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and item.nodeid.startswith(MUST_RUN_IN_CI):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where it must run: {reason}"
