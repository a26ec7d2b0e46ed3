"""Benchmark of ``evidence.did.twfe``: its numpy engine against its linearmodels engine (PanelOLS) and pyfixest ``feols``.

Not a test. Run from the project root (peers in the benchmark-only environment, bench/README.md)::

    .venv/bin/python bench/bench_twfe.py --peer-python /work/bench-peers/bin/python   # bench/results/twfe.md

Problem: the balanced panel of bench/_did_common.py (50 periods, cohorts 10..40 and never-treated units) at 10,000,
100,000 and 1,000,000 rows (200 to 20,000 units). Task: ``y ~ D | unit + period`` (D = treated in the period),
standard errors clustered by unit, from a design in memory (``twfe(design, 'y', engine=...)``; pyfixest on a frame
with the D column). ``auto`` — the default engine — picks ``numpy`` from 10,000 unit-period cells
(``evidence.did.estimators.TWFE_NUMPY_ABOVE``), so every size here runs the numpy engine by default; the threshold's
reasons are beside it in the code, and the table's smallest sizes show PanelOLS's fixed cost.

Protocol: each (package, size) runs in a fresh interpreter per round (data and design, a warm-up, one timed run), the
packages alternating within each of ``--rounds`` rounds (default 3); times are medians over rounds. Memory: peak
resident memory of the process (``ru_maxrss``) and the timed run's peak above the resident memory before it.
Agreement: estimate and standard error against the numpy engine (PanelOLS: the package's clustered covariance
exactly; pyfixest: CRV1 with ``ssc(k_adj=False, G_adj=True)`` times sqrt((n-1)/n)), threshold 1e-8.
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
from _did_common import ROOT, design_kwargs, json_line, load_text, machine, peak_mb, peer_python_default, release_free_memory, reset_peak, rss_mb, run_isolated, simulate, version_of  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "twfe.md"
SIZES = {"10k": 200, "100k": 2_000, "1M": 20_000}  # units (x 50 periods)
PACKAGES = ["evidence-numpy", "evidence-linearmodels", "pyfixest"]
AGREE = 1e-8


def worker(package: str, size: str) -> dict:
    warnings.filterwarnings("ignore")
    df = simulate(SIZES[size])
    if package == "pyfixest":
        import pyfixest as pf

        frame = df.copy()
        frame["D"] = ((frame["g"] > 0) & (frame["t"] >= frame["g"])).astype(float)
        n = len(frame)

        def fn() -> tuple[float, float]:
            fx = pf.feols("y ~ D | id + t", data=frame, vcov={"CRV1": "id"}, ssc=pf.ssc(k_adj=False, G_adj=True))
            return float(fx.coef()["D"]), float(fx.se()["D"]) * float(np.sqrt((n - 1) / n))

        version = version_of("pyfixest")
    else:
        from evidence.design import from_frame
        from evidence.did import twfe

        design = from_frame(df, **design_kwargs())
        engine = package.split("-", 1)[1]

        def fn() -> tuple[float, float]:
            row = twfe(design, "y", engine=engine).tidy().iloc[0]
            return float(row["estimate"]), float(row["std_error"])

        version = version_of("linearmodels") if engine == "linearmodels" else version_of("evidence")
    numbers = fn()
    release_free_memory()
    base = rss_mb()
    reset_peak()
    t0 = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - t0
    return {"status": "ok", "time": elapsed, "numbers": numbers, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "extra_mb": peak_mb() - base, "version": version}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("PACKAGE", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", nargs="*", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--peer-python", default=peer_python_default(), help="interpreter of the peers' environment (default: $EVIDENCE_BENCH_PYTHON, else this one)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        json_line(worker(*args.worker))
        return

    script = Path(__file__).resolve()
    lines = [
        "# TWFE: evidence's numpy engine vs its linearmodels engine (PanelOLS) and pyfixest",
        "",
        f"Run {_dt.datetime.now():%Y-%m-%d %H:%M} on {machine()}, by `bench/bench_twfe.py`; peers from `{args.peer_python}`.",
        "",
        "Task: `y ~ D | unit + period`, clustered by unit, on a balanced panel of 50 periods (cohorts 10..40 and",
        "never-treated units), from a design / a frame with D in memory. Fresh process per package and round, packages",
        f"alternating, medians of {args.rounds} rounds; `x numpy` = the package's median over the numpy engine's. The",
        "default `engine='auto'` runs the numpy engine from 10,000 unit-period cells (all sizes here) and PanelOLS below.",
        "",
    ]
    for size in args.sizes:
        print(f"== {size}", flush=True)
        runs: dict[str, list[dict]] = {p: [] for p in PACKAGES}
        load_before = os.getloadavg()
        for rnd in range(args.rounds):
            order = PACKAGES[rnd % len(PACKAGES) :] + PACKAGES[: rnd % len(PACKAGES)]
            for pkg in order:
                if runs[pkg] and runs[pkg][-1]["status"] != "ok":
                    continue
                r = run_isolated(script, [pkg, size], args.peer_python if pkg == "pyfixest" else sys.executable, args.timeout)
                runs[pkg].append(r)
                print(f"   round {rnd + 1} {pkg}: " + (f"{r['time']:.4f} s, {r['peak_rss_mb']:.0f} MB" if r["status"] == "ok" else r["status"]), flush=True)
        load_after = os.getloadavg()
        ours = [r for r in runs["evidence-numpy"] if r["status"] == "ok"]
        if not ours:
            raise SystemExit(f"the numpy engine failed at {size}: {runs['evidence-numpy'][-1]['status']}")
        base = float(np.median([r["time"] for r in ours]))
        lines += [
            f"## {size} rows ({SIZES[size]:,} units x 50 periods)",
            "",
            load_text(load_before, load_after),
            "",
            "| package | version | median time (s) | runs (s) | x numpy | peak RSS (MB) | run's own peak (MB) | estimate, SE: max abs diff vs numpy |",
            "| --- | --- | ---: | --- | ---: | ---: | ---: | --- |",
        ]
        for pkg in PACKAGES:
            ok = [r for r in runs[pkg] if r["status"] == "ok"]
            if not ok:
                lines.append(f"| {pkg} | | {runs[pkg][-1]['status']} | | | | | |")
                continue
            med = float(np.median([r["time"] for r in ok]))
            d = max(abs(a - b) for a, b in zip(ours[0]["numbers"], ok[0]["numbers"], strict=True))
            diff = "(reference)" if pkg == "evidence-numpy" else f"{d:.1e}" + ("" if d <= AGREE else " **disagrees**")
            runs_txt = ", ".join(f"{r['time']:.4f}" for r in ok)
            lines.append(f"| {pkg} | {ok[0]['version']} | {med:.4f} | {runs_txt} | {med / base:.1f} | {max(r['peak_rss_mb'] for r in ok):.0f} | {max(r['extra_mb'] for r in ok):.0f} | {diff} |")
        lines.append("")
    lines += ["The peers are benchmark-only packages, never project dependencies (bench/README.md).", ""]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
