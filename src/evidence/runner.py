"""``evidence run``: execute the workbook's notebooks with papermill and publish a report atomically.

Steps: validate parameters -> build the panel and design once -> execute notebooks (in parallel processes, each a
fresh interpreter) into a temporary folder -> render HTML with a provenance header -> stack ``estimates.csv`` ->
write ``manifest.json`` -> move the folder into ``reports/<run_name>/`` in one rename.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Atomic publication
    Context: a failed or interrupted run must never destroy the previous report. Decision: everything is written to
    ``reports/.tmp-<run_name>-<pid>/``; only when every notebook has succeeded is the old report renamed aside and
    the new folder renamed into place. Consequences: a report folder is always complete; a failed run's notebooks
    are kept in ``reports/.failed/<run_name>/`` for inspection and the previous report is untouched.
Kernel
    Context: a notebook's stored kernelspec may not exist on another machine, and a user-level ``python3`` kernel can
    point to another interpreter. Decision: the runner writes a private kernelspec for the current interpreter and
    points ``JUPYTER_PATH`` at it. Consequences: notebooks always run in the environment that runs ``evidence``.
Parallel notebooks
    Context: papermill in several threads of one process can collide on ZMQ ports. Decision: one fresh process per
    notebook (``spawn``), at most ``--jobs`` at a time, and ``--jobs`` is capped at the cores this process may use
    (:func:`usable_cores`), saying so. Consequences: independent notebooks overlap their kernel start-up; output is
    deterministic because each notebook writes only its own files; more notebooks than cores would only compete for
    them (and lengthen every kernel's start-up).
Partial runs (``--only``, ``--set``)
    Context: ``evidence run params/default.yaml --only 01_did`` (a README example) replaced the whole nine-notebook
    ``reports/default`` with a one-notebook report, and any ``--set`` without a new ``run_name`` replaced the report
    of the parameters file as written. Decision: such a run writes to a derived run name (:func:`derived_run_name`):
    ``<run_name>--only-<notebooks>`` and/or ``<run_name>--set-<8 hex digits of the overrides>``, printed at the
    start; ``--set run_name=NAME`` given explicitly is respected. Merging a partial run into the full report was
    rejected: the report would then mix notebooks of two runs (two panels, two sets of parameters) under one
    manifest. Consequences: ``reports/<run_name>/`` only ever holds a run of the parameters file as written, with
    every notebook it lists; the same partial run always lands in the same folder (the hash is of the resolved
    override values, in key order), so repeating it replaces only its own earlier result.
One run per run name at a time
    Context: two runs of one name started together raced for ``reports/.failed/<run_name>`` and for the final
    rename. Decision: a run holds ``fcntl.flock`` on ``reports/.<run_name>.lock`` (holder's pid, start time and
    command inside) from before the temporary folder is made until after publication; the kernel drops the lock
    when the process ends, crash included. A second run waits, saying which run holds the lock, or with
    ``--no-wait`` says so and exits 2 (:class:`RunLocked`). The holder removes the file while still holding it, so
    a waiter that wakes on a removed file tries again on the new one. Consequences: runs of different names still
    run side by side; a stale lock file after a crash is harmless (no process holds it).
Kernel time-outs under load
    Context: two runs started together on the 2-core machine failed with ``Kernel didn't respond in 60 seconds``
    (papermill's fixed ``start_timeout``); nbclient also fails a cell whose output arrives more than 4 s after its
    reply (papermill sets ``raise_on_iopub_timeout``). Decision: both time-outs are scaled to the machine when the
    notebook starts (:func:`kernel_timeouts`): papermill's 60 s and nbclient's 4 s stand for a machine with 4 idle
    cores, multiplied by ``4 / cores`` (at least 1) and by ``load average / cores`` (at least 1), capped at 600 s and
    60 s; a kernel that does not start (no reply, or it died before replying) is started once more with both
    doubled before the notebook is declared failed. No cell has run then, so a new start is safe. Consequences: a
    2-core machine waits 120 s for a kernel when idle, 240 s at load 4; a machine that never answers fails after
    both attempts with a message saying the time-outs and the load.
Out of memory
    Context: a kernel killed by the out-of-memory killer surfaced as ``DeadKernelError: Kernel died``. Decision: the
    runner records the kernel's exit status (:func:`_recording_kernel_manager`); a kernel that died is reported as
    out of memory when it was killed with SIGKILL (the OOM killer's signal on Linux) or its exit status is not
    known, naming the notebook, the cell it was running and the parameters that reduce its memory
    (:data:`MEMORY_PARAMETERS`, names from :data:`evidence.params.SCHEMA`); a Python ``MemoryError`` in a cell is
    reported the same way. A kernel that died of another signal is reported as a crash. Consequences: the user is
    told what to change instead of reading a traceback.
"""

from __future__ import annotations

import re

import concurrent.futures as cf
import hashlib
import json
import math
import multiprocessing as mp
import os
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: runs are then not locked (said when a run starts)
    fcntl = None  # type: ignore[assignment]

from .errors import EvidenceError
from .params import NOTEBOOK_ORDER, Params, load_params
from .paths import NOTEBOOKS, REPORTS, display
from .provenance import collect, now

