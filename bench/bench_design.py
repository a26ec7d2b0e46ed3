"""Benchmark of the design step: long DataFrame -> validated panel -> design with cohorts (``evidence.design.from_frame``).

Not a test. Run from the project root::

    .venv/bin/python bench/bench_design.py                                   # bench/results/design.md
    .venv/bin/python bench/bench_design.py --before-src /tmp/old/src         # with the step as an older commit had it

Problem: the balanced panel of bench/_did_common.py (50 periods, cohorts 10..40 and never-treated units) at 10,000,
100,000, 1,000,000 and 5,000,000 rows, in two forms: ``codes`` — integer unit ids, periods and cohorts — and
``text`` — what a CSV read gives: unit codes as text (``U0000001``), monthly periods as text dates (``2015-01-01``)
and the cohort as a date or ``0``. Task: ``from_frame(df, unit='id', time='t', outcome='y', cohort='g',
comparison='never_treated')``: every validation check (duplicates, gaps, balance, numeric outcomes ...), the
standard panel, cohorts and window.

Protocol: each (form, size) runs in a fresh interpreter per round (data, a warm-up, one timed run), ``--rounds``
rounds (default 3); the time is the median over rounds. Memory: the timed run's peak resident memory above the
resident memory before it (the input frame excluded), and the whole process's peak. ``--before-src`` times an older
source tree (``git archive <commit> src``) the same way, through the steps ``from_frame`` wraps.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _did_common import ROOT, T, design_kwargs, fmt_size, json_line, load_text, machine, peak_mb, release_free_memory, reset_peak, rss_mb, run_isolated, simulate  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "design.md"
ROWS = [10_000, 100_000, 1_000_000, 5_000_000]
FORMS = ["codes", "text"]
TARGET = 0.2  # seconds at 1M rows (issue 19)


def build_step(df, before: bool):  # noqa: ANN001, ANN201
    """The design step as a function of nothing: ``from_frame``, or (older trees) the steps it wraps."""
    if not before:
        from evidence.design import from_frame

        return lambda: from_frame(df, **design_kwargs())
    from evidence.design import design_from_cohort_column
    from evidence.panel import Panel, validate_panel

    def step():  # noqa: ANN202
        out, freq, _ = validate_panel(df, name="bench", unit="id", time="t", outcomes=["y"], outcome_kinds={"y": "continuous"}, extra=["g"])
        panel = Panel(out, ["y"], {"y": "continuous"}, freq)
        labels = panel.period_labels
        start, end = (int(panel.periods[0]), int(panel.periods[-1])) if freq == "integer" else (labels[0], labels[-1])
        return design_from_cohort_column(panel, "g", start=start, end=end, comparison="never_treated")

    return step


def worker(form: str, rows: str, before: str) -> dict:
    warnings.filterwarnings("ignore")
    df = simulate(int(rows) // T, text=form == "text")
    step = build_step(df, before == "1")
    d = step()
    facts = {"units": int(d.panel.n_units), "periods": int(d.panel.n_periods), "treated": int(d.n_treated)}
    del d
    release_free_memory()
    base = rss_mb()
    reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"status": "ok", "time": elapsed, "cpu": cpu, "extra_mb": peak_mb() - base, "data_mb": float(df.memory_usage(deep=True).sum() / 2**20), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "facts": facts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=3, metavar=("FORM", "ROWS", "BEFORE"), help=argparse.SUPPRESS)
    ap.add_argument("--rows", nargs="*", type=int, default=ROWS)
    ap.add_argument("--forms", nargs="*", choices=FORMS, default=FORMS)
    ap.add_argument("--before-src", type=Path, help="source tree of an older evidence, timed alongside")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        json_line(worker(*args.worker))
        return

    script = Path(__file__).resolve()
    versions = [("now", ROOT / "src", "0")] + ([("before", args.before_src, "1")] if args.before_src else [])
    load_before = os.getloadavg()
    results: dict[tuple[str, int, str], list[dict]] = {}
    for form in args.forms:
        for rows in args.rows:
            for rnd in range(args.rounds):
                for tag, src, flag in versions if rnd % 2 == 0 else versions[::-1]:
                    key = (form, rows, tag)
                    if results.get(key) and results[key][-1]["status"] != "ok":
                        continue
                    r = run_isolated(script, [form, str(rows), flag], sys.executable, args.timeout, src)
                    results.setdefault(key, []).append(r)
                    print(f"{form} {fmt_size(rows)} {tag} round {rnd + 1}: " + (f"{r['time']:.3f} s, +{r['extra_mb']:.0f} MB" if r["status"] == "ok" else r["status"]), flush=True)
    load_after = os.getloadavg()
    lines = [
        "# Design step: DataFrame -> validated panel -> design",
        "",
        f"Run {_dt.datetime.now():%Y-%m-%d %H:%M} on {machine()}, by `bench/bench_design.py`"
        + (f"; `before` = the source tree `{args.before_src}`." if args.before_src else "."),
        "",
        load_text(load_before, load_after),
        "",
        "Task: `evidence.design.from_frame(df, unit='id', time='t', outcome='y', cohort='g', comparison='never_treated')`",
        "on a balanced panel of 50 periods (cohorts 10..40 and never-treated units). `codes`: integer ids, periods and",
        "cohorts; `text`: unit codes, monthly dates and cohort dates as text (a CSV read). Fresh process per case and",
        f"round, medians of {args.rounds} rounds. Own peak: the timed run's peak resident memory above the memory before",
        f"it (input frame excluded); input: the frame's size in memory. CPU time: the process's CPU time for the same run",
        f"(less sensitive to other processes on a shared machine). Target (issue 19): under {TARGET} s at 1M rows.",
        "",
        "| form | rows | units | version | median time (s) | runs (s) | CPU time (s) | per million rows (s) | own peak (MB) | input (MB) | process peak (MB) |",
        "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for form in args.forms:
        for rows in args.rows:
            for tag, _, _ in versions:
                runs = results.get((form, rows, tag), [])
                ok = [r for r in runs if r["status"] == "ok"]
                if not ok:
                    lines.append(f"| {form} | {rows:,} | | {tag} | {runs[-1]['status'] if runs else 'not run'} | | | | | | |")
                    continue
                med = float(np.median([r["time"] for r in ok]))
                runs_txt = ", ".join(f"{r['time']:.3f}" for r in ok)
                cpu = float(np.median([r["cpu"] for r in ok]))
                lines.append(f"| {form} | {rows:,} | {ok[0]['facts']['units']:,} | {tag} | {med:.3f} | {runs_txt} | {cpu:.3f} | {med / (rows / 1e6):.3f} | {max(r['extra_mb'] for r in ok):.0f} | {ok[0]['data_mb']:.0f} | {max(r['peak_rss_mb'] for r in ok):.0f} |")
    lines.append("")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
