"""Time and peak memory of the whole workbook (``evidence run``) on a SYNTHETIC small-area panel, per notebook.

The panel is what an evaluator with residence-level records builds: N small areas x 48 months (April 2016 - March
2020), three adoption cohorts (July 2017, July 2018, July 2019; a fifth of the areas each) and never-treated areas
(the other two fifths), a count outcome (emergency admissions, Poisson around 1.1 per 1,000 residents a month with
area and month effects and a -5% effect after adoption) with the area's population (1,000-3,000 residents) and a
readable area name. The data are written as a CSV with a parameters file that describes it (``data.path``,
``data.unit``, ``data.time``, ``data.population`` ...), and every other parameter is left at its default: the run is
what a user gets without tuning draws or switching analyses off.

Measured for each size:

- per-notebook seconds from the run's ``manifest.json`` (kernel start to last cell, as ``evidence run`` logs them);
- per-notebook peak resident memory: each kernel's own high-water mark (``ru_maxrss``), recorded at its exit under
  the notebook's name by a ``sitecustomize`` module this script puts on the kernels' ``PYTHONPATH`` (it reads the
  notebook's run context, ``ctx.notebook``); notebooks that are not applicable start no kernel (``-``);
- the whole run's peak: the largest single process (``/usr/bin/time -v``, maximum resident set size) and the peak of
  the summed resident memory of every process of the run (psutil, sampled every 0.2 s; notebooks run two at a time).

    .venv/bin/python bench/bench_workbook_scale.py [N ...]          # default: 300 3000 30000
    .venv/bin/python bench/bench_workbook_scale.py 3000 --only 06_power --keep /tmp/scale

Writes ``bench/results/workbook_scale.md`` (the table of every size run in this invocation; ``--label`` tags the
column, e.g. ``before`` / ``after``, and the rows of earlier invocations with another label are kept). Not part of
``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "workbook_scale.md"
MONTHS = 48
COHORTS = ("2017-07-01", "2018-07-01", "2019-07-01")


def simulate(n_units: int, seed: int = 20240601) -> pd.DataFrame:
    """SYNTHETIC small-area panel: ``n_units`` areas x 48 months, three cohorts and never-treated areas."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2016-04-01", periods=MONTHS, freq="MS")
    labels = months.strftime("%Y-%m-%d").to_numpy()
    pop = rng.integers(1000, 3001, n_units)
    share = rng.random(n_units)
    cohort = np.select([share < 0.2, share < 0.4, share < 0.6], list(COHORTS), default="0")
    first = np.array([np.flatnonzero(labels == c)[0] if c != "0" else MONTHS + 1 for c in cohort])
    t = np.arange(MONTHS)
    season = 0.08 * np.cos(2 * np.pi * (t - 9) / 12)  # winter peak
    trend = 0.004 * t + np.cumsum(rng.normal(0, 0.01, MONTHS))
    area = rng.normal(0, 0.25, n_units)
    D = t[None, :] >= first[:, None]
    mu = pop[:, None] * 0.0011 * np.exp(area[:, None] + season[None, :] + trend[None, :] - 0.05 * D)
    y = rng.poisson(mu)
    codes = np.array([f"E0{i:07d}" for i in range(n_units)])
    return pd.DataFrame({
        "area_code": np.repeat(codes, MONTHS),
        "area_name": np.repeat(np.char.add("Small area ", np.char.zfill(np.arange(1, n_units + 1).astype(str), 5)), MONTHS),
        "month": np.tile(labels, n_units),
        "emergency_admissions": y.ravel(),
        "population": np.repeat(pop, MONTHS),
        "first_treated": np.repeat(cohort, MONTHS),
    })


