"""DAG build time of the real-scale preset: `snakemake -n --configfile config/presets/gpunet.yaml`.

Runs the dry-run in a fresh copy of the workflow (no results/) a few times and records the median
wall time, the job counts per rule and the target (< 60 s). Writes results/dag.json.

    python benchmarks/bench_dag.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "envs", "report"]
log = logging.getLogger("bench_dag")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="config/presets/gpunet.yaml")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dag.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    times, counts = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for part in PARTS:
            (shutil.copytree if (ROOT / part).is_dir() else shutil.copy)(ROOT / part, Path(tmp) / part)
        cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", args.preset]
        for r in range(args.repeats):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise SystemExit(f"dry-run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            log.info("repeat %d: %.1f s", r + 1, times[-1])
        table = proc.stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
        counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)}
    doc = {
        "command": "snakemake -n --configfile " + args.preset,
        "median_s": statistics.median(times),
        "times_s": times,
        "target_s": 60,
        "jobs": counts,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "cores": __import__("os").cpu_count(),
    }
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    log.info("median %.1f s for %d jobs (%d training) -> %s", doc["median_s"], counts.get("total", 0),
             counts.get("train_candidate", 0), args.out)  # fmt: skip


if __name__ == "__main__":
    main()
