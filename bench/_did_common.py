"""Shared pieces of the TWFE, event-study and design-step benchmarks (bench_event_study.py, bench_twfe.py,
bench_design.py, bench_scaling_did.py): the simulated panel, process isolation, memory marks and machine facts.

Not a test and not part of the package.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
T = 50  # periods of every simulated panel
WINDOW = (-24, 24)  # event-study window: 48 event-time dummies (-24..24 without the reference -1), end points binned
COHORTS = np.array([0, 10, 15, 20, 25, 30, 35, 40])  # first treated period (0 = never treated)


def simulate(n_units: int, n_periods: int = T, seed: int = 20240501, text: bool = False) -> pd.DataFrame:
    """Long balanced panel ``id, t, y, g``: cohorts 10..40 of 50 periods and never-treated units (one eighth each),
    unit and period effects, an effect 1 + 0.05 e growing with event time e, normal noise.

    ``text=True`` gives the form a CSV read gives: unit codes as text (``U0000001``), periods as text dates
    (monthly, ``YYYY-MM-DD``) and the cohort as a date or ``0``.
    """
    rng = np.random.default_rng(seed)
    g = rng.choice(COHORTS, size=n_units)
    t = np.arange(1, n_periods + 1)
    e = t[None, :] - g[:, None]
    effect = np.where((g[:, None] > 0) & (e >= 0), 1.0 + 0.05 * e, 0.0)
    y = rng.normal(size=n_units)[:, None] + 0.1 * t[None, :] + effect + rng.normal(size=(n_units, n_periods))
    df = pd.DataFrame({"id": np.repeat(np.arange(n_units), n_periods), "t": np.tile(t, n_units), "y": y.ravel(), "g": np.repeat(g, n_periods)})
    if text:
        months = pd.date_range("2015-01-01", periods=n_periods, freq="MS").strftime("%Y-%m-%d").to_numpy()
        ids = np.char.add("U", np.char.zfill(np.arange(n_units).astype(str), 7))
        df["id"] = pd.array(np.repeat(ids, n_periods), dtype="str")
        df["t"] = pd.array(np.tile(months, n_units), dtype="str")
        df["g"] = pd.array(np.repeat(np.where(g > 0, months[np.clip(g - 1, 0, None)], "0"), n_periods), dtype="str")
    return df


def design_kwargs(text: bool = False) -> dict:
    """The arguments of :func:`evidence.design.from_frame` for a simulated panel (whole span, never-treated comparison)."""
    return dict(unit="id", time="t", outcome="y", cohort="g", comparison="never_treated")


def rel_time(df: pd.DataFrame, window: tuple[int, int] = WINDOW) -> np.ndarray:
    """Binned event time per row for a peer's ``i()`` dummies; never-treated rows on the reference level -1."""
    g, t = df["g"].to_numpy(), df["t"].to_numpy()
    return np.where(g > 0, np.clip(t - g, window[0], window[1]), -1)


# ---- memory marks (Linux) ---------------------------------------------------------------------------------------------
def _status(key: str) -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """Resident memory now (MB)."""
    return _status("VmRSS:")


def peak_mb() -> float:
    """Peak resident memory since the last :func:`reset_peak` (MB)."""
    return _status("VmHWM:")


def release_free_memory() -> None:
    """Give memory freed by earlier runs back to the system (``gc`` and glibc ``malloc_trim``), so a run's peak above
    the resident memory before it counts what the run itself needs, not pages an allocator kept."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak() -> None:
    """Reset the process's peak-resident-memory mark (``/proc/self/clear_refs``), so the next peak is the work's own."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


# ---- isolation ------------------------------------------------------------------------------------------------------
def peer_python_default() -> str:
    """``$EVIDENCE_BENCH_PYTHON`` (the benchmark-only environment, bench/README.md), else this interpreter."""
    return os.environ.get("EVIDENCE_BENCH_PYTHON", sys.executable)


def run_isolated(script: Path, worker_args: list[str], python: str, timeout: float, src: Path = ROOT / "src") -> dict:
    """Run ``script --worker ...`` in a fresh interpreter with ``src`` first on the path; its last stdout line is JSON."""
    cmd = [python, str(script), "--worker", *worker_args]
    env = dict(os.environ, PYTHONPATH=str(src) + os.pathsep + str(ROOT / "bench") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": f"over {timeout:.0f} s (stopped)"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        if proc.returncode < 0:
            last = f"killed by signal {-proc.returncode} (out of memory?) {last}"
        return {"status": f"failed: {last[:200]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def version_of(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


# ---- machine facts --------------------------------------------------------------------------------------------------
def machine() -> str:
    """CPU, cores, memory, Python and the numeric libraries (with the BLAS numpy uses)."""
    cpu, mem = "?", "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.0f} GiB"
                break
    blas = "?"
    with contextlib.suppress(Exception):
        cfg = np.show_config(mode="dicts")
        blas = f"{cfg['Build Dependencies']['blas']['name']} {cfg['Build Dependencies']['blas'].get('version', '')}".strip()
    threads = ", ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS") if k in os.environ) or "thread settings: defaults"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem} RAM, Python {platform.python_version()}, numpy {np.__version__} ({blas}), pandas {pd.__version__}; {threads}"


def load_text(before: tuple[float, float, float], after: tuple[float, float, float]) -> str:
    return f"Load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in before)} before, {', '.join(f'{v:.2f}' for v in after)} after."


def fmt_size(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows >= 1_000_000 and rows % 1_000_000 == 0 else f"{rows // 1000}k"


def json_line(obj: dict) -> None:
    print(json.dumps(obj, default=float))
