"""Benchmark of evidence.staggered.att_gt (Callaway & Sant'Anna) against other Python implementations.

Not a test. Run from the project root::

    .venv/bin/python bench/bench_cs.py            # writes bench/results/cs.md
    .venv/bin/python bench/bench_cs.py --quick    # mpdta only

Problems: ``mpdta`` (500 counties x 5 years, R did's example data) and a simulated 1,000,000-row panel (100,000 units
x 10 periods, five cohorts plus never-treated, no covariates). Task: ATT(g,t) with the doubly robust estimator and a
never-treated comparison group, analytic (influence-function) standard errors, and the four aggregations (simple,
group, dynamic, calendar; a package lacking one is timed on the ones it has).

Every (package, problem) runs in a fresh interpreter, so its peak resident memory (``ru_maxrss``) is its own; the
time is the best of up to 5 repetitions (``time.perf_counter``) after the data frame is in memory, and for
``evidence`` a separate ``tracemalloc`` pass records the peak memory allocated by the estimation itself. Packages
that are not installed (``diff-diff``, ``csdid``, ``moderndid``; benchmark-only, not project dependencies) are
reported as such. Estimates and standard errors are compared with ``evidence`` (agreement threshold 1e-8).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MPDTA = ROOT / "tests" / "fixtures" / "did_mpdta" / "mpdta.csv"
RESULTS = ROOT / "bench" / "results" / "cs.md"
PACKAGES = ["evidence", "diff-diff", "csdid", "moderndid"]
AGG_TYPES = ["simple", "group", "dynamic", "calendar"]
AGREE = 1e-8
REPEATS = 5
SLOW_SECONDS = 20.0  # a package slower than this on one run is timed once


def load(problem: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The benchmark data frame and its column names."""
    if problem == "mpdta":
        cols = {"y": "lemp", "t": "year", "id": "countyreal", "g": "first.treat"}
        return pd.read_csv(MPDTA), cols
    n, T = 100_000, 10
    rng = np.random.default_rng(20210101)
    g = rng.choice(np.array([0, 3, 4, 5, 6, 7]), size=n)
    t = np.arange(1, T + 1)
    e = t[None, :] - g[:, None]
    effect = np.where((g[:, None] > 0) & (e >= 0), 1.0 + 0.1 * e, 0.0)
    y = rng.normal(size=n)[:, None] + 0.2 * t[None, :] + effect + rng.normal(size=(n, T))
    df = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(t, n), "y": y.ravel(), "g": np.repeat(g, T)})
    return df, {"y": "y", "t": "t", "id": "id", "g": "g"}


# ---- one runner per package: returns a dict of comparable numbers ------------------------------------------------
def run_evidence(df: pd.DataFrame, c: dict[str, str]) -> dict:
    from evidence.staggered import att_gt

    res = att_gt(df, c["y"], c["t"], c["id"], c["g"], control_group="never_treated", est_method="dr")
    out = {"gt": (res.group.tolist(), res.period.tolist(), res.att.tolist(), res.se.tolist())}
    for kind in AGG_TYPES:
        a = res.aggregate(kind)
        out[kind] = (a.overall.estimate, a.overall.se, a.egt.tolist(), a.estimates.tolist(), a.se.tolist())
    return out


def run_diff_diff(df: pd.DataFrame, c: dict[str, str]) -> dict:
    from diff_diff import CallawaySantAnna

    r = CallawaySantAnna(control_group="never_treated", estimation_method="dr").fit(
        df, outcome=c["y"], unit=c["id"], time=c["t"], first_treat=c["g"]
    )
    keys = sorted(r.group_time_effects)
    gt = r.group_time_effects
    out = {
        "gt": (
            [float(k[0]) for k in keys],
            [float(k[1]) for k in keys],
            [float(gt[k]["effect"]) for k in keys],
            [float(gt[k]["se"]) for k in keys],
        )
    }
    out["simple"] = (float(r.overall_att), float(r.overall_se), [], [], [])
    es = r.aggregate("event_study")
    out["dynamic"] = (None, None, [float(v) for v in es.event_time], list(map(float, es.att)), list(map(float, es.se)))
    gr = r.aggregate("group").to_dataframe()
    out["group"] = (None, None, gr["label"].astype(float).tolist(), gr["att"].tolist(), gr["se"].tolist())
    return out


