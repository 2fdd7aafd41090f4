"""DAG build time of the real-scale preset: `snakemake -n --configfile config/presets/gpunet.yaml`.

Runs the dry-run in a fresh copy of the workflow (no results/) a few times and records the median
wall time, the job counts per rule and the target (< 60 s); then the same with the asynchronous
search (``search.mode: async``, ``--in-flight`` trainings in flight shared by the 6 bands: 192;
target < 30 s, issue 21) under ``async``. Writes results/dag.json.

    python benchmarks/bench_dag.py [--repeats 3] [--in-flight 192]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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


def dry_runs(cmd: list[str], cwd: str, repeats: int) -> tuple[list[float], dict[str, int]]:
    """Wall times of ``repeats`` dry runs of ``cmd`` in ``cwd`` and the last one's job counts."""
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"dry-run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        log.info("%s repeat %d: %.1f s", " ".join(cmd[4:]), r + 1, times[-1])
    table = proc.stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return times, {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="config/presets/gpunet.yaml")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--in-flight", type=int, default=192, help="async: trainings in flight in all")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dag.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    load = os.getloadavg()  # other work on the machine slows the dry runs: recorded with them
    with tempfile.TemporaryDirectory() as tmp:
        for part in PARTS:
            (shutil.copytree if (ROOT / part).is_dir() else shutil.copy)(ROOT / part, Path(tmp) / part)
        overlay = Path(tmp) / "async.yaml"
        overlay.write_text(f"search:\n  mode: async\n  in_flight: {args.in_flight}\n")
        cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", args.preset]
        times, counts = dry_runs(cmd, tmp, args.repeats)
        atimes, acounts = dry_runs([*cmd, str(overlay)], tmp, args.repeats)
    doc = {
        "command": "snakemake -n --configfile " + args.preset,
        "median_s": statistics.median(times),
        "times_s": times,
        "target_s": 60,
        "jobs": counts,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_1_5_15_min_before": [round(x, 2) for x in load],
        "async": {
            "command": f"snakemake -n --configfile {args.preset} async.yaml (search: mode async, in_flight {args.in_flight})",
            "in_flight": args.in_flight,
            "median_s": statistics.median(atimes),
            "times_s": atimes,
            "target_s": 30,
            "jobs": acounts,
        },
    }
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    log.info("median %.1f s for %d jobs (%d training) -> %s", doc["median_s"], counts.get("total", 0),
             counts.get("train_candidate", 0), args.out)  # fmt: skip


if __name__ == "__main__":
    main()
