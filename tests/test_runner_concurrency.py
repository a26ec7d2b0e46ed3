"""Runs under load and at the same time, and kernels that die (issue 18 item 8; issue 19 item 4).

One run per run name at a time (a lock in the reports folder: the second run waits naming the holder, or with
``--no-wait`` refuses with exit status 2); kernel time-outs scaled to the machine and a kernel start retried once;
``--jobs`` capped at the cores; a kernel killed for memory reported as out of memory, naming the notebook and the
parameters that reduce it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from evidence import runner
from evidence.errors import EvidenceError
from foreign_designs import BY_NAME, write_design

ROOT = Path(__file__).resolve().parents[1]

HOLDER = """
import sys, time
from pathlib import Path
from evidence.runner import RunLock
lock = RunLock(Path(sys.argv[1]), "same")
lock.acquire(wait=False)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
lock.release()
"""


def _holder(reports: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(reports), str(seconds)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "held"
    return proc


# --------------------------------------------------------------------------------------------------------------
# the lock
# --------------------------------------------------------------------------------------------------------------
def test_second_run_refuses_or_waits_naming_the_holder(tmp_path):
    holder = _holder(tmp_path, 2.0)
    try:
        lock = runner.RunLock(tmp_path, "same")
        with pytest.raises(runner.RunLocked) as refused:  # --no-wait
            lock.acquire(wait=False)
        msg = str(refused.value)
        assert re.match(rf"run same is already running: pid {holder.pid} on \S+, started \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d", msg), msg
        assert "\n" not in msg and "--no-wait" in msg
        said: list[str] = []
        waited = lock.acquire(wait=True, say=said.append)  # the default: wait, saying once who holds the lock
        assert len(said) == 1 and said[0].startswith(f"waiting for run same to finish: pid {holder.pid} ") and waited > 0.3
        assert holder.wait(timeout=10) == 0
        other = runner.RunLock(tmp_path, "same")
        with pytest.raises(runner.RunLocked, match=f"pid {os.getpid()} "):  # now this process holds it
            other.acquire(wait=False)
        runner.RunLock(tmp_path, "another").acquire(wait=False)  # another run name is not blocked
        lock.release()
        assert not (tmp_path / ".same.lock").exists()
        other.acquire(wait=False)
        other.release()
    finally:
        holder.kill()
        holder.wait()


def test_a_crashed_holder_leaves_no_lock(tmp_path):
    holder = _holder(tmp_path, 60.0)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert (tmp_path / ".same.lock").is_file()  # the file stays, but no process holds it
    lock = runner.RunLock(tmp_path, "same")
    assert lock.acquire(wait=False) < 1.0
    lock.release()


# --------------------------------------------------------------------------------------------------------------
# cores and time-outs
# --------------------------------------------------------------------------------------------------------------
def test_jobs_capped_at_the_cores(monkeypatch):
    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    assert runner.capped_jobs(1) == (1, "") and runner.capped_jobs(2) == (2, "")
    jobs, said = runner.capped_jobs(8)
    assert jobs == 2 and said.startswith("--jobs 8 capped at 2: this machine lets the run use 2 cores")
    with pytest.raises(EvidenceError, match="--jobs 0: "):
        runner.capped_jobs(0)


@pytest.mark.parametrize(("cores", "load", "attempt", "expected"), [
    (16, 0.5, 0, (60, 4)),  # papermill's and nbclient's defaults on a large idle machine
    (2, 0.5, 0, (120, 8)),  # the 2-core machine, idle
    (2, 4.0, 0, (240, 16)),  # two runs at once
    (2, 4.0, 1, (480, 32)),  # the retry doubles both
    (2, 40.0, 1, (600, 60)),  # capped
])
def test_kernel_timeouts_scale_with_cores_and_load(monkeypatch, cores, load, attempt, expected):
    monkeypatch.setattr(runner, "usable_cores", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert runner.kernel_timeouts(attempt) == expected


def test_kernel_start_is_retried_once_with_longer_timeouts(monkeypatch):
    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    calls: list[tuple[int, int]] = []

    def slow_once(path, *, start_timeout, iopub_timeout, kernel_manager_class, **kw):
        calls.append((start_timeout, iopub_timeout))
        if len(calls) == 1:
            raise RuntimeError(f"Kernel didn't respond in {start_timeout} seconds")
        return path

    assert runner.execute_with_retry(slow_once, "nb.ipynb") == "nb.ipynb"
    assert calls == [(180, 12), (360, 24)]

    def never(path, *, start_timeout, **kw):
        raise RuntimeError(f"Kernel didn't respond in {start_timeout} seconds")

    with pytest.raises(runner.KernelNotStarted) as exc:
        runner.execute_with_retry(never, "nb.ipynb")
    assert str(exc.value) == ("its kernel did not start: no reply within 180 s and, started again, 360 s (Kernel didn't respond in 360 seconds; "
                              "load average 3.0 on 2 cores); the machine is overloaded — run again when it is quieter, or with --jobs 1")
    from nbclient.exceptions import DeadKernelError

    died: list[int] = []

    def dies(path, **kw):
        died.append(1)
        raise DeadKernelError("Kernel died")

    with pytest.raises(DeadKernelError):  # a kernel that died while running cells is not started again
        runner.execute_with_retry(dies, "nb.ipynb")
    assert died == [1]


# --------------------------------------------------------------------------------------------------------------
# out of memory
# --------------------------------------------------------------------------------------------------------------
def test_memory_parameters_are_real_parameters():
    from evidence.params import NOTEBOOK_ORDER, SCHEMA

    assert set(runner.MEMORY_PARAMETERS) <= set(NOTEBOOK_ORDER)
    for keys, _ in runner.MEMORY_PARAMETERS.values():
        assert keys and set(keys) <= set(SCHEMA)
    assert set(runner.WINDOW_PARAMETERS) <= set(SCHEMA)


OOM_06 = ("notebook 06_power ran out of memory in cell In [7] (sims = power.simulate(...)): its kernel was killed with SIGKILL, the signal of the "
          "system's out-of-memory killer; to use less memory lower power.reps and power.validation_reps (it holds that many simulated panels "
          "(reps x units x periods) in memory at once), or shorten the analysis window (design.start / design.end: memory grows with the panel's "
          "rows), or run on a machine with more memory")


def test_dead_kernel_is_reported_as_out_of_memory(monkeypatch, tmp_path):
    """papermill raising DeadKernelError (a stand-in for the real kernel) becomes one line naming the notebook,
    the cell it died in, the kernel's signal and the parameters that reduce its memory."""
    import nbformat
    import papermill as pm
    from nbclient.exceptions import DeadKernelError

    def killed(src, out, **kw):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import evidence", execution_count=6, metadata={"papermill": {"start_time": "t"}}),
                                             nbformat.v4.new_code_cell("# simulate\nsims = power.simulate(...)", execution_count=7, metadata={"papermill": {"start_time": "t"}}),
                                             nbformat.v4.new_code_cell("print(sims)", metadata={"papermill": {"start_time": None}})])
        nbformat.write(nb, out)
        runner._KERNEL_EXIT["status"] = -9  # what the recording kernel manager sees of an OOM-killed kernel
        raise DeadKernelError("Kernel died")

    monkeypatch.setattr(pm, "execute_notebook", killed)
    monkeypatch.setenv("JUPYTER_PATH", "")
    res = runner.execute_notebook("06_power", str(tmp_path), str(tmp_path / "params.yaml"), str(tmp_path), "t", {}, True, False)
    assert not res.ok and res.message == OOM_06
    assert runner.dead_kernel_message("01_did", None).startswith("notebook 01_did ran out of memory: its kernel died (exit status not available), most likely killed by the system's out-of-memory killer; to use less memory shorten the analysis window")
    assert runner.dead_kernel_message("01_did", -11) == "notebook 01_did's kernel crashed: it was killed by SIGSEGV, not the out-of-memory killer's signal; run it alone with --only 01_did to see whether it recurs, and report it if it does"