def run_csdid(df: pd.DataFrame, c: dict[str, str]) -> dict:
    from csdid.att_gt import ATTgt

    with contextlib.redirect_stdout(io.StringIO()):
        o = ATTgt(yname=c["y"], gname=c["g"], idname=c["id"], tname=c["t"], data=df, control_group=["nevertreated"])
        o.fit(est_method="dr", bstrap=False)
        r = o.results
        out = {
            "gt": (
                list(map(float, r["group"])),
                list(map(float, r["year"])),
                list(map(float, r["att"])),
                list(map(float, r["se"])),
            )
        }
        for kind in AGG_TYPES:
            o.aggte(typec=kind, bstrap=False, cband=False)
            a = o.atte
            egt = [] if a["egt"] is None else list(map(float, np.atleast_1d(a["egt"])))
            att = [] if a["att_egt"] is None else list(map(float, np.atleast_1d(a["att_egt"])))
            se = [] if a["se_egt"] is None else list(map(float, np.atleast_1d(a["se_egt"])))
            out[kind] = (float(a["overall_att"]), float(a["overall_se"]), egt, att, se)
    return out


def run_moderndid(df: pd.DataFrame, c: dict[str, str]) -> dict:
    import moderndid

    m = moderndid.did.att_gt(
        df,
        yname=c["y"],
        tname=c["t"],
        idname=c["id"],
        gname=c["g"],
        est_method="dr",
        control_group="nevertreated",
        boot=False,
    )
    out = {
        "gt": (
            list(map(float, m.groups)),
            list(map(float, m.times)),
            list(map(float, m.att_gt)),
            list(map(float, m.se_gt)),
        )
    }
    for kind in AGG_TYPES:
        a = moderndid.did.aggte(m, type=kind, boot=False, cband=False)
        egt = [] if a.event_times is None else list(map(float, a.event_times))
        att = [] if a.att_by_event is None else list(map(float, a.att_by_event))
        se = [] if a.se_by_event is None else list(map(float, a.se_by_event))
        out[kind] = (float(a.overall_att), float(a.overall_se), egt, att, se)
    return out


RUNNERS = {"evidence": run_evidence, "diff-diff": run_diff_diff, "csdid": run_csdid, "moderndid": run_moderndid}
MODULES = {"evidence": "evidence.staggered", "diff-diff": "diff_diff", "csdid": "csdid", "moderndid": "moderndid"}


def worker(package: str, problem: str) -> dict:
    """Run one package on one problem in this (fresh) process; return timings, memory and numbers."""
    warnings.filterwarnings("ignore")
    try:
        mod = __import__(MODULES[package], fromlist=["_"])
    except ImportError:
        return {"status": "not installed"}
    version = getattr(mod, "__version__", None)
    if version is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as _v

        try:
            version = _v(package if package != "evidence" else "evidence")
        except PackageNotFoundError:
            version = "?"
    df, cols = load(problem)
    fn = RUNNERS[package]
    times = []
    numbers = None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        numbers = fn(df, cols)
        times.append(time.perf_counter() - t0)
        if times[-1] > SLOW_SECONDS:
            break
    out = {"status": "ok", "version": str(version), "times": times, "numbers": numbers}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if package == "evidence":
        tracemalloc.start()
        fn(df, cols)
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out["data_mb"] = df.memory_usage(deep=True).sum() / 2**20
    return out


