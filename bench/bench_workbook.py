"""Wall time of the default workbook run (what `make workbook` does on a warm environment).

Runs `evidence run params/default.yaml` as a subprocess REPEATS times into a temporary reports folder, reads the
per-notebook times from each run's manifest.json, and writes bench/results/workbook.md. Not part of `make test`.
Kernel start-up (start to first reply) and the imports every notebook's first cell pays are measured separately,
in a fresh kernel each time, so the fixed cost per notebook can be told apart from the analysis.

    .venv/bin/python bench/bench_workbook.py [REPEATS]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


TARGET_S = 30.0  # the goal for a warm `make workbook` (issue 19: within 60 s, 30 s the target)
IMPORTS = "import matplotlib.pyplot as plt\nimport evidence\nfrom evidence import applicability, did, plots, report, robust, staggered, synth, summary\nfrom evidence.its import its\n"


def kernel_costs(repeats: int) -> tuple[list[float], list[float]]:
    """Seconds from starting a kernel to its first reply, and for the notebooks' imports in that fresh kernel."""
    from jupyter_client.manager import start_new_kernel

    start, imports = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT))
        try:
            kc.execute_interactive("pass", timeout=120)
            start.append(time.perf_counter() - t0)
            t1 = time.perf_counter()
            kc.execute_interactive(IMPORTS, timeout=300)
            imports.append(time.perf_counter() - t1)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return start, imports


def main(repeats: int = 3) -> None:
    walls, per_nb = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "evidence.cli", "run", "params/default.yaml", "--reports", tmp, "--quiet"], cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
            wall = time.perf_counter() - t0
            if proc.returncode:
                sys.exit(proc.stderr)
            walls.append(wall)
            m = json.loads((Path(tmp) / "default" / "manifest.json").read_text())
            for nb, info in m["notebooks"].items():
                per_nb.setdefault(nb, []).append(info["seconds"])
    lines = [
        "# Workbook wall time (default parameters)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}, warm environment;",
        f"`{Path(sys.executable).name} -m evidence.cli run params/default.yaml` as a subprocess, {repeats} repeats (`bench/bench_workbook.py`).",
        "Notebooks run in parallel (2 processes), so the total is less than the sum of the notebook times.",
        "",
        "| step | median (s) | min (s) | max (s) |",
        "|---|---|---|---|",
        f"| **whole run (wall)** | {statistics.median(walls):.1f} | {min(walls):.1f} | {max(walls):.1f} |",
    ]
    for nb, ts in per_nb.items():
        lines.append(f"| notebook {nb} (execution incl. kernel start) | {statistics.median(ts):.1f} | {min(ts):.1f} | {max(ts):.1f} |")
    start, imports = kernel_costs(repeats)
    lines.append(f"| kernel start-up, to first reply (per notebook) | {statistics.median(start):.2f} | {min(start):.2f} | {max(start):.2f} |")
    lines.append(f"| imports of the notebooks' first cell, fresh kernel (per notebook) | {statistics.median(imports):.2f} | {min(imports):.2f} | {max(imports):.2f} |")
    fixed = len(per_nb) * (statistics.median(start) + statistics.median(imports)) / 2
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "",
        f"Target for a warm run: {TARGET_S:.0f} s (limit 60 s). Kernel start-up and imports cost about {fixed:.1f} s of wall time over "
        f"{len(per_nb)} notebooks run two at a time — a floor no analysis speed-up removes. Load average at the end: {load:.2f}.",
    ]
    out = ROOT / "bench" / "results" / "workbook.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
