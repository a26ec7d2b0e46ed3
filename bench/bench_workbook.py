"""Wall time of the default workbook run (what `make workbook` does on a warm environment).

Runs `evidence run params/default.yaml` as a subprocess REPEATS times into a temporary reports folder, reads the
per-notebook times from each run's manifest.json, and writes bench/results/workbook.md. Not part of `make test`.

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
    out = ROOT / "bench" / "results" / "workbook.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
