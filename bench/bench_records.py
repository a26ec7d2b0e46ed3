"""Benchmark: record-level spells -> footprint x month panel, DuckDB against Spark local mode (SYNTHETIC records).

Not a test. Run from the project root::

    .venv/bin/python bench/bench_records.py                 # 50 million spells, writes bench/results/records.md
    .venv/bin/python bench/bench_records.py --n 2000000     # a quick look

The records are made by :func:`evidence.records.generate_records` (synthetic, consistent with the real A&E return;
written once to ``bench/data/spells_<n>/`` and reused while the generator's parameters are unchanged). Each
configuration runs in a fresh interpreter and does the whole record step of the workbook: read the Parquet footers,
check every value (the one-scan check query incl. the distinct-id count), aggregate by residence (LSOA -> 2021
footprint) with costs by HRG, and assemble the validated panel (:func:`evidence.records.panel_from_records`). The
wall time includes starting the engine (the JVM for Spark) but not the interpreter's imports.

Peak memory is the largest total resident set of the worker's whole process tree (the Python process plus, for
Spark, its JVM), sampled every 50 ms with psutil; for DuckDB, which runs in-process, the kernel's exact
``ru_maxrss`` is also given. The integer counts of every configuration are compared with the first DuckDB run's:
"identical" means every column of every footprint-month is equal.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results" / "records.md"

CONFIGS: list[dict[str, str | None]] = [
    {"engine": "duckdb", "memory_limit": None, "label": "DuckDB, default memory limit (80% of RAM), 2 threads"},
    {"engine": "duckdb", "memory_limit": "1GB", "label": "DuckDB, memory_limit 1GB (out of core: spills to temp_dir)"},
    {"engine": "spark", "memory_limit": "4g", "label": "Spark local[2], driver memory 4g"},
]


def worker(args: argparse.Namespace) -> None:
    """One configuration in this fresh interpreter; prints a JSON line with its timings."""
    from evidence.records import panel_from_records

    t0 = time.perf_counter()
    panel = panel_from_records(args.path, engine=args.engine, geography="residence", start="2016-04", end="2019-03",
                               memory_limit=args.memory_limit or None, spark_master="local[2]" if args.engine == "spark" else None,
                               temp_dir=args.temp_dir or None, checksums=False)
    seconds = time.perf_counter() - t0
    counts = panel.extras["counts"]
    counts.assign(unit=counts["unit"].astype(str)).to_parquet(args.out_counts, index=False)
    rep = panel.extras["records"]
    print(json.dumps({"seconds": seconds, "n_records": rep.n_records, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "admissions": int(panel.data["emergency_admissions"].sum()), "bed_days": int(panel.data["emergency_bed_days"].sum()),
                      "rows": len(panel.data), "synthetic": rep.synthetic}))


def tree_rss(proc) -> int:  # noqa: ANN001
    import psutil

    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_config(cfg: dict, path: Path, out_counts: Path) -> dict:
    import psutil

    tmp = DATA / "spill"
    tmp.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--worker", "--path", str(path), "--engine", str(cfg["engine"]), "--memory-limit", str(cfg["memory_limit"] or ""),
           "--temp-dir", str(tmp), "--out-counts", str(out_counts)]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    ps = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(ps))
        time.sleep(0.05)
    out, err = child.communicate()
    wall = time.perf_counter() - t0
    if child.returncode != 0:
        raise SystemExit(f"{cfg['label']} failed: {err.strip().splitlines()[-1] if err.strip() else child.returncode}")
    res = json.loads(out.strip().splitlines()[-1])
    res.update(cfg, peak_tree_mb=peak / 2**20, process_seconds=wall)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000_000, help="spells to generate (default 50 million)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--path")
    ap.add_argument("--engine")
    ap.add_argument("--memory-limit", default="")
    ap.add_argument("--temp-dir", default="")
    ap.add_argument("--out-counts")
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--regenerate", action="store_true", help="write the records again even if they exist (times the generator)")
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    import pandas as pd

    from evidence.records import generate_records

    folder = DATA / f"spells_{args.n}"
    t0 = time.perf_counter()
    gen = generate_records(folder, n_records=args.n, reuse=not args.regenerate)
    gen_seconds = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in gen.files)
    print(f"{'reused' if gen.reused else 'generated'} {gen.n_records:,} synthetic spells ({size / 2**30:.2f} GiB Parquet) in {gen_seconds:.1f} s", flush=True)

    results = []
    ref = None
    for i, cfg in enumerate(CONFIGS):
        if cfg["engine"] == "spark" and args.skip_spark:
            continue
        counts_file = DATA / f"counts_{i}.parquet"
        r = run_config(cfg, folder, counts_file)
        counts = pd.read_parquet(counts_file)
        if ref is None:
            ref = counts
            r["identical"] = "reference"
        else:
            try:
                pd.testing.assert_frame_equal(ref, counts, check_dtype=False)
                r["identical"] = "yes"
            except AssertionError as exc:
                r["identical"] = f"NO ({str(exc).splitlines()[0]})"
        results.append(r)
        print(f"{cfg['label']}: {r['seconds']:.1f} s, peak {r['peak_tree_mb']:.0f} MB (tree), identical to first: {r['identical']}", flush=True)

    import duckdb
    import pyspark

    lines = [
        "# Record-level spells -> footprint x month panel (SYNTHETIC records)",
        "",
        f"Generated by `bench/bench_records.py --n {args.n}` on {_dt.date.today()} ({platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM; Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, pyspark {pyspark.__version__}, Java {_java_version()}).",
        "",
        f"Input: {gen.n_records:,} synthetic spells (emergency and elective, {len(gen.files)} monthly Parquet files, "
        f"{size / 2**30:.2f} GiB, zstd) made by `evidence.records.generate_records` "
        f"({'generated in ' + format(gen.seconds, '.0f') + ' s' if gen.seconds else 'generation time not recorded'}{'; files reused by this run' if gen.reused else ''}). Task: the whole record step — "
        "footer checks, the one-scan value check (missing values, codes, negative stays, distinct spell ids, window), "
        "aggregation by residence (LSOA -> 2021 footprint) with HRG costs, panel assembly and validation.",
        "",
        "| configuration | wall time (s) | spells per second | peak memory, process tree (MB) | ru_maxrss of the Python process (MB) | counts identical to the first row |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['label']} | {r['seconds']:.1f} | {r['n_records'] / r['seconds'] / 1e6:.1f} million | {r['peak_tree_mb']:,.0f} | {r['maxrss_mb']:,.0f} | {r['identical']} |")
    lines += [
        "",
        f"Panel: {results[0]['rows']:,} footprint-months; {results[0]['admissions']:,} emergency admissions, {results[0]['bed_days']:,} emergency bed days.",
        "",
        "Goal (issue 8): DuckDB under 60 s and 4 GB at 50 million spells on 2 cores.",
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS}")
    if args.n == 50_000_000:  # the size: copy the table into docs/records.md
        doc = ROOT / "docs" / "records.md"
        text = doc.read_text(encoding="utf-8")
        start, end = "<!-- records-bench:start -->\n", "<!-- records-bench:end -->"
        i, j = text.index(start) + len(start), text.index(end)
        body = "\n".join(lines[2:]).rstrip("\n") + "\n\nFrom `bench/results/records.md` (`bench/bench_records.py` rewrites both).\n"
        doc.write_text(text[:i] + body + text[j:], encoding="utf-8")
        print(f"updated {doc}")


def _java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30).stderr
        return out.splitlines()[0].split('"')[1]
    except Exception:
        return "unknown"


if __name__ == "__main__":
    main()