KERNEL_NAME = "evidence-workbook"
KERNEL_START_ATTEMPTS = 2
"""A kernel that does not start is started once more, with doubled time-outs: under load it may simply be slow, and
jupyter_client picks free ports before the kernel binds them, so another process starting kernels at the same
moment can take one; no cell has run then, so a new start is safe."""
KERNEL_START_SECONDS = 60
"""papermill's ``start_timeout``: what a machine with :data:`REFERENCE_CORES` idle cores gets."""
IOPUB_SECONDS = 4
"""nbclient's ``iopub_timeout`` (papermill fails the cell when it passes): what the reference machine gets."""
REFERENCE_CORES = 4
KERNEL_START_MAX_SECONDS = 600
IOPUB_MAX_SECONDS = 60
SINGLE_THREADED: dict[str, str] = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}
"""Kernels run one thread each: notebooks already run in parallel processes, and threaded BLAS or LP solvers in
several processes on a small machine oversubscribe the cores (measured: the HonestDiD cell ran 6x slower)."""
RUN_LAST: tuple[str, ...] = ("07_evidence",)
"""Notebooks that read the other notebooks' estimates, so run after them."""
EXPECTED_SECONDS: dict[str, float] = {"05_robustness": 14, "00_primary": 9, "02_staggered": 9, "04_its": 8, "03_synthetic_control": 8, "08_costs_satisfaction": 7, "06_power": 7, "01_did": 6, "00_data": 5}
"""Rough notebook run times, to start the longest first and so finish sooner on two workers."""


class RunFailed(EvidenceError):
    """A notebook failed; the message names the notebook and cell."""


class RunLocked(EvidenceError):
    """Another run of the same run name holds its lock (``--no-wait``)."""


MEMORY_PARAMETERS: dict[str, tuple[tuple[str, ...], str]] = {
    "06_power": (("power.reps", "power.validation_reps"), "it holds that many simulated panels (reps x units x periods) in memory at once"),
}
"""Parameters that reduce a notebook's peak memory, where one is known, and why (keys of
:data:`evidence.params.SCHEMA`; a test checks they exist). Context: the bootstrap, permutation and placebo draws of
the other notebooks are processed in blocks of fixed size (``_CHUNK_CELLS`` in :mod:`evidence.robust`,
``chunk_cells`` in :mod:`evidence.staggered`), so their draw counts do not set the peak. Decision: name a draw count
only where memory grows with it; for every notebook name the window, since memory grows with the panel's rows.
Consequences: the out-of-memory message never advises a change that would not help."""
WINDOW_PARAMETERS: tuple[str, ...] = ("design.start", "design.end")


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the system has one (containers, ``taskset``), else
    ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def capped_jobs(jobs: int) -> tuple[int, str]:
    """``--jobs`` capped at :func:`usable_cores`, and the sentence saying so (empty when not capped).

    Raises
    ------
    EvidenceError
        ``jobs`` below 1.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise EvidenceError(f"--jobs {jobs}: give a whole number of notebooks to run at once, at least 1.")
    cores = usable_cores()
    if jobs > cores:
        return cores, f"--jobs {jobs} capped at {cores}: this machine lets the run use {cores} core{'s' if cores != 1 else ''}, and more notebooks at once would only compete for them"
    return jobs, ""


def kernel_timeouts(attempt: int = 0) -> tuple[int, int]:
    """Kernel start-up (first reply) and IOPub time-outs in seconds for this machine now.

    papermill's 60 s and nbclient's 4 s stand for a machine with :data:`REFERENCE_CORES` idle cores; both are
    multiplied by ``REFERENCE_CORES / cores`` and by ``load average (1 min) / cores`` (each at least 1), doubled on
    the retry (``attempt`` 1), and capped at :data:`KERNEL_START_MAX_SECONDS` and :data:`IOPUB_MAX_SECONDS`.

    Parameters
    ----------
    attempt
        0 for the first start of a notebook's kernel, 1 for the retry.

    Returns
    -------
    tuple of int
        ``(start_timeout, iopub_timeout)``.
    """
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        load = 0.0
    scale = max(1.0, REFERENCE_CORES / cores) * max(1.0, load / cores) * 2**attempt
    return min(KERNEL_START_MAX_SECONDS, math.ceil(KERNEL_START_SECONDS * scale)), min(IOPUB_MAX_SECONDS, math.ceil(IOPUB_SECONDS * scale))


def _load_text() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.1f} on {usable_cores()} cores"
    except (AttributeError, OSError):
        return f"{usable_cores()} cores"


def derived_run_name(run_name: str, only: list[str] | None, all_notebooks: list[str], overrides: dict[str, Any]) -> str:
    """The run name of a partial run (see "Partial runs" above): ``run_name`` plus ``--only-<notebooks>`` when
    ``only`` selects fewer notebooks than the parameters file runs (the names joined by ``-``, or for more than three
    ``<k>nb-<6 hex digits>``), plus ``--set-<8 hex digits>`` of the overridden keys' resolved values when
    ``overrides`` is not empty. At most 64 characters (the limit of ``run_name``): ``run_name`` is shortened to fit.

    Parameters
    ----------
    run_name
        The run name of the parameters file.
    only
        Notebooks of ``--only`` (``None`` or every notebook of the file: not partial).
    all_notebooks
        The notebooks the parameters file runs.
    overrides
        Dotted key -> resolved value of every ``--set`` other than ``run_name``.
    """
    suffix = ""
    if only and set(only) != set(all_notebooks):
        names = [n for n in NOTEBOOK_ORDER if n in only] + sorted(n for n in only if n not in NOTEBOOK_ORDER)
        part = "-".join(names) if len(names) <= 3 else f"{len(names)}nb-{hashlib.sha256(','.join(names).encode()).hexdigest()[:6]}"
        suffix += f"--only-{part}"
    if overrides:
        canon = json.dumps({k: overrides[k] for k in sorted(overrides)}, sort_keys=True, default=str, ensure_ascii=True)
        suffix += f"--set-{hashlib.sha256(canon.encode()).hexdigest()[:8]}"
    if not suffix:
        return run_name
    return run_name[: max(1, 64 - len(suffix))] + suffix


class RunLock:
    """``fcntl.flock`` on ``reports/.<run_name>.lock``: one run per run name at a time (see "One run per run name
    at a time" above). The file holds the holder's pid, start time and command, for the message of a second run."""

    def __init__(self, reports: Path, run_name: str) -> None:
        self.path = Path(reports) / f".{run_name}.lock"
        self.run_name = run_name
        self.fd: int | None = None

    def holder(self, fd: int | None = None) -> str:
        """The holder as a sentence fragment (``pid 123, started ...``), from the lock file."""
        info: dict[str, Any] = {}
        for _ in range(20):  # the holder writes its details just after taking the lock
            try:
                if fd is not None:
                    text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
                else:
                    text = self.path.read_text(encoding="utf-8")
                info = json.loads(text) if text.strip() else {}
            except (OSError, ValueError):
                info = {}
            if info:
                break
            time.sleep(0.05)
        if not info:
            return "another process (its details are not readable)"
        host = f" on {info['host']}" if info.get("host") else ""
        return f"pid {info.get('pid', '?')}{host}, started {info.get('started', '?')} ({info.get('command', 'evidence run')})"

    def acquire(self, wait: bool = True, say: Any = print) -> float:
        """Take the lock; returns the seconds waited.

        Parameters
        ----------
        wait
            Wait for the holder to finish (saying so once through ``say``); ``False`` raises instead.
        say
            Callable printing one line.

        Raises
        ------
        RunLocked
            ``wait`` is false and another run holds the lock.
        """
        t0 = time.perf_counter()
        told = False
        if fcntl is None:
            say(f"note: this system has no file locks (fcntl), so another run of {self.run_name} at the same time is not prevented")
            return 0.0
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    who = self.holder(fd)
                    if not wait:
                        raise RunLocked(f"run {self.run_name} is already running: {who}; run again when it has finished, or without --no-wait to wait for it (lock {display(self.path)}).") from None
                    if not told:
                        say(f"waiting for run {self.run_name} to finish: {who} holds {display(self.path)} (Ctrl-C to stop waiting)")
                        told = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except OSError as exc:  # a file system without locks (some network mounts)
                    os.close(fd)
                    say(f"note: {display(self.path)} cannot be locked ({exc.strerror or exc}), so another run of {self.run_name} at the same time is not prevented")
                    return 0.0
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # the holder removed the file as it finished: take the lock on the new file
                    os.close(fd)
                    continue
            except BaseException:
                os.close(fd)
                raise
            self.fd = fd
            me = {"pid": os.getpid(), "host": os.uname().nodename if hasattr(os, "uname") else "", "started": now(), "command": " ".join(["evidence", *sys.argv[1:]])[:300] if sys.argv and sys.argv[0].endswith(("evidence", "cli.py")) else f"evidence run ({self.run_name})"}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode("utf-8"), 0)
            return time.perf_counter() - t0

    def release(self) -> None:
        """Remove the lock file while still holding it, then drop the lock."""
        if self.fd is None:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