def write_inputs(n_units: int, folder: Path) -> Path:
    """The panel CSV and a parameters file describing it (every other parameter at its default)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "small_areas.csv"
    simulate(n_units).to_csv(data, index=False)
    params = {
        "run_name": f"scale_{n_units}",
        "title": f"SYNTHETIC small-area panel, {n_units:,} areas x {MONTHS} months",
        "description": "Simulated residence-level panel for the workbook scaling benchmark (bench/bench_workbook_scale.py); not NHS data.",
        "data": {"path": str(data), "unit": "area_code", "unit_name": "area_name", "time": "month", "outcomes": ["emergency_admissions"],
                 "outcome_kinds": {"emergency_admissions": "count"}, "population": "population"},
        "treatment": {"cohort": "first_treated"},
        "report": {"synthetic": True},
    }
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


class TreeSampler(threading.Thread):
    """Samples the summed resident memory of a process and all its descendants (the run, its workers and kernels)."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.stop = threading.Event()
        self.peak_total = 0

    def run(self) -> None:
        try:
            root = psutil.Process(self.root)
        except psutil.Error:
            return
        while not self.stop.is_set():
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                break
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_total = max(self.peak_total, total)
            self.stop.wait(self.interval)


def _cap(gb: float | None):  # noqa: ANN202
    """A preexec function capping every process's address space (a kernel that would take the machine down fails instead)."""
    if not gb:
        return None

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(gb * 2**30), int(gb * 2**30)))

    return limit


SITECUSTOMIZE = """
# written by bench/bench_workbook_scale.py: a notebook kernel records its peak resident memory (ru_maxrss) at exit,
# under the name of the notebook whose run context it opened (found by a light polling thread, because IPython
# clears the user namespace at exit before this hook runs)
import atexit, json, os, resource, sys, threading

_name = []


def _watch():
    import time

    while not _name:
        try:
            ip = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
            ctx = ip.user_ns.get("ctx") if ip is not None else None
            if getattr(ctx, "notebook", None):
                _name.append(ctx.notebook)
        except Exception:
            pass
        time.sleep(0.5)
    while True:  # and every 2 s (a kernel killed at shutdown runs no atexit hook)
        _evidence_bench_peak()
        time.sleep(2)


def _evidence_bench_peak():
    if _name:  # written whole, then renamed: the script may read it at any moment
        path = os.path.join(os.environ["EVIDENCE_BENCH_PEAKS"], _name[0] + ".json")
        with open(path + ".tmp", "w") as fh:
            json.dump({"notebook": _name[0], "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}, fh)
        os.replace(path + ".tmp", path)


if "ipykernel" in " ".join(getattr(sys, "orig_argv", sys.argv)):
    threading.Thread(target=_watch, daemon=True).start()
    atexit.register(_evidence_bench_peak)
"""


def run_once(n_units: int, keep: Path | None, only: list[str], max_gb: float | None = None) -> dict:
    base = Path(tempfile.mkdtemp(prefix=f"scale{n_units}_")) if keep is None else keep / f"n{n_units}"
    try:
        params = write_inputs(n_units, base / "input")
        reports = base / "reports"
        cmd = ["/usr/bin/time", "-v", str(ROOT / ".venv" / "bin" / "evidence"), "run", str(params), "--reports", str(reports), "--quiet"]
        cmd += [a for nb in only for a in ("--only", nb)]
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        hook, peaks = base / "hook", base / "peaks"
        hook.mkdir(exist_ok=True)
        peaks.mkdir(exist_ok=True)
        for f in peaks.glob("*.json"):
            f.unlink()
        (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env = dict(os.environ, MPLBACKEND="Agg", EVIDENCE_BENCH_PEAKS=str(peaks), PYTHONPATH=os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p))
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_cap(max_gb))
        sampler = TreeSampler(proc.pid)
        sampler.start()
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
        maxrss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
        cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", err))  # every process of the run
        load = os.getloadavg()[0]
        name = f"scale_{n_units}"
        found = sorted(reports.glob(f"{name}*")) + sorted((reports / ".failed").glob(f"{name}*"))  # --only runs publish to name--only-...
        folder = found[0] if found else reports / name
        log = folder / "run.log"
        per_nb_mem = {f.stem: json.loads(f.read_text())["peak_bytes"] for f in peaks.glob("*.json")}  # each kernel's own ru_maxrss
        seconds: dict[str, float] = {}
        status: dict[str, str] = {}
        if log.is_file():
            for line in log.read_text().splitlines():
                m = re.search(r"\] (\S+): (ok|FAILED) \(([\d.]+) s\)", line)
                if m:
                    seconds[m.group(1)] = float(m.group(3))
                    status[m.group(1)] = m.group(2)
        failed = proc.returncode != 0
        tail = " ".join(err.strip().splitlines()[:3])[:400] if failed else ""
        prep = ""
        if log.is_file():
            m = re.search(r"design: .*\(([\d.]+) s\)", log.read_text())
            prep = m.group(1) if m else ""
        return {"units": n_units, "rows": n_units * MONTHS, "wall": wall, "cpu": cpu, "load0": load0, "load1": load, "ok": not failed, "error": tail, "maxrss": int(maxrss.group(1)) * 1024 if maxrss else 0,
                "peak_total": sampler.peak_total, "seconds": seconds, "status": status, "memory": per_nb_mem, "prepare": prep}
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def _gb(b: int) -> str:
    return f"{b / 2**30:.2f}" if b else "-"