def run_isolated(package: str, problem: str, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", package, problem]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": f"failed: {last[:160]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- comparison ------------------------------------------------------------------------------------------------------
def _max_diff(a: list, b: list) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return float("inf")
    both = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return float("inf")
    return float(np.max(np.abs(a[both] - b[both]), initial=0.0))


def compare(ours: dict, theirs: dict) -> dict[str, float]:
    """Largest absolute differences of the numbers both produced (cells matched on (g, t) / egt)."""
    diffs: dict[str, float] = {}
    og, ot, oa, os_ = (np.asarray(v, float) for v in ours["gt"])
    tg, tt, ta, ts = (np.asarray(v, float) for v in theirs["gt"])
    key = {(g, t): i for i, (g, t) in enumerate(zip(tg, tt, strict=True))}
    idx = [key.get((g, t)) for g, t in zip(og, ot, strict=True)]
    if any(i is None for i in idx):
        diffs["att_gt"] = float("inf")
    else:
        diffs["att_gt"] = _max_diff(oa, ta[idx])
        diffs["se_gt"] = _max_diff(os_, ts[idx])
    for kind in AGG_TYPES:
        if kind not in theirs:
            continue
        o, t = ours[kind], theirs[kind]
        if t[0] is not None:
            diffs[f"{kind} overall"] = max(_max_diff([o[0]], [t[0]]), _max_diff([o[1]], [t[1]]))
        if t[2]:
            tkey = {v: i for i, v in enumerate(t[2])}
            sel = [tkey.get(v) for v in o[2]]
            if any(i is None for i in sel):
                diffs[kind] = float("inf")
            else:
                diffs[kind] = max(_max_diff(o[3], np.asarray(t[3])[sel]), _max_diff(o[4], np.asarray(t[4])[sel]))
    return diffs


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("PACKAGE", "PROBLEM"), help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="mpdta only")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds per package and problem")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return

    problems = ["mpdta"] if args.quick else ["mpdta", "panel_1m"]
    titles = {
        "mpdta": "mpdta (500 units x 5 periods, 2,500 rows)",
        "panel_1m": "simulated panel (100,000 units x 10 periods, 1,000,000 rows)",
    }
    lines = [
        "# Callaway & Sant'Anna ATT(g,t): benchmark",
        "",
        f"Run {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine()}, by `bench/bench_cs.py`",
        f"(load average at start {os.getloadavg()[0]:.2f}: timings on a busy machine vary, multithreaded BLAS most).",
        "",
        "Task: ATT(g,t) (doubly robust, never-treated comparison group, no covariates) with analytic standard",
        "errors, plus the simple, group, dynamic and calendar aggregations (each package on those it offers),",
        "timed from a long DataFrame in memory. Time: best of up to 5 runs (one run when it takes over",
        f"{SLOW_SECONDS:.0f} s). Peak RSS: whole worker process, including loading/simulating the data.",
        "Agreement: largest absolute difference from `evidence` over estimates and standard errors",
        f"(threshold {AGREE:g}).",
        "",
    ]
    for problem in problems:
        print(f"== {titles[problem]}", flush=True)
        results = {}
        for pkg in PACKAGES:
            print(f"   {pkg} ...", end=" ", flush=True)
            results[pkg] = run_isolated(pkg, problem, args.timeout)
            r = results[pkg]
            print(f"{min(r['times']):.4f} s" if r["status"] == "ok" else r["status"], flush=True)
        ours = results["evidence"]
        if ours["status"] != "ok":
            raise SystemExit(f"evidence failed on {problem}: {ours['status']}")
        base = min(ours["times"])
        lines += [f"## {titles[problem]}", ""]
        lines += [
            "| package | version | time (s) | x evidence | peak RSS (MB) | max abs diff | agrees to 1e-8 |",
            "| --- | --- | ---: | ---: | ---: | --- | --- |",
        ]
        for pkg in PACKAGES:
            r = results[pkg]
            if r["status"] != "ok":
                lines.append(f"| {pkg} | | {r['status']} | | | | |")
                continue
            best = min(r["times"])
            if pkg == "evidence":
                diff_txt, agree = "(reference)", ""
            else:
                diffs = compare(ours["numbers"], r["numbers"])
                worst = max(diffs.values()) if diffs else float("nan")
                diff_txt = ", ".join(f"{k}: {v:.1e}" for k, v in diffs.items())
                agree = "yes" if worst <= AGREE else "**no**"
            lines.append(
                f"| {pkg} | {r['version']} | {best:.4f} | {best / base:.1f} | {r['peak_rss_mb']:.0f} "
                f"| {diff_txt} | {agree} |"
            )
        lines += [
            "",
            f"`evidence`: runs {', '.join(f'{t:.4f}' for t in ours['times'])} s; memory allocated during the "
            f"estimation (tracemalloc peak) {ours['tracemalloc_peak_mb']:.1f} MB; the input DataFrame itself is "
            f"{ours['data_mb']:.1f} MB.",
            "",
        ]
    lines += [
        "Notes: `diff-diff` has no calendar aggregation and reports no overall effect for its group and event-study",
        "aggregations, so those rows compare what it reports. Package versions as installed in the project venv",
        "(benchmark-only; not project dependencies).",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")


if __name__ == "__main__":
    main()
