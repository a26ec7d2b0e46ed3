"""Scaling of the TWFE estimators and the design step: time and peak memory against rows.

Not a test. Run from the project root::

    .venv/bin/python bench/bench_scaling_did.py            # writes bench/results/scaling_did.md
    .venv/bin/python bench/bench_scaling_did.py --rows 10000 100000

Work: ``evidence.did.twfe`` (default engine: numpy from 10,000 cells), ``evidence.did.event_study`` with event
times -24..24 (48 dummies) and the design step ``evidence.design.from_frame`` (integer-coded input), on the balanced
panel of bench/_did_common.py (50 periods, cohorts 10..40 and never-treated units) at 10,000, 100,000, 1,000,000 and
5,000,000 rows (200 to 100,000 units).

Protocol: every (work, size) runs in a fresh interpreter per round (data and, for the estimators, the design; a
warm-up; then one timed run), ``--rounds`` rounds (default 3); the median time is reported with the process CPU time
of the same run (less sensitive to other processes on a shared machine). Memory: the timed run's peak resident memory
above the resident memory before it (``VmHWM`` after resetting the mark, freed memory returned first), and the input
frame's size. Growth: the time ratio to the next smaller size divided by the row ratio (1 = linear).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _did_common import ROOT, T, WINDOW, design_kwargs, fmt_size, json_line, load_text, machine, peak_mb, release_free_memory, reset_peak, rss_mb, run_isolated, simulate  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "scaling_did.md"
ROWS = [10_000, 100_000, 1_000_000, 5_000_000]
WORK = {"design": "design step (from_frame)", "twfe": "did.twfe", "event_study": "did.event_study, 48 event times"}


def worker(work: str, rows: str) -> dict:
    warnings.filterwarnings("ignore")
    from evidence.design import from_frame
    from evidence.did import event_study, twfe

    df = simulate(int(rows) // T)
    design = from_frame(df, **design_kwargs()) if work != "design" else None
    if work == "design":

        def fn() -> None:
            from_frame(df, **design_kwargs())

    elif work == "twfe":

        def fn() -> None:
            twfe(design, "y")

    else:

        def fn() -> None:
            event_study(design, "y", window=WINDOW)

    fn()
    release_free_memory()
    base = rss_mb()
    reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"status": "ok", "time": elapsed, "cpu": cpu, "extra_mb": peak_mb() - base, "data_mb": float(df.memory_usage(deep=True).sum() / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("WORK", "ROWS"), help=argparse.SUPPRESS)
    ap.add_argument("--rows", nargs="*", type=int, default=ROWS)
    ap.add_argument("--work", nargs="*", choices=list(WORK), default=list(WORK))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        json_line(worker(*args.worker))
        return

    script = Path(__file__).resolve()
    load_before = os.getloadavg()
    results: dict[tuple[str, int], list[dict]] = {}
    for rnd in range(args.rounds):
        for rows in args.rows:
            for work in args.work:
                key = (work, rows)
                if results.get(key) and results[key][-1]["status"] != "ok":
                    continue
                r = run_isolated(script, [work, str(rows)], sys.executable, args.timeout)
                results.setdefault(key, []).append(r)
                print(f"round {rnd + 1} {work} {fmt_size(rows)}: " + (f"{r['time']:.3f} s (cpu {r['cpu']:.3f}), +{r['extra_mb']:.0f} MB" if r["status"] == "ok" else r["status"]), flush=True)
    load_after = os.getloadavg()
    lines = [
        "# Scaling: TWFE, the TWFE event study and the design step",
        "",
        f"Run {_dt.datetime.now():%Y-%m-%d %H:%M} on {machine()}, by `bench/bench_scaling_did.py`.",
        "",
        load_text(load_before, load_after),
        "",
        "Balanced panels of 50 periods (cohorts 10..40 and never-treated units), integer-coded input. Fresh process per",
        f"(work, size) and round, a warm-up then a timed run; medians of {args.rounds} rounds. `own peak`: the timed run's",
        "peak resident memory above the memory before it; `input`: the data frame. `growth`: time ratio to the next",
        "smaller size over the row ratio (1 = linear; below 1 while fixed costs still dominate).",
        "",
        "| work | rows | units | median time (s) | CPU time (s) | growth | own peak (MB) | MB per million rows | input (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for work in args.work:
        prev = None
        for rows in args.rows:
            runs = results.get((work, rows), [])
            ok = [r for r in runs if r["status"] == "ok"]
            if not ok:
                lines.append(f"| {WORK[work]} | {rows:,} | {rows // T:,} | {runs[-1]['status'] if runs else 'not run'} | | | | | |")
                prev = None
                continue
            med = float(np.median([r["time"] for r in ok]))
            cpu = float(np.median([r["cpu"] for r in ok]))
            extra = max(r["extra_mb"] for r in ok)
            growth = f"{(med / prev[1]) / (rows / prev[0]):.2f}" if prev else ""
            lines.append(f"| {WORK[work]} | {rows:,} | {rows // T:,} | {med:.3f} | {cpu:.3f} | {growth} | {extra:.0f} | {extra / (rows / 1e6):.0f} | {ok[0]['data_mb']:.0f} |")
            prev = (rows, med)
    lines.append("")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
