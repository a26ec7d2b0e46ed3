"""Benchmark of evidence.synth.sdid (synthetic difference-in-differences) with 200 placebo draws, against diff-diff.

Not a test. Run from the project root::

    .venv/bin/python bench/bench_sdid.py --peer-python /work/bench-peers/bin/python   # writes bench/results/sdid.md

Comparison (side by side, one run): SDID with placebo standard errors (200 draws) on two simulated panels —
40 units x 30 periods with 5 units treated from period 20, and 200 units x 60 periods with 20 treated from period
45 — by ``evidence.synth.sdid`` and diff-diff's ``SyntheticDiD(variance_method="placebo", n_bootstrap=200)``, timed
from the long DataFrame in memory (``evidence``: validated panel, design, estimate; diff-diff: ``fit``). The panels
follow ``tests/simdata.simulate_panel`` (unit and period effects, noise sd 1, a constant effect of 1).

Protocol: every (package, problem, round) runs in a fresh interpreter: data built, one warm-up run whose estimate
and unit and time weights are compared with ``evidence``'s before any timing (both follow synthdid's Frank-Wolfe
weights: agreement threshold 1e-8; the placebo standard errors come from different random permutations, so they
are compared as a relative difference only), then one timed run (``time.perf_counter``, with the process CPU
time). Three rounds, packages alternating; medians reported, with the process's peak resident memory. The peer
runs with ``--peer-python`` (default ``$EVIDENCE_BENCH_PYTHON``, else this interpreter), a benchmark-only
virtualenv. The load average is recorded, since the machine is shared.

Also timed, for context (``evidence`` only, in this process, best of 3 from a Design in memory): one treated unit;
two cohorts (every draw re-estimates both); California Proposition 99 (39 states x 31 years).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _did_common import peak_mb, release_free_memory, reset_peak, rss_mb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sdid.md"
PROP99 = ROOT / "tests" / "fixtures" / "prop99" / "california_prop99.csv"
DRAWS = 200
ROUNDS = 3
AGREE = 1e-8
PACKAGES = ["evidence", "diff-diff"]
PROBLEMS = {  # name: (units, periods, {first treated period index: treated units})
    "40x30": (40, 30, {20: 5}),
    "200x60": (200, 60, {45: 20}),
}
TITLES = {
    "40x30": "40 units x 30 periods, 5 treated from period 20",
    "200x60": "200 units x 60 periods, 20 treated from period 45",
}


def simulate_panel(n_units: int, n_periods: int, cohorts: dict[int, int], effect: float = 1.0, seed: int = 2024) -> pd.DataFrame:
    """``y = a_i + l_t + effect * D + eps`` on monthly periods (the generator of ``tests/simdata.simulate_panel``)."""
    rng = np.random.default_rng(seed)
    g = np.full(n_units, -1)
    k = 0
    for c, n in cohorts.items():
        g[k : k + n] = c
        k += n
    a = rng.normal(50, 10, n_units)
    lam = np.cumsum(rng.normal(0.5, 1, n_periods))
    t = np.arange(n_periods)
    D = (g[:, None] >= 0) & (t[None, :] - g[:, None] >= 0)
    y = a[:, None] + lam[None, :] + np.where(D, effect, 0.0) + rng.normal(0, 1, (n_units, n_periods))
    dates = pd.date_range("2016-04-01", periods=n_periods, freq="MS")
    first = np.where(g >= 0, dates[np.clip(g, 0, None)].strftime("%Y-%m-%d"), "0")
    return pd.DataFrame(
        {
            "area": np.repeat([f"U{i:03d}" for i in range(n_units)], n_periods),
            "month": np.tile(dates.strftime("%Y-%m-%d"), n_units),
            "y": y.ravel(),
            "first": np.repeat(first, n_periods),
            "treated": np.repeat((g >= 0).astype(int), n_periods),
        }
    )


def _design(df: pd.DataFrame, unit: str, time_col: str, outcome: str, first: str, start, end):  # noqa: ANN001, ANN202
    from evidence.design import design_from_cohort_column
    from evidence.panel import Panel, validate_panel

    out, freq, _ = validate_panel(df, name="bench", unit=unit, time=time_col, outcomes=[outcome], outcome_kinds={outcome: "continuous"}, extra=[first])
    panel = Panel(out, [outcome], {outcome: "continuous"}, freq, source="bench")
    periods = panel.period_labels
    return design_from_cohort_column(panel, first, start=periods[0] if start is None else start, end=periods[-1] if end is None else end, comparison="never_treated")


# ---- one runner per package ----------------------------------------------------------------------------------------
def run_evidence(df: pd.DataFrame, problem: str) -> dict:
    from evidence.synth import sdid

    design = _design(df, "area", "month", "y", "first", None, None)
    res = sdid(design, "y", inference="placebo", draws=DRAWS, seed=0)
    att = res.tidy().iloc[0]
    wu = res.weights_unit
    wt = res.weights_time
    return {
        "estimate": float(att["estimate"]),
        "se": float(att["std_error"]),
        "unit_weights": dict(zip(wu["unit"].astype(str), wu["weight"].astype(float), strict=True)),
        "time_weights": dict(zip(wt["period"].astype(str), wt["weight"].astype(float), strict=True)),
    }


def run_diff_diff(df: pd.DataFrame, problem: str) -> dict:
    from diff_diff import SyntheticDiD

    months = sorted(df["month"].unique())
    g0 = next(iter(PROBLEMS[problem][2]))
    r = SyntheticDiD(variance_method="placebo", n_bootstrap=DRAWS, seed=0).fit(df, outcome="y", treatment="treated", unit="area", time="month", post_periods=months[g0:])
    return {
        "estimate": float(r.att),
        "se": float(r.se),
        "unit_weights": {str(k): float(v) for k, v in r.unit_weights.items()},
        "time_weights": {str(k)[:7]: float(v) for k, v in r.time_weights.items()},  # 2016-04-01 -> 2016-04
    }


RUNNERS = {"evidence": run_evidence, "diff-diff": run_diff_diff}
MODULES = {"evidence": "evidence.synth", "diff-diff": "diff_diff"}


def worker(package: str, problem: str) -> dict:
    """One package on one problem in this fresh process: warm-up run (numbers returned), then a timed run."""
    warnings.filterwarnings("ignore")
    try:
        __import__(MODULES[package], fromlist=["_"])
    except ImportError:
        return {"status": "not installed"}
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _v

    try:
        version = _v(package)
    except PackageNotFoundError:
        version = "?"
    n, T, cohorts = PROBLEMS[problem]
    df = simulate_panel(n, T, cohorts)
    fn = RUNNERS[package]
    numbers = fn(df, problem)
    peak_all = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    release_free_memory()
    rss0 = rss_mb()
    reset_peak()
    c0, t0 = time.process_time(), time.perf_counter()
    fn(df, problem)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    own = peak_mb() - rss0
    peak_all = max(peak_all, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"status": "ok", "version": str(version), "time": wall, "cpu": cpu, "numbers": numbers, "peak_rss_mb": peak_all, "own_peak_mb": own, "rss_before_mb": rss0}


def run_isolated(package: str, problem: str, timeout: float, python: str, src: Path = ROOT / "src") -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", package, problem]
    env = dict(os.environ, PYTHONPATH=str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": f"failed: {last[:160]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ours: dict, theirs: dict) -> dict[str, float]:
    """Largest absolute differences of the estimate and the weights; relative difference of the placebo SE."""
    out = {"estimate": abs(ours["estimate"] - theirs["estimate"])}
    for key in ("unit_weights", "time_weights"):
        a, b = ours[key], theirs[key]
        names = set(a) | set(b)
        out[key] = max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in names) if names else float("nan")
    out["placebo SE (relative)"] = abs(theirs["se"] / ours["se"] - 1.0)
    return out


# ---- context: evidence alone on other shapes -------------------------------------------------------------------------
def context_problems() -> list[tuple[str, object, str]]:
    raw = pd.read_csv(PROP99, sep=";")
    raw["first"] = np.where(raw["State"] == "California", 1989, 0)
    return [
        ("40 units x 30 periods, 1 treated from period 20", _design(simulate_panel(40, 30, {20: 1}), "area", "month", "y", "first", None, None), "y"),
        ("40 units x 30 periods, cohorts of 5 from periods 12 and 20", _design(simulate_panel(40, 30, {12: 5, 20: 5}), "area", "month", "y", "first", None, None), "y"),
        ("California Proposition 99 (39 x 31, 1 treated)", _design(raw, "State", "Year", "PacksPerCapita", "first", 1970, 2000), "PacksPerCapita"),
    ]


def _engine() -> str:
    """The Frank-Wolfe engine the evidence workers used (the same interpreter and environment as this one)."""
    from evidence.synth._fw_compiled import engine

    return engine()


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}"


def main() -> None:  # noqa: C901 - one report
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("PACKAGE", "PROBLEM"), help=argparse.SUPPRESS)
    ap.add_argument("--peer-python", default=os.environ.get("EVIDENCE_BENCH_PYTHON", sys.executable), help="interpreter of the peers' environment")
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--problems", nargs="*", choices=list(PROBLEMS), help="comparison problems (default: all)")
    ap.add_argument("--no-context", action="store_true", help="skip the evidence-only context table")
    ap.add_argument("--evidence-src", type=Path, default=ROOT / "src", help="source tree of the evidence to time (before/after comparisons)")
    ap.add_argument("--timeout", type=float, default=1200.0)
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    lines = [
        "# SDID with placebo inference: benchmark",
        "",
        f"Run {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine()}, by `bench/bench_sdid.py`; peer from `{args.peer_python}`"
        + ("." if args.evidence_src == ROOT / "src" else f"; evidence from `{args.evidence_src}`."),
        "",
        f"Task: SDID with placebo standard errors ({DRAWS} draws, seed 0), from the long DataFrame in memory; `evidence`",
        "builds its validated panel and design inside the timing. Each package runs in a fresh process per round",
        f"(data, warm-up run, timed run), alternating, {args.rounds} rounds; median wall and CPU time of the timed runs;",
        "peak RSS of the whole worker process (imports, data, both runs) and the timed run's own peak above the",
        "resident memory before it. Agreement of the warm-up runs: estimate and unit / time weights to",
        f"{AGREE:g} (both follow synthdid's Frank-Wolfe); placebo SEs differ by their random permutations.",
        "",
    ]
    ratios = {}
    for problem in args.problems or list(PROBLEMS):
        print(f"== {TITLES[problem]}", flush=True)
        load_before = os.getloadavg()
        runs: dict[str, list[dict]] = {p: [] for p in PACKAGES}
        for rnd in range(args.rounds):
            order = PACKAGES[rnd % 2 :] + PACKAGES[: rnd % 2]
            for pkg in order:
                if runs[pkg] and runs[pkg][-1]["status"] != "ok":
                    continue
                py = sys.executable if pkg == "evidence" else args.peer_python
                r = run_isolated(pkg, problem, args.timeout, py, args.evidence_src)
                runs[pkg].append(r)
                print(f"   round {rnd + 1} {pkg}: " + (f"{r['time']:.3f} s (CPU {r['cpu']:.3f} s), {r['peak_rss_mb']:.0f} MB" if r["status"] == "ok" else r["status"]), flush=True)
        load_after = os.getloadavg()
        ours = [r for r in runs["evidence"] if r["status"] == "ok"]
        if not ours:
            raise SystemExit(f"evidence failed on {problem}: {runs['evidence'][-1]['status']}")
        base = float(np.median([r["time"] for r in ours]))
        base_cpu = float(np.median([r["cpu"] for r in ours]))
        lines += [
            f"## {TITLES[problem]}",
            "",
            f"Load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in load_before)} before, {', '.join(f'{v:.2f}' for v in load_after)} after.",
            "",
            "| package | version | median time (s) | runs (s) | x evidence | median CPU (s) | CPU x evidence | peak RSS (MB) | timed run's own peak (MB) | estimate | placebo SE | agreement (max abs diff) |",
            "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for pkg in PACKAGES:
            ok = [r for r in runs[pkg] if r["status"] == "ok"]
            if not ok:
                lines.append(f"| {pkg} | | {runs[pkg][-1]['status']} | | | | | | | | | |")
                continue
            med = float(np.median([r["time"] for r in ok]))
            cpu = float(np.median([r["cpu"] for r in ok]))
            num = ok[0]["numbers"]
            if pkg == "evidence":
                agree = "(reference)"
            else:
                d = compare(ours[0]["numbers"], num)
                exact = max(d["estimate"], d["unit_weights"], d["time_weights"])
                agree = ", ".join(f"{k}: {v:.1e}" for k, v in d.items()) + (" — agrees" if exact <= AGREE else " — **differs**")
                ratios[problem] = (med / base, cpu / base_cpu)
            times = ", ".join(f"{r['time']:.3f}" for r in ok)
            lines.append(
                f"| {pkg} | {ok[0]['version']} | {med:.3f} | {times} | {med / base:.1f} | {cpu:.3f} | {cpu / base_cpu:.1f} "
                f"| {max(r['peak_rss_mb'] for r in ok):.0f} | {max(r['own_peak_mb'] for r in ok):.1f} | {num['estimate']:.6f} | {num['se']:.4f} | {agree} |"
            )
        lines.append("")
    if ratios:
        lines += ["Summary (diff-diff time / evidence time, wall and CPU): " + "; ".join(f"{TITLES[p]}: {w:.2f}x wall, {c:.2f}x CPU" for p, (w, c) in ratios.items()) + ".", ""]
    if not args.no_context:
        from evidence.synth import sdid

        lines += [
            "## Context: `evidence` alone on other shapes",
            "",
            "From a Design in memory, in this process; best of 3 runs; CPU = process time of the best run.",
            "",
            "| problem | best (s) | runs (s) | CPU (s) | estimate | placebo SE | Frank-Wolfe steps of the main fit (lambda, omega) |",
            "| --- | ---: | --- | ---: | ---: | ---: | --- |",
        ]
        for name, design, outcome in context_problems():
            walls, cpus, res = [], [], None
            for _ in range(3):
                c0, t0 = time.process_time(), time.perf_counter()
                res = sdid(design, outcome, inference="placebo", draws=DRAWS, seed=0)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            b = int(np.argmin(walls))
            att = res.tidy().iloc[0]
            steps = "; ".join(f"{k}: {v['lambda']}, {v['omega']}" for k, v in res.details["iterations"].items())
            lines.append(f"| {name} | {walls[b]:.3f} | {', '.join(f'{w:.3f}' for w in walls)} | {cpus[b]:.3f} | {att['estimate']:.4f} | {att['std_error']:.4f} | {steps} |")
            print(f"   context {name}: {walls[b]:.3f} s", flush=True)
        lines.append("")
    lines += [
        "Notes: both packages fit the weights as synthdid's `sc.weight.fw` (first pass of at most 100 steps,",
        "sparsification, second pass of at most 10,000 steps, stopping once a step lowers the objective by no more",
        "than (1e-5 sigma)^2) and start each placebo fit from the estimated weights. Many placebo fits run the full",
        "10,000 steps, so the cost is that of ~10,000 sequential Frank-Wolfe steps per draw: diff-diff runs them in",
        f"compiled Rust, `evidence` (engine here: {_engine()}) in its C extension (`src/evidence/synth/_fw_c.c`), else",
        "numba, else its vectorised numpy loop (`EVIDENCE_FW_ENGINE`; `evidence/synth/_fw_compiled.py`).",
        "`evidence` runs its BLAS single-threaded inside `sdid` (`evidence._blas`).",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")


if __name__ == "__main__":
    main()