@dataclass
class NotebookOutcome:
    name: str
    ok: bool
    seconds: float
    message: str = ""


def _write_kernelspec(base: Path) -> Path:
    kdir = base / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.log_level=CRITICAL"], "display_name": "Python (evidence workbook)", "language": "python", "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "MATPLOTLIBRC": str(Path(__file__).parent / "templates" / "matplotlibrc"), "PYTHONHASHSEED": "0", **SINGLE_THREADED}}
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return base


def _provenance_cell(title: str, prov: dict[str, Any], notebook: str, seconds: float | None, synthetic: bool) -> str:
    git = prov["git"]
    commit = git["commit"][:12] + (" (uncommitted changes)" if git.get("dirty") else "")
    versions = ", ".join(f"{k} {v}" for k, v in prov["versions"].items())
    from .report import _esc, code

    sums = "\n".join(f"| {_esc(k)} | {code(v[:16] + '…')} |" for k, v in prov["data_checksums"].items())
    banner = "<div style='border:2px solid #DA291C;padding:6px;color:#DA291C'><b>SYNTHETIC DATA</b> — made from simulated data, not NHS data.</div>\n\n" if synthetic else ""
    took = f"{seconds:.1f} s" if seconds is not None else "-"
    # the parameters in a fence longer than any backtick run they contain, so no value can close it
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", prov["params"])), default=0))
    return (
        f"{banner}<details><summary><b>{_esc(title)}</b> · notebook <code>{_esc(notebook)}</code> · run started {_esc(prov['started'])} · git {_esc(commit)} · "
        f"(click for parameters, data checksums and package versions)</summary>\n\n"
        f"**Notebook run time:** {took}  \n**Package versions:** {_esc(versions)}\n\n"
        f"| data file | sha256 |\n|---|---|\n{sums}\n\n**Parameters**\n\n{fence}yaml\n{prov['params']}{fence}\n</details>"
    )


