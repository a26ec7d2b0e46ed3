"""Scaling of the staggered-adoption and synthetic DiD estimators: time and peak memory against problem size.

Not a test. Run from the project root::

    .venv/bin/python bench/bench_scaling_staggered.py            # writes bench/results/scaling_staggered.md
    .venv/bin/python bench/bench_scaling_staggered.py --quick    # 10k and 100k rows, the two small SDID panels

Estimators and sizes:

* ``att_gt`` (Callaway & Sant'Anna, doubly robust, never-treated comparison, analytic SEs and the four
  aggregations), without covariates and with two baseline covariates (``x1`` continuous, ``x2`` binary, which drive
  selection into cohorts and the trend) — from the long DataFrame;
* ``sun_abraham`` (interaction-weighted event study), ``imputation`` (Borusyak, Jaravel & Spiess) and
  ``etwfe_poisson`` (Poisson extended TWFE, on a count outcome) — from a :class:`~evidence.design.Design` in memory;
  the design step (DataFrame -> validated panel -> cohorts) is timed on its own row;

on simulated panels of 10 periods (five cohorts and never-treated units) with 10,000, 100,000, 1,000,000 and
5,000,000 rows (1,000 to 500,000 units); and ``sdid`` with 200 placebo draws on panels of 40 x 30, 200 x 60,
1,000 x 100 and 3,000 x 48 (units x periods; 10% of units treated, from three quarters of the way through).

Protocol: every (estimator, size) runs in a fresh interpreter: the data (and, for the design-based estimators, the
design) are built, the process's peak-memory mark is reset (``/proc/self/clear_refs``), a warm-up run and a timed
run (``time.perf_counter``; a first run over 20 s is timed itself, without warm-up), and the peak resident memory reached during the estimation (``VmHWM``) is reported
together with the resident memory before it (the data). A case that exceeds ``--timeout`` is reported as such.
The growth column is the time ratio to the next smaller size over the row (or cell) ratio: 1 means linear.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scaling_staggered.md"
T = 10
ROWS = [10_000, 100_000, 1_000_000, 5_000_000]
LINEAR = ["att_gt", "att_gt_cov", "sun_abraham", "imputation", "etwfe_poisson", "design"]
LABELS = {
    "design": "design step (DataFrame -> Design)",
    "att_gt": "att_gt, no covariates",
    "att_gt_cov": "att_gt, covariates x1 + x2",
    "sun_abraham": "sun_abraham",
    "imputation": "imputation",
    "etwfe_poisson": "etwfe_poisson (counts)",
    "sdid": "sdid, 200 placebo draws",
}
SDID_PANELS = [(40, 30), (200, 60), (1000, 100), (3000, 48)]
WARM_SECONDS = 20.0  # a first run shorter than this is a warm-up and a second run is timed


def simulate(n: int, seed: int = 20210101) -> pd.DataFrame:
    """Long panel: cohorts 3..7 and never-treated (0) chosen by x1 and x2 (multinomial logit); outcome with a
    covariate-dependent trend and effect 1 + 0.1 e; a Poisson count with a 10% effect."""
    rng = np.random.default_rng(seed)
    cohorts = np.array([0, 3, 4, 5, 6, 7])
    t = np.arange(1, T + 1)
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.4).astype(np.float64)
    logits = np.column_stack([np.zeros(n)] + [0.15 * j * x1 - 0.2 * x2 * (j % 2) for j in range(1, 6)])
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    g = cohorts[(rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)]
    e = t[None, :] - g[:, None]
    on = (g[:, None] > 0) & (e >= 0)
    y = rng.normal(size=n)[:, None] + (0.2 + 0.1 * x1 + 0.05 * x2)[:, None] * t[None, :] + np.where(on, 1.0 + 0.1 * e, 0.0) + rng.normal(size=(n, T))
    mu = np.exp(1.0 + 0.3 * rng.normal(size=n)[:, None] + 0.05 * t[None, :] + np.where(on, 0.1, 0.0))
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), T),
            "t": np.tile(t, n),
            "y": y.ravel(),
            "count": rng.poisson(mu).ravel().astype(np.float64),
            "g": np.repeat(g, T),
            "x1": np.repeat(x1, T),
            "x2": np.repeat(x2, T),
        }
    )


def build_design(df: pd.DataFrame):  # noqa: ANN201
    from evidence.design import design_from_cohort_column
    from evidence.panel import Panel, validate_panel

    kinds = {"y": "continuous", "count": "count"}
    out, freq, _ = validate_panel(df, name="bench", unit="id", time="t", outcomes=["y", "count"], outcome_kinds=kinds, extra=["g"], frequency="integer")
    panel = Panel(out, ["y", "count"], kinds, freq, source="bench")
    return design_from_cohort_column(panel, "g", start=1, end=T, comparison="never_treated")


def sdid_panel(n_units: int, n_periods: int, seed: int = 2024):  # noqa: ANN201
    from evidence.design import design_from_cohort_column
    from evidence.panel import Panel, validate_panel

    rng = np.random.default_rng(seed)
    n_tr = max(1, n_units // 10)
    g0 = (3 * n_periods) // 4
    a = rng.normal(50, 10, n_units)
    lam = np.cumsum(rng.normal(0.5, 1, n_periods))
    t = np.arange(n_periods)
    treated = np.arange(n_units) < n_tr
    y = a[:, None] + lam[None, :] + np.where(treated[:, None] & (t[None, :] >= g0), 1.0, 0.0) + rng.normal(0, 1, (n_units, n_periods))
    df = pd.DataFrame({"id": np.repeat(np.arange(n_units), n_periods), "t": np.tile(t + 1, n_units), "y": y.ravel(), "g": np.repeat(np.where(treated, g0 + 1, 0), n_periods)})
    out, freq, _ = validate_panel(df, name="bench", unit="id", time="t", outcomes=["y"], outcome_kinds={"y": "continuous"}, extra=["g"], frequency="integer")
    panel = Panel(out, ["y"], {"y": "continuous"}, freq, source="bench")
    return design_from_cohort_column(panel, "g", start=1, end=n_periods, comparison="never_treated")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def worker(estimator: str, size: str) -> dict:
    """Build the data, reset the peak-memory mark, warm up, time one run, report time and memory."""
    warnings.filterwarnings("ignore")
    from evidence.staggered import att_gt, imputation, sun_abraham
    from evidence.staggered.etwfe import etwfe_poisson
    from evidence.synth import sdid

    if estimator == "sdid":
        n, tt = (int(v) for v in size.split("x"))
        design = sdid_panel(n, tt)

        def fn() -> None:
            sdid(design, "y", inference="placebo", draws=200, seed=0)

    else:
        df = simulate(int(size) // T)
        design = build_design(df) if estimator not in ("att_gt", "att_gt_cov", "design") else None

        def fn() -> None:
            if estimator == "design":
                build_design(df)
            elif estimator in ("att_gt", "att_gt_cov"):
                r = att_gt(df, "y", "t", "id", "g", covariates=["x1", "x2"] if estimator == "att_gt_cov" else None, control_group="never_treated", est_method="dr")
                for kind in ("simple", "group", "dynamic", "calendar"):
                    r.aggregate(kind)
            elif estimator == "sun_abraham":
                sun_abraham(design, "y")
            elif estimator == "imputation":
                imputation(design, "y")
            elif estimator == "etwfe_poisson":
                etwfe_poisson(design, "count")

    before = _rss_mb()
    _reset_peak()
    t0 = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - t0
    if elapsed < WARM_SECONDS:  # the first run was a warm-up: time a second one
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
    return {"status": "ok", "time": elapsed, "rss_before_mb": before, "peak_mb": _hwm_mb()}


def run_isolated(estimator: str, size: str, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", estimator, size]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": f"over {timeout:.0f} s (stopped)"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": f"failed: {last[:160]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}"


def _table(name: str, sizes: list[str], cells: list[float], results: dict, unit_label: str) -> list[str]:
    out = [
        f"| {unit_label} | time (s) | growth (time ratio / size ratio) | peak RSS during the estimation (MB) | RSS before: data (MB) | extra (MB) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    prev = None
    for size, n in zip(sizes, cells, strict=True):
        r = results[(name, size)]
        if r["status"] != "ok":
            out.append(f"| {size} | {r['status']} | | | | |")
            prev = None
            continue
        growth = "" if prev is None else f"{(r['time'] / prev[0]) / (n / prev[1]):.2f}"
        out.append(f"| {size} | {r['time']:.3f} | {growth} | {r['peak_mb']:.0f} | {r['rss_before_mb']:.0f} | {max(r['peak_mb'] - r['rss_before_mb'], 0):.0f} |")
        prev = (r["time"], n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("ESTIMATOR", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="10k and 100k rows; SDID 40 x 30 and 200 x 60")
    ap.add_argument("--estimators", nargs="*", choices=[*LINEAR, "sdid"], help="default: all")
    ap.add_argument("--timeout", type=float, default=400.0, help="seconds per case")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    rows = ROWS[:2] if args.quick else ROWS
    panels = SDID_PANELS[:2] if args.quick else SDID_PANELS
    chosen = args.estimators or [*LINEAR, "sdid"]
    load_before = os.getloadavg()
    results: dict[tuple[str, str], dict] = {}
    for name in chosen:
        sizes = [f"{a}x{b}" for a, b in panels] if name == "sdid" else [str(r) for r in rows]
        stop = False
        for size in sizes:
            if stop:
                results[(name, size)] = {"status": "not run (the smaller size hit the time limit)"}
                continue
            r = run_isolated(name, size, args.timeout)
            results[(name, size)] = r
            print(f"{name} {size}: " + (f"{r['time']:.3f} s, peak {r['peak_mb']:.0f} MB (data {r['rss_before_mb']:.0f} MB)" if r["status"] == "ok" else r["status"]), flush=True)
            stop = r["status"].startswith("over")
    load_after = os.getloadavg()
    lines = [
        "# Scaling of the staggered and synthetic DiD estimators",
        "",
        f"Run {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine()}, by `bench/bench_scaling_staggered.py`.",
        f"Load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in load_before)} at the start, {', '.join(f'{v:.2f}' for v in load_after)} at the end (shared machine: times vary).",
        "",
        "Each case in a fresh process: data (and design) built, peak-memory mark reset, warm-up, one timed run",
        "(a first run over 20 s is the timed run). A case over the time limit stops the larger sizes of its row.",
        "Peak RSS: the process's high-water mark during the estimation (it includes the data held before it, shown",
        "next to it; extra = the difference). Growth: the time ratio to the previous size divided by the size ratio",
        "(1.00 = linear; below 1 = fixed costs still dominate).",
        "",
    ]
    for name in chosen:
        if name == "sdid":
            sizes = [f"{a}x{b}" for a, b in panels]
            cells = [float(a * b) for a, b in panels]
            lines += [f"## {LABELS[name]} (units x periods)", ""] + _table(name, sizes, cells, results, "panel") + [""]
        else:
            sizes = [str(r) for r in rows]
            lines += [f"## {LABELS[name]}", ""] + _table(name, sizes, [float(r) for r in rows], results, "rows") + [""]
    lines += [
        "Notes: the linear estimators are O(rows) once the fixed costs are paid: `att_gt` works on the units x",
        "periods matrix (without covariates from cohort sufficient statistics; with covariates one propensity score and",
        "one outcome regression per cohort and comparison set, all periods at once), the regression estimators on",
        "within-transformed columns. SDID's cost is that of up to 10,000 Frank-Wolfe steps for every placebo draw",
        "(compiled, one draw after another: `evidence/synth/_fw_compiled.py`): each step touches every control unit",
        "(unit weights) or pre-period (time weights) of its draw, so it grows with the number of controls and",
        "pre-periods; at 3000 x 48 the unit weights spread over many controls, and each exact recomputation of the",
        "gradient (every 50 steps, or as many steps as the weights' support) costs controls x support.",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")


if __name__ == "__main__":
    main()
