"""End-to-end runs started when the test session starts, on the core the unit tests leave idle.

Context: on the 2-core machine the suite used 147% CPU (11 min wall, 1,006 CPU seconds): the unit tests run one at a
time on one core while the slowest fixtures — every foreign design through ``evidence run`` (about 220 s), the
default run (about 50 s) — run later, each waiting for its own processes.

Decision: the session queues those runs as soon as it starts (:class:`BackgroundRuns`, set up by an autouse fixture in
``conftest.py`` for the runs the selected tests need). They run one at a time while the unit tests use the other core;
a fixture that needs a run asks for it (:meth:`BackgroundRuns.result`), which moves it to the front of the queue and
lets two runs go at once while the test waits. Each run is a subprocess with its own output folder, as the fixture
used to start it; nothing about the run changes, only when it starts.

Consequences: measured on the 2-core machine (whole suite, quiet otherwise, 1,305 tests): 11:16 with every run
started by its fixture, 9:44-9:59 with one background run at a time, 10:19 with two (the foreground's own
two-process end-to-end tests then compete with them; CPU use stayed at 162-164% of the 200% either way). The unit
tests run on a busier machine (the runner scales its kernel time-outs with the load). The environment variable ``EVIDENCE_TEST_BACKGROUND=0`` starts
each run only when its fixture asks (the old behaviour).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SLOTS = int(os.environ.get("EVIDENCE_TEST_BACKGROUND_SLOTS", "1"))
"""Runs at a time while tests run (environment variable ``EVIDENCE_TEST_BACKGROUND_SLOTS``)."""


@dataclass
class Run:
    key: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    weight: int = 1
    """Processes the run keeps busy (``evidence run --jobs``)."""
    timeout: float = 900.0
    result: tuple[int, str, str, float] | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)


class BackgroundRuns:
    """A queue of subprocess runs, ``slots`` at a time (1 while tests run, 2 while a test waits for a run)."""

    def __init__(self, eager: bool | None = None) -> None:
        self.eager = os.environ.get("EVIDENCE_TEST_BACKGROUND", "1") != "0" if eager is None else eager
        self._cond = threading.Condition()
        self._queue: list[Run] = []
        self._runs: dict[str, Run] = {}
        self._busy = 0
        self._waiting = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    # ---- queue ------------------------------------------------------------------------------------------------------
    def submit(self, run: Run) -> None:
        with self._cond:
            self._runs[run.key] = run
            self._queue.append(run)
            self._cond.notify_all()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._schedule, name="background-runs", daemon=True)
        self._thread.start()

    @property
    def _slots(self) -> int:
        return 2 if self._waiting else (SLOTS if self.eager else 0)

    def _schedule(self) -> None:
        with self._cond:
            while not self._closed:
                while self._queue and self._slots and self._busy + min(self._queue[0].weight, self._slots) <= self._slots:
                    run = self._queue.pop(0)
                    self._busy += min(run.weight, 2)
                    threading.Thread(target=self._execute, args=(run,), name=run.key, daemon=True).start()
                self._cond.wait(timeout=1.0)

    def _execute(self, run: Run) -> None:
        t0 = time.perf_counter()
        try:
            with self._cond:
                if self._closed:
                    raise RuntimeError("session ended")
                run.proc = subprocess.Popen(run.argv, cwd=run.cwd, env=run.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                out, err = run.proc.communicate(timeout=run.timeout)
                code = run.proc.returncode
            except subprocess.TimeoutExpired:
                run.proc.kill()
                out, err = run.proc.communicate()
                code, err = -9, f"timed out after {run.timeout:.0f} s\n{err}"
        except Exception as exc:  # noqa: BLE001 - reported to the test that asks for the run
            code, out, err = -1, "", f"{type(exc).__name__}: {exc}"
        with self._cond:
            run.result = (code, out, err, time.perf_counter() - t0)
            self._busy -= min(run.weight, 2)
            self._cond.notify_all()

    # ---- results ----------------------------------------------------------------------------------------------------
    def result(self, key: str) -> tuple[int, str, str, float]:
        """(return code, stdout, stderr, seconds) of a run, waiting for it (it goes first if not started yet)."""
        with self._cond:
            run = self._runs[key]
            if run in self._queue:
                self._queue.remove(run)
                self._queue.insert(0, run)
            self._waiting += 1
            self._cond.notify_all()
            try:
                while run.result is None:
                    self._cond.wait(timeout=1.0)
            finally:
                self._waiting -= 1
            return run.result

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            for run in self._runs.values():
                if run.proc is not None and run.proc.poll() is None:
                    run.proc.kill()
            self._cond.notify_all()