def test_memory_error_in_a_cell_is_reported_as_out_of_memory(monkeypatch, tmp_path):
    import papermill as pm

    def no_memory(src, out, **kw):
        raise pm.PapermillExecutionError(3, 12, "x = np.zeros((144000, 3000))", "_ArrayMemoryError", "Unable to allocate 3.22 GiB for an array with shape (144000, 3000) and data type float64", [])

    monkeypatch.setattr(pm, "execute_notebook", no_memory)
    monkeypatch.setenv("JUPYTER_PATH", "")
    res = runner.execute_notebook("06_power", str(tmp_path), str(tmp_path / "params.yaml"), str(tmp_path), "t", {}, True, False)
    assert res.message.startswith("notebook 06_power ran out of memory in cell In [12]: a cell could not allocate memory (_ArrayMemoryError: Unable to allocate 3.22 GiB for an array with shape (144000, 3000)")
    assert res.message.endswith("; to use less memory lower power.reps and power.validation_reps (it holds that many simulated panels (reps x units x periods) in memory at once), or shorten the analysis window (design.start / design.end: memory grows with the panel's rows), or run on a machine with more memory")


def test_a_real_kernel_killed_with_sigkill_is_reported_with_its_signal(monkeypatch, tmp_path):
    """A real kernel whose process receives SIGKILL (what the out-of-memory killer sends): the recorded exit status
    gives the signal."""
    import nbformat

    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")],
                                  metadata={"kernelspec": {"name": runner.KERNEL_NAME, "display_name": "Python", "language": "python"}, "language_info": {"name": "python"}})
    nbformat.write(nb, nbs / "06_power.ipynb")
    monkeypatch.setattr(runner, "NOTEBOOKS", nbs)
    monkeypatch.setenv("JUPYTER_PATH", os.environ.get("JUPYTER_PATH", ""))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    base = runner._write_kernelspec(tmp_path / "kernel")
    res = runner.execute_notebook("06_power", str(run_dir), str(tmp_path / "params.yaml"), str(base), "t", {}, True, False)
    assert not res.ok
    # the cell's number is known when the kernel announced it before dying (it usually does)
    assert re.match(r"notebook 06_power ran out of memory in cell (In \[3\] )?\(import os, signal\): its kernel was killed with SIGKILL, the signal of the system's out-of-memory killer; to use less memory lower power\.reps", res.message), res.message
    assert (run_dir / "06_power.ipynb").is_file()  # the notebook as far as it ran, for reports/.failed/