def render(results: list[dict], label: str) -> list[str]:
    nbs = list(dict.fromkeys(nb for r in results for nb in r["seconds"]))
    head = "| notebook | " + " | ".join(f"{r['units']:,} units: s | GB" for r in results) + " |"
    lines = [head, "|---|" + "---|---|" * len(results)]
    for nb in nbs:
        cells = []
        for r in results:
            s = r["seconds"].get(nb)
            st = "" if r["status"].get(nb, "ok") == "ok" else " FAILED"
            cells += [f"{s:.1f}{st}" if s is not None else "-", _gb(r["memory"].get(nb, 0))]
        lines.append(f"| {nb} | " + " | ".join(cells) + " |")
    lines.append("| **whole run (wall)** | " + " | ".join(f"**{r['wall']:.0f}** | largest process {_gb(r['maxrss'])}, all processes {_gb(r['peak_total'])}" for r in results) + " |")
    lines.append("| whole run: CPU seconds (all processes); machine load at start / end | " + " | ".join(f"{r['cpu']:.0f} | load {r['load0']:.1f} / {r['load1']:.1f}" for r in results) + " |")
    for r in results:
        if not r["ok"]:
            lines.append(f"\n{r['units']:,} units ({label}): the run failed: `{r['error']}`")
    return lines


def write(results: list[dict], label: str) -> None:
    section = [f"## {label}", "", f"Measured {time.strftime('%Y-%m-%d %H:%M')}; git {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()}.", ""]
    section += render(results, label)
    text = RESULTS.read_text() if RESULTS.is_file() else ""
    intro = [
        "# The whole workbook at scale: time and peak memory per notebook",
        "",
        "`bench/bench_workbook_scale.py`: `evidence run` with default parameters on a SYNTHETIC small-area panel (N areas x 48 months,",
        "three cohorts and never-treated areas, a count outcome with a population; see the script's docstring), on",
        f"{platform.machine()} with {os.cpu_count()} cores and {psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}.",
        "Per notebook: seconds as the run log gives them (kernel start to the last cell) and the kernel's peak resident memory (GB, its",
        "ru_maxrss; `-`: not applicable, no kernel). Whole run: wall seconds; peak resident memory of the largest single process (`/usr/bin/time -v`) and of all the run's",
        "processes together (sampled every 0.2 s; two notebooks run at a time). Goals (issue 19 item 4): 3,000 areas within 180 s and",
        "4 GB; 30,000 areas within 900 s and 8 GB.",
        "",
    ]
    kept = []
    if text:
        parts = re.split(r"(?m)^## ", text)
        for p in parts[1:]:
            if not p.startswith(label + "\n"):
                kept.append("## " + p.rstrip() + "\n")
    RESULTS.write_text("\n".join(intro) + "\n" + "\n".join(kept + ["\n".join(section) + "\n"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("units", nargs="*", type=int, default=[300, 3000, 30000])
    ap.add_argument("--label", default="after")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--keep", type=Path, default=None, help="keep the inputs and reports under this folder")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--max-gb", type=float, default=None, help="cap each process's address space (RLIMIT_AS) at this many GiB")
    a = ap.parse_args()
    results = []
    for n in a.units:
        r = run_once(n, a.keep, a.only, a.max_gb)
        results.append(r)
        print("\n".join(render([r], a.label)), flush=True)
    if not a.no_write:
        write(results, a.label)


if __name__ == "__main__":
    main()