def not_applicable_notebook(name: str, params_path: str, run_dir: str) -> Any:
    """The report of a notebook none of whose analyses applies to the design: its title and introduction, the run
    header and one generated line per analysis saying why it does not apply (no kernel is started: nothing runs)."""
    import nbformat

    from .report import header, not_applicable
    from .workbook import open_run

    ctx = open_run(params_path, run_dir, notebook=name)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    text = lambda m: getattr(m, "data", str(m))  # noqa: E731 - IPython Markdown or plain text
    nb.cells = [nb.cells[0], nbformat.v4.new_markdown_cell(text(header(ctx))), nbformat.v4.new_markdown_cell(text(not_applicable(ctx)))]
    return nb


def execute_notebook(name: str, run_dir: str, params_path: str, kernel_base: str, title: str, prov: dict[str, Any], hide_code: bool, synthetic: bool, not_applicable: tuple[str, ...] = (), run_notebooks: tuple[str, ...] = ()) -> NotebookOutcome:
    """Execute one notebook and render it (runs in a fresh worker process)."""
    os.environ["JUPYTER_PATH"] = kernel_base + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    import nbformat
    import papermill as pm

    src = NOTEBOOKS / f"{name}.ipynb"
    out = Path(run_dir) / f"{name}.ipynb"
    t0 = time.perf_counter()
    if name in not_applicable:
        try:
            nbformat.write(not_applicable_notebook(name, params_path, run_dir), out)
            render_html(out, title, prov, name, time.perf_counter() - t0, synthetic, hide_code, run_notebooks)
        except Exception as exc:
            return NotebookOutcome(name, False, time.perf_counter() - t0, f"notebook {name} (not applicable) could not be written: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        return NotebookOutcome(name, True, time.perf_counter() - t0)
    try:
        execute_with_retry(pm.execute_notebook, str(src), str(out), parameters={"params_file": params_path, "run_dir": run_dir}, kernel_name=KERNEL_NAME, cwd=str(NOTEBOOKS), progress_bar=False, log_output=False, request_save_on_cell_execute=False)
    except pm.PapermillExecutionError as exc:
        where = f"In [{exc.exec_count}]"
        if out.exists():  # name the cell by its first line (papermill adds a banner cell, so indexes shift)
            nb = nbformat.read(out, as_version=4)
            hit = [c for c in nb.cells if c.cell_type == "code" and c.get("execution_count") == exc.exec_count]
            if hit:
                where += _first_line(hit[0])
        if exc.ename in ("MemoryError", "_ArrayMemoryError") or str(exc.evalue).startswith("Unable to allocate"):
            return NotebookOutcome(name, False, time.perf_counter() - t0, out_of_memory_message(name, f"a cell could not allocate memory ({exc.ename}: {' '.join(str(exc.evalue).split())[:120]})", where))
        evalue = " ".join(str(exc.evalue).split())
        return NotebookOutcome(name, False, time.perf_counter() - t0, f"notebook {name} failed in cell {where}: {exc.ename}: {evalue}")
    except KernelNotStarted as exc:
        return NotebookOutcome(name, False, time.perf_counter() - t0, f"notebook {name} could not run: {exc}")
    except Exception as exc:  # kernel death, missing notebook ...
        if _is_dead_kernel(exc):
            return NotebookOutcome(name, False, time.perf_counter() - t0, dead_kernel_message(name, _KERNEL_EXIT.get("status"), _dying_cell(out)))
        return NotebookOutcome(name, False, time.perf_counter() - t0, f"notebook {name} could not run: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    seconds = time.perf_counter() - t0
    try:
        render_html(out, title, prov, name, seconds, synthetic, hide_code, run_notebooks)
    except Exception as exc:
        return NotebookOutcome(name, False, seconds, f"notebook {name} ran but its HTML could not be rendered: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    return NotebookOutcome(name, True, seconds)


class KernelNotStarted(EvidenceError):
    """A notebook's kernel did not start (or did not answer) on both attempts."""


_KERNEL_EXIT: dict[str, int | None] = {}
"""Exit status of the last kernel seen dead in this worker process (negative: killed by that signal)."""
_KM_CLASS: Any = None


def _recording_kernel_manager() -> Any:
    """jupyter_client's ``AsyncKernelManager`` (nbclient's default) that records the kernel process's exit status
    when it is first seen dead, in :data:`_KERNEL_EXIT` (nbclient only says "Kernel died")."""
    global _KM_CLASS
    if _KM_CLASS is None:
        from jupyter_client import AsyncKernelManager
        from jupyter_client.manager import KernelManager

        class RecordingKernelManager(AsyncKernelManager):  # type: ignore[misc]
            async def _async_is_alive(self) -> bool:
                alive = await KernelManager._async_is_alive(self)
                proc = getattr(self.provisioner, "process", None)
                if not alive and proc is not None and proc.returncode is not None:
                    _KERNEL_EXIT.setdefault("status", proc.returncode)
                return alive

            is_alive = _async_is_alive

        _KM_CLASS = RecordingKernelManager
    return _KM_CLASS


_ENGINE: list[str] = []
_LAST_NB: dict[str, Any] = {}
"""The notebook as executed so far when its kernel died (papermill does not save it when
``request_save_on_cell_execute`` is off)."""


def _engine_name() -> str:
    """papermill's nbclient engine, registered under the name ``evidence``, keeping the notebook as executed so far
    when execution stops with an exception other than a cell error (a dead kernel), for the message and
    ``reports/.failed/``."""
    if not _ENGINE:
        from papermill.engines import NBClientEngine, papermill_engines

        class KeepingEngine(NBClientEngine):  # type: ignore[misc]
            @classmethod
            def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
                try:
                    return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
                except BaseException:
                    _LAST_NB["nb"] = nb_man.nb
                    raise

        papermill_engines.register("evidence", KeepingEngine)
        _ENGINE.append("evidence")
    return _ENGINE[0]


def _is_dead_kernel(exc: BaseException) -> bool:
    try:
        from nbclient.exceptions import DeadKernelError
    except ImportError:  # pragma: no cover - nbclient comes with papermill
        return "Kernel died" in str(exc)
    return isinstance(exc, DeadKernelError)


def _did_not_start(exc: BaseException) -> bool:
    """jupyter_client's start-up failures: no reply to kernel_info in time, or death before the first reply."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and not _is_dead_kernel(exc) and ("Kernel didn't respond" in text or "Kernel died before replying" in text)


def execute_with_retry(execute: Any, *args: Any, **kwargs: Any) -> Any:
    """Call papermill's ``execute_notebook`` (or a stand-in with its signature) with the kernel time-outs of
    :func:`kernel_timeouts` and the exit-recording kernel manager, starting the kernel once more (time-outs doubled)
    when it does not start.

    Raises
    ------
    KernelNotStarted
        The kernel did not start on either attempt; the message gives both time-outs and the machine's load.
    """
    waited: list[int] = []
    for attempt in range(KERNEL_START_ATTEMPTS):
        start, iopub = kernel_timeouts(attempt)
        _KERNEL_EXIT.clear()
        _LAST_NB.clear()
        try:
            return execute(*args, start_timeout=start, iopub_timeout=iopub, kernel_manager_class=_recording_kernel_manager(), engine_name=_engine_name(), **kwargs)
        except RuntimeError as exc:
            if not _did_not_start(exc):
                raise
            waited.append(start)
            reason = " ".join(str(exc).split())
    tries = " and, started again, ".join(f"{w} s" for w in waited)
    raise KernelNotStarted(f"its kernel did not start: no reply within {tries} ({reason}; {_load_text()}); the machine is overloaded — run again when it is quieter, or with --jobs 1")


def _first_line(cell: Any) -> str:
    first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    return f" ({first[:60]}{'...' if len(first) > 60 else ''})" if first else ""


def _dying_cell(out: Path) -> str:
    """The cell a kernel died in: the last code cell papermill started (``In [n] (first line)``), or "". The
    notebook as executed so far is written to ``out`` (so ``reports/.failed/`` holds it)."""
    import nbformat

    nb = _LAST_NB.pop("nb", None)
    try:
        if nb is not None:
            nbformat.write(nb, out)
        else:
            nb = nbformat.read(out, as_version=4)
    except Exception:  # noqa: BLE001 - nothing was executed or written
        return ""
    started = [c for c in nb.cells if c.cell_type == "code" and (c.metadata.get("papermill") or {}).get("start_time")]
    if not started:
        return ""
    c = started[-1]
    return ((f"In [{c.get('execution_count')}]" if c.get("execution_count") else "") + _first_line(c)).strip()


def memory_hint(name: str) -> str:
    """What reduces notebook ``name``'s memory: its parameters from :data:`MEMORY_PARAMETERS` (with the reason),
    then the window (memory grows with the panel's rows), then more memory."""
    keys, why = MEMORY_PARAMETERS.get(name, ((), ""))
    first = f"lower {' and '.join(keys)} ({why}), or " if keys else ""
    return f"{first}shorten the analysis window ({' / '.join(WINDOW_PARAMETERS)}: memory grows with the panel's rows), or run on a machine with more memory"


def out_of_memory_message(name: str, evidence: str, where: str = "") -> str:
    """The one-line message for notebook ``name`` run out of memory."""
    cell = f" in cell {where}" if where else ""
    return f"notebook {name} ran out of memory{cell}: {evidence}; to use less memory {memory_hint(name)}"


def dead_kernel_message(name: str, status: int | None, where: str = "") -> str:
    """The one-line message for a notebook whose kernel died, from the kernel's exit status where known.

    SIGKILL (status -9) is the signal of Linux's out-of-memory killer (and of ``kill -9``); an unknown status is
    most often the same; another signal is a crash, and an exit status a kernel that stopped itself.
    """
    if status is not None and status < 0:
        try:
            sig = signal.Signals(-status).name
        except ValueError:
            sig = f"signal {-status}"
    if status == -int(signal.SIGKILL):
        return out_of_memory_message(name, "its kernel was killed with SIGKILL, the signal of the system's out-of-memory killer", where)
    if status is None:
        return out_of_memory_message(name, "its kernel died (exit status not available), most likely killed by the system's out-of-memory killer", where)
    cell = f" in cell {where}" if where else ""
    if status < 0:
        return f"notebook {name}'s kernel crashed{cell}: it was killed by {sig}, not the out-of-memory killer's signal; run it alone with --only {name} to see whether it recurs, and report it if it does"
    return f"notebook {name}'s kernel stopped{cell} with exit status {status} (a cell ended the process, or the kernel failed); run it alone with --only {name} to see whether it recurs"


def render_html(out: Path, title: str, prov: dict[str, Any], name: str, seconds: float | None, synthetic: bool, hide_code: bool, run_notebooks: tuple[str, ...] = ()) -> Path:
    """Insert the provenance header into an executed notebook and render it to HTML beside it (offline template),
    with the navigation bar (index, glossary, previous and next in reading order) at the top and the bottom, and
    without the cells that exist for the test suite (the nbval-checked "Key numbers" print and its note)."""
    import copy

    import nbformat

    from .index import nav_html

    nb = nbformat.read(out, as_version=4)
    cell = nbformat.v4.new_markdown_cell(_provenance_cell(title, prov, name, seconds, synthetic), metadata={"tags": ["provenance"]})
    nb.cells.insert(0, cell)
    nbformat.write(nb, out)
    nb = copy.deepcopy(nb)
    nb.cells = _reader_cells(nb.cells)
    nav = nav_html(name, run_notebooks or (name,))
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(nav, metadata={"tags": ["navigation"]}))
    nb.cells.append(nbformat.v4.new_markdown_cell(nav, metadata={"tags": ["navigation"]}))
    exporter = _exporter()
    exporter.exclude_input = hide_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{title} — {name}"}})
    from .glossary import link_first_uses

    html = link_first_uses(html)  # terms of art linked to glossary.html at their first use
    html_path = out.with_suffix(".html")
    html_path.write_text(html, encoding="utf-8")
    return html_path


def _reader_cells(cells: list) -> list:
    """The cells a reader sees: without the test suite's checked print (``# NBVAL_CHECK_OUTPUT``) and the note that
    introduces it (developer-only text), and without library warnings printed to stderr."""
    keep = []
    for c in cells:
        if c.cell_type == "code" and c.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT"):
            if keep and keep[-1].cell_type == "markdown" and "nbval" in keep[-1].source:
                keep.pop()
            continue
        if c.cell_type == "code":  # library warnings (stderr) stay in the .ipynb, not in the reader's page
            c.outputs = [o for o in c.get("outputs", []) if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        keep.append(c)
    return keep


_EXPORTER: Any = None


def _exporter() -> Any:
    """The HTML exporter with the offline template, built once per worker (template compilation takes seconds)."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter

        templates = Path(__file__).parent / "templates"
        _EXPORTER = HTMLExporter(template_name="lab", extra_template_basedirs=[str(templates)], template_file=str(templates / "evidence_offline.html.j2"))
    return _EXPORTER


def _warm_up() -> None:
    """Import the notebook machinery and compile the HTML template in a worker before its first notebook (this runs
    while the parent builds the panel)."""
    import nbformat
    import papermill  # noqa: F401

    _exporter().from_notebook_node(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("warm-up")]))


def _log(fh: Any, text: str, quiet: bool = False) -> None:
    fh.write(f"{now()} {text}\n")
    fh.flush()
    if not quiet:
        print(text, flush=True)


def run(params_file: str, overrides: list[str] | None = None, only: list[str] | None = None, jobs: int = 2, reports: Path = REPORTS, quiet: bool = False, wait: bool = True) -> Path:
    """Run the workbook and publish ``reports/<run_name>/``.

    Parameters
    ----------
    params_file
        YAML parameters file.
    overrides
        ``key=value`` strings (``--set``).
    only
        Run only these notebooks (names like ``01_did``); the report then holds only them, under a derived run name
        (:func:`derived_run_name`) unless ``run_name`` is among ``overrides``.
    jobs
        Notebooks executed at once (capped at the usable cores, saying so).
    reports
        Folder holding the reports.
    quiet
        No progress lines.
    wait
        When another run of the same run name is running, wait for it (saying so); ``False`` raises
        :class:`RunLocked` instead (``--no-wait``, exit status 2).

    Returns
    -------
    pathlib.Path
        The published report folder.

    Raises
    ------
    EvidenceError
        Bad parameters or data (before anything runs), a failed notebook (named, with its cell), or
        :class:`RunLocked`.
    """
    started = now()
    t_start = time.perf_counter()
    from .params import parse_override

    overrides = list(overrides or [])
    params = load_params(params_file, overrides)
    notebooks = list(params["notebooks"])
    if only:
        unknown = [n for n in only if n not in NOTEBOOK_ORDER]
        if unknown:
            raise EvidenceError(f"--only {unknown[0]}: unknown notebook; choose from {', '.join(NOTEBOOK_ORDER)}.")
        notebooks = [n for n in NOTEBOOK_ORDER if n in only]
    missing = [n for n in notebooks if not (NOTEBOOKS / f"{n}.ipynb").is_file()]
    if missing:
        raise EvidenceError(f"notebook {display(NOTEBOOKS / (missing[0] + '.ipynb'))} is missing; restore it from the repository.")
    jobs, capped = capped_jobs(jobs)
    set_keys = list(dict.fromkeys(parse_override(o)[0] for o in overrides))
    base = params.run_name
    derived_from: dict[str, Any] | None = None
    if "run_name" not in set_keys:
        name = derived_run_name(base, only, list(params["notebooks"]), {k: params[k] for k in set_keys})
        if name != base:
            why = " and ".join(w for w, on in (("--only runs part of the workbook", only and set(notebooks) != set(params["notebooks"])), ("--set changes the parameters", bool(set_keys))) if on)
            derived_from = {"run_name": base, "only": notebooks if only and set(notebooks) != set(params["notebooks"]) else None, "overrides": overrides}
            params.values["run_name"] = name
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    final = reports / params.run_name
    if derived_from and not quiet:
        print(f"run name {params.run_name}: {why}, so this run does not replace {display(reports / base)} (the report of {params.source} as written); give --set run_name=NAME to choose the folder", flush=True)
    lock = RunLock(reports, params.run_name)
    waited = lock.acquire(wait=wait, say=(lambda line: None) if quiet else (lambda line: print(line, flush=True)))
    try:
        tmp = reports / f".tmp-{params.run_name}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        log = open(tmp / "run.log", "w", encoding="utf-8")
        try:
            _log(log, f"evidence run {display(params_file)} -> {display(final)} ({len(notebooks)} notebook(s): {', '.join(notebooks)})", quiet)
            if derived_from:
                _log(log, f"  run name {params.run_name} derived from {base}: {why}", True)
            if waited > 1:
                _log(log, f"waited {waited:.0f} s for another run of {params.run_name} to finish", quiet)
            if capped:
                _log(log, capped, quiet)
            return _run(params, notebooks, jobs, tmp, final, reports, log, started, t_start, quiet, derived_from)
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            msg = "interrupted" if interrupted else str(exc)
            try:
                _log(log, f"FAILED: {msg}", True)
                if not isinstance(exc, EvidenceError) and not interrupted:
                    log.write(traceback.format_exc())
                log.close()
            except Exception:
                pass
            failed = reports / ".failed" / params.run_name
            if failed.exists():
                shutil.rmtree(failed, ignore_errors=True)
            failed.parent.mkdir(parents=True, exist_ok=True)
            if tmp.exists():
                shutil.rmtree(tmp / "_work", ignore_errors=True)
                os.replace(tmp, failed)
            raise
        finally:
            if not log.closed:
                log.close()
    finally:
        lock.release()


def _run(params: Params, notebooks: list[str], jobs: int, tmp: Path, final: Path, reports: Path, log: Any, started: str, t_start: float, quiet: bool, derived_from: dict[str, Any] | None = None) -> Path:
    from .pipeline import preflight, prepare
    from .results import stack
    from .workbook import save_prepared, work_dir

    import pandas as pd

    t0 = time.perf_counter()
    # start the worker processes now, so their interpreter start and imports overlap with building the panel
    ctx = mp.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=max(1, min(jobs, len(notebooks))), mp_context=ctx)
    warm = [pool.submit(_warm_up) for _ in range(max(1, min(jobs, len(notebooks))))]
    try:
        panel, design = prepare(params)
        preflight(params, panel, design)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    params_path = tmp / "params.yaml"
    params_path.write_text(f"# resolved parameters of run {params.run_name} (from {params.source}{', overrides: ' + '; '.join(params.overrides) if params.overrides else ''})\n" + params.to_yaml(), encoding="utf-8")
    # panel.csv: the whole built panel; analysis_panel.csv: what the estimators use (window applied, units dropped)
    shapes: dict[str, dict[str, Any]] = {}
    for name, pn, window in (("panel.csv", panel, (panel.period_labels[0], panel.period_labels[-1])), ("analysis_panel.csv", design.panel, tuple(design.window))):
        frame = pn.to_frame()
        if params["report.synthetic"]:
            frame.insert(0, "synthetic", True)
        frame.to_csv(tmp / name, index=False, lineterminator="\n")
        shapes[name] = {"units": int(pn.n_units), "periods": int(pn.n_periods), "rows": int(len(frame)), "columns": int(frame.shape[1]), "window": [str(window[0]), str(window[1])]}
    cells = panel.missing_cells()
    if len(cells):  # data.missing: allow — every missing unit-period cell, by column
        cells.to_csv(tmp / "missing_cells.csv", index=False, lineterminator="\n")
    completeness = panel.extras.get("completeness")
    if completeness is not None:
        completeness.to_csv(tmp / "completeness.csv", index=False, lineterminator="\n")
    design.cohorts.to_csv(tmp / "cohorts.csv", index=False, lineterminator="\n")
    save_prepared(tmp, panel, design, params)
    from .applicability import notebook_applies, plan, plan_table

    verdicts = plan(params, design)
    judged = [v for v in verdicts if v.notebook != "all"]
    if judged and not any(v.applies for v in judged):
        from .errors import DesignError

        reasons = list(dict.fromkeys(f"{v.reason} (parameter: {v.parameter})" for v in judged))
        raise DesignError(f"no analysis of the workbook applies to this design: {'; '.join(reasons[:3])}{f'; and {len(reasons) - 3} more' if len(reasons) > 3 else ''}.")
    plan_table(verdicts).to_csv(tmp / "applicability.csv", index=False, lineterminator="\n")
    skipped = tuple(n for n in notebooks if not notebook_applies(verdicts, n))
    from .index import shape_text

    _log(log, f"panel.csv (built): {shape_text(shapes['panel.csv'])} from {panel.source}; "
              f"analysis_panel.csv (used by the estimators): {shape_text(shapes['analysis_panel.csv'])}; "
              f"design: {design.n_treated} treated, {design.n_comparison} comparison ({time.perf_counter() - t0:.1f} s)", quiet)
    for note in panel.notes + design.notes:
        _log(log, f"  note: {note}", True)
    for v in verdicts:
        if v.status != "runs":
            _log(log, f"  {v.notebook}: {v.sentence()}", True)
    prov = collect(params.to_yaml(), panel.files, started)
    kernel_base = str(_write_kernelspec(work_dir(tmp)))
    outcomes: dict[str, NotebookOutcome] = {}
    args = dict(run_dir=str(tmp), params_path=str(params_path), kernel_base=kernel_base, title=str(params["title"]), prov=prov, hide_code=bool(params["report.hide_code"]), synthetic=bool(params["report.synthetic"]), not_applicable=skipped, run_notebooks=tuple(notebooks))
    cf.wait(warm)
    failures: list[NotebookOutcome] = []
    # notebooks that summarise the others run after them; the rest run in parallel, longest first. A failed notebook
    # does not stop the others of its stage: the run reports every failure at once (the summary stage is skipped).
    stages = [[n for n in notebooks if n not in RUN_LAST], [n for n in notebooks if n in RUN_LAST]]
    stages[0].sort(key=lambda n: -EXPECTED_SECONDS.get(n, 10))
    try:
        for stage in stages:
            if not stage or failures:
                continue
            futures = {pool.submit(execute_notebook, n, **args): n for n in stage}
            for fut in cf.as_completed(futures):
                res = fut.result()
                outcomes[res.name] = res
                _log(log, f"  [{len(outcomes)}/{len(notebooks)}] {res.name}: {'ok' if res.ok else 'FAILED'} ({res.seconds:.1f} s)", quiet)
                if not res.ok:
                    failures.append(res)
    except BaseException:  # Ctrl-C: the kernels received it too; stop the workers at once
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if failures:
        kept = f"the previous report in {display(final)} is unchanged" if final.exists() else "nothing was published"
        failures.sort(key=lambda r: NOTEBOOK_ORDER.index(r.name) if r.name in NOTEBOOK_ORDER else 99)
        what = failures[0].message if len(failures) == 1 else f"{len(failures)} notebooks failed: " + " | ".join(f.message for f in failures)
        raise RunFailed(f"{what} — {kept}; the failed notebook{'s are' if len(failures) > 1 else ' is'} in {display(reports / '.failed' / params.run_name)}.")
    frames = []
    warnings: dict[str, list[str]] = {}
    handling: list[dict[str, str]] = []
    for n in notebooks:
        f = work_dir(tmp) / "estimates" / f"{n}.csv"
        if f.is_file():
            frames.append(pd.read_csv(f, dtype={"group": "string", "period": "string"}))
        w = work_dir(tmp) / "warnings" / f"{n}.json"
        if w.is_file():
            warnings[n] = json.loads(w.read_text())
        mh = work_dir(tmp) / "missing" / f"{n}.json"
        if mh.is_file():
            handling.extend(json.loads(mh.read_text()))
    estimates = stack(frames)
    if params["report.synthetic"] and len(estimates):  # a synthetic run's every row says so (as 06_power's own rows do)
        plain = ~estimates["outcome"].astype(str).str.startswith("synthetic:")
        estimates.loc[plain, "outcome"] = "synthetic:" + estimates.loc[plain, "outcome"].astype(str)
    estimates.to_csv(tmp / "estimates.csv", index=False, lineterminator="\n")
    from .panel import sha256

    manifest = {
        "run_name": params.run_name,
        "title": params["title"],
        "params_file": params.source,
        "overrides": params.overrides,
        "notebooks": {n: {"seconds": round(outcomes[n].seconds, 2), "ipynb": f"{n}.ipynb", "html": f"{n}.html"} for n in notebooks},
        "outputs": {},
        "estimates_rows": int(len(estimates)),
        "synthetic": bool(params["report.synthetic"]),
        "panel": {**shapes["panel.csv"], "frequency": panel.frequency, "source": panel.source},
        "analysis_panel": shapes["analysis_panel.csv"],
        **({"derived_from": derived_from} if derived_from else {}),
        "design": {"treated": design.n_treated, "comparison": design.n_comparison, "cohorts": design.cohort_labels, "window": list(design.window), "staggered": design.is_staggered},
        "notes": panel.notes + design.notes,
        "applicability": {"not_applicable_notebooks": list(skipped), "lines": [{"notebook": v.notebook, "analysis": v.analysis, "status": v.status, "line": v.sentence()} for v in verdicts if v.status != "runs"]},
        "warnings": warnings,
        "missing": {"cells": [n for n in panel.notes if "(data.missing: allow)" in n], "handling": handling},
        **{k: v for k, v in prov.items() if k != "params"},
    }
    shutil.rmtree(work_dir(tmp))
    manifest["outputs"] = {p.name: sha256(p) for p in sorted(tmp.iterdir()) if p.is_file() and p.name not in ("run.log",)}
    manifest["finished"] = now()
    manifest["seconds"] = round(time.perf_counter() - t_start, 2)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
    from .index import build_index

    build_index(tmp)
    _log(log, f"published {display(final)} in {manifest['seconds']:.1f} s: {len(estimates)} estimate rows; panel.csv (built): {shape_text(shapes['panel.csv'])}; analysis_panel.csv (used by the estimators): {shape_text(shapes['analysis_panel.csv'])}", quiet)
    log.close()
    # publish: rename the old report aside, the new one into place, then delete the old one
    old = reports / f".old-{params.run_name}-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    return final
