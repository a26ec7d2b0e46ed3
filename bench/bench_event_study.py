"""Benchmark of the TWFE event study, ``evidence.did.event_study``, against pyfixest ``feols`` with ``i()`` dummies.

Not a test. Run from the project root (peers in the benchmark-only environment, bench/README.md)::

    .venv/bin/python bench/bench_event_study.py --peer-python /work/bench-peers/bin/python   # bench/results/event_study.md
    .venv/bin/python bench/bench_event_study.py --sizes 100k                                  # a quick look

Problem: a balanced panel of 50 periods with cohorts first treated in periods 10, 15, ..., 40 and never-treated
units (bench/_did_common.py), at 100,000, 1,000,000 and 5,000,000 rows (2,000 to 100,000 units; 5M for
``evidence`` alone unless ``--peers-at-5m``). Task: the TWFE event study ``y ~ sum_e 1{t - g = e} | unit + period``
with event times -24..24 (end points binned, -1 the reference: 48 dummies; never-treated units have none) and
standard errors clustered by unit. Two timings: the estimator (``event_study`` on a design in memory; pyfixest
``feols("y ~ i(rel, ref=-1) | id + t")`` on a frame that has the binned event time) and from the DataFrame
(``evidence.design.from_frame`` + ``event_study``; computing the event-time column + ``feols``).

Protocol: each package runs in a fresh interpreter per round (data, warm-up of both timings, then one timed run of
each), the packages alternating within each of ``--rounds`` rounds (default 3); times are medians over rounds.
Memory: peak resident memory of the whole process (``ru_maxrss``) and the peak reached during the timed estimator
run above the resident memory before it (``VmHWM`` after resetting the mark; the data and libraries excluded).
Agreement: event-time estimates and standard errors of the warm-up run against ``evidence`` (pyfixest's CRV1 with
``ssc(k_adj=False, G_adj=True)`` times sqrt((n-1)/n), the package's small-sample convention), threshold 1e-8.
``--before-src`` adds the package as it was at an older commit (a source tree from ``git archive``) as a row.
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
from _did_common import ROOT, WINDOW, design_kwargs, fmt_size, json_line, load_text, machine, peak_mb, peer_python_default, rel_time, release_free_memory, reset_peak, rss_mb, run_isolated, simulate, version_of  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "event_study.md"
SIZES = {"100k": 2_000, "1M": 20_000, "5M": 100_000}  # units (x 50 periods)
AGREE = 1e-8


def _evidence(df, before: bool):  # noqa: ANN001, ANN202
    from evidence.did import event_study

    if before:  # an older tree without evidence.design.from_frame: the steps it wraps
        from evidence.design import design_from_cohort_column
        from evidence.panel import Panel, validate_panel

        def build():  # noqa: ANN202
            out, freq, _ = validate_panel(df, name="bench", unit="id", time="t", outcomes=["y"], outcome_kinds={"y": "continuous"}, extra=["g"])
            return design_from_cohort_column(Panel(out, ["y"], {"y": "continuous"}, freq), "g", start=int(df["t"].min()), end=int(df["t"].max()), comparison="never_treated")

    else:
        from evidence.design import from_frame

        def build():  # noqa: ANN202
            return from_frame(df, **design_kwargs())

    design = build()

    def numbers(res) -> dict:  # noqa: ANN001
        tidy = res.tidy()
        tidy = tidy[tidy["estimand"] == "event_time"]
        return {str(int(e)): (float(b), float(s)) for e, b, s in zip(tidy["event_time"], tidy["estimate"], tidy["std_error"], strict=True)}

    return (lambda: numbers(event_study(design, "y", window=WINDOW))), (lambda: numbers(event_study(build(), "y", window=WINDOW)))


def _pyfixest(df):  # noqa: ANN001, ANN202
    import pyfixest as pf

    frame = df.copy()
    frame["rel"] = rel_time(frame)
    n = len(frame)

    def fit(f):  # noqa: ANN001, ANN202
        fx = pf.feols("y ~ i(rel, ref=-1) | id + t", data=f, vcov={"CRV1": "id"}, ssc=pf.ssc(k_adj=False, G_adj=True))
        coef, se = fx.coef(), fx.se()
        scale = np.sqrt((n - 1) / n)
        return {name.split("::")[1]: (float(coef[name]), float(se[name]) * scale) for name in coef.index}

    def from_frame() -> dict:
        f = df.copy()
        f["rel"] = rel_time(f)
        return fit(f)

    return (lambda: fit(frame)), from_frame


def worker(package: str, size: str) -> dict:
    warnings.filterwarnings("ignore")
    df = simulate(SIZES[size])
    est, e2e = _pyfixest(df) if package == "pyfixest" else _evidence(df, before=package == "evidence-before")
    numbers = est()  # warm-up (numba compilation for pyfixest)
    e2e()
    release_free_memory()
    base = rss_mb()
    reset_peak()
    t0 = time.perf_counter()
    est()
    t_est = time.perf_counter() - t0
    extra = peak_mb() - base
    t0 = time.perf_counter()
    e2e()
    t_e2e = time.perf_counter() - t0
    version = version_of("pyfixest") if package == "pyfixest" else ("older tree" if package == "evidence-before" else version_of("evidence"))
    return {"status": "ok", "time": t_est, "time_e2e": t_e2e, "numbers": numbers, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "extra_mb": extra, "version": version}


def agreement(ours: dict, theirs: dict) -> float:
    if set(ours) != set(theirs):
        return float("inf")
    return max(max(abs(ours[k][0] - theirs[k][0]), abs(ours[k][1] - theirs[k][1])) for k in ours)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("PACKAGE", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", nargs="*", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--peer-python", default=peer_python_default(), help="interpreter of the peers' environment (default: $EVIDENCE_BENCH_PYTHON, else this one)")
    ap.add_argument("--peers-at-5m", action="store_true", help="run pyfixest (and --before-src) at 5M rows too (pyfixest about 20 GB, the older tree over 8 GB)")
    ap.add_argument("--before-src", type=Path, help="source tree of an older evidence (git archive <commit> src), timed as 'evidence-before'")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        json_line(worker(*args.worker))
        return

    script = Path(__file__).resolve()
    lines = [
        "# TWFE event study: evidence vs pyfixest",
        "",
        f"Run {_dt.datetime.now():%Y-%m-%d %H:%M} on {machine()}, by `bench/bench_event_study.py`; peers from `{args.peer_python}`"
        + (f"; `evidence-before` from `{args.before_src}`." if args.before_src else "."),
        "",
        "Task: `y ~ 1{t-g=e}, e = -24..24 without -1 (end points binned) | unit + period`, clustered by unit, on a balanced",
        "panel of 50 periods (cohorts 10..40 and never-treated units). `estimator`: the estimation on a design / a frame",
        "with the event-time column in memory; `from DataFrame`: building the design (`evidence.design.from_frame`) or the",
        f"event-time column first. Fresh process per package and round, packages alternating, medians of {args.rounds} rounds;",
        "`x evidence` = the package's median over evidence's (above 1: evidence is faster). Peak RSS: whole process;",
        "estimator's own peak: peak resident memory during the timed estimator run above the memory before it.",
        "",
    ]
    for size in args.sizes:
        print(f"== {size}", flush=True)
        big_ok = size != "5M" or args.peers_at_5m
        packages = ["evidence"] + (["pyfixest"] if big_ok else []) + (["evidence-before"] if args.before_src and big_ok else [])
        runs: dict[str, list[dict]] = {p: [] for p in packages}
        load_before = os.getloadavg()
        for rnd in range(args.rounds):
            order = packages[rnd % len(packages) :] + packages[: rnd % len(packages)]
            for pkg in order:
                if runs[pkg] and runs[pkg][-1]["status"] != "ok":
                    continue
                py = args.peer_python if pkg == "pyfixest" else sys.executable
                src = args.before_src if pkg == "evidence-before" else ROOT / "src"
                r = run_isolated(script, [pkg, size], py, args.timeout, src)
                runs[pkg].append(r)
                print(f"   round {rnd + 1} {pkg}: " + (f"{r['time']:.3f} s / {r['time_e2e']:.3f} s, {r['peak_rss_mb']:.0f} MB" if r["status"] == "ok" else r["status"]), flush=True)
        load_after = os.getloadavg()
        ours = [r for r in runs["evidence"] if r["status"] == "ok"]
        if not ours:
            raise SystemExit(f"evidence failed at {size}: {runs['evidence'][-1]['status']}")
        base, base_e2e = (float(np.median([r[k] for r in ours])) for k in ("time", "time_e2e"))
        lines += [
            f"## {size} rows ({SIZES[size]:,} units x 50 periods)",
            "",
            load_text(load_before, load_after),
            "",
            "| package | version | estimator: median (s) | runs (s) | x evidence | from DataFrame: median (s) | x evidence | peak RSS (MB) | estimator's own peak (MB) | max abs diff vs evidence |",
            "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for pkg in packages:
            ok = [r for r in runs[pkg] if r["status"] == "ok"]
            if not ok:
                lines.append(f"| {pkg} | | {runs[pkg][-1]['status']} | | | | | | | |")
                continue
            med, med_e2e = (float(np.median([r[k] for r in ok])) for k in ("time", "time_e2e"))
            diff = "(reference)" if pkg == "evidence" else f"{agreement(ours[0]['numbers'], ok[0]['numbers']):.1e}" + ("" if agreement(ours[0]["numbers"], ok[0]["numbers"]) <= AGREE else " **disagrees**")
            runs_txt = ", ".join(f"{r['time']:.3f}" for r in ok)
            lines.append(f"| {pkg} | {ok[0]['version']} | {med:.3f} | {runs_txt} | {med / base:.1f} | {med_e2e:.3f} | {med_e2e / base_e2e:.1f} | {max(r['peak_rss_mb'] for r in ok):.0f} | {max(r['extra_mb'] for r in ok):.0f} | {diff} |")
        lines.append("")
    lines += [
        "Notes: the estimates and standard errors are compared on the 48 event-time coefficients (largest absolute",
        "difference of either). pyfixest runs with its defaults (numba demeaning, its own thread settings). The peers",
        "are benchmark-only packages, never project dependencies (bench/README.md).",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