# --------------------------------------------------------------------------------------------------------------
# end to end: runs started together on a machine kept busy
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_runs_started_together_under_load_publish_or_refuse_cleanly(tmp_path):
    """Two runs of one run name (``--no-wait``) and one of another, started together while a busy loop keeps each
    core busy: one run of the shared name publishes and the other refuses in one line naming it (exit 2); the run
    of the other name publishes; nothing is left behind."""
    params = write_design(BY_NAME["coarse_clusters"], tmp_path / "design")
    reports = tmp_path / "reports"
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("EVIDENCE_REPORTS", None)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(runner.usable_cores())]
    try:
        def start(*extra: str) -> subprocess.Popen:
            return subprocess.Popen([sys.executable, "-m", "evidence.cli", "run", str(params), "--reports", str(reports), "--only", "00_data", *extra],
                                    cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        runs = {"same_a": start("--set", "run_name=same", "--no-wait"), "same_b": start("--set", "run_name=same", "--no-wait"), "other": start("--set", "run_name=other")}
        done = {k: (p.pid, *p.communicate(timeout=300), p.returncode) for k, p in runs.items()}
    finally:
        for b in busy:
            b.kill()
            b.wait()
    pid_other, out_other, err_other, rc_other = done["other"]
    assert rc_other == 0, err_other
    same = [done["same_a"], done["same_b"]]
    assert sorted(rc for *_, rc in same) == [0, 2], same
    (winner, *_), (_, _, err_loser, _) = sorted(same, key=lambda d: d[3])
    lines = err_loser.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: run same is already running: pid {winner} "), err_loser
    assert "Traceback" not in err_loser + err_other
    for name in ("same", "other"):
        names = {p.name for p in (reports / name).iterdir()}
        assert {"index.html", "00_data.html", "00_data.ipynb", "manifest.json", "panel.csv", "analysis_panel.csv", "estimates.csv"} <= names
    assert sorted(p.name for p in reports.iterdir()) == ["other", "same"]  # no lock, .tmp-, .old- or .failed left
