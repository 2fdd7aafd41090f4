"""Wall time of the default config's latency phase and its LUT fidelity, from a clean copy.

Copies the workflow into a temporary directory, runs
``snakemake --cores 2 --until partition_subspaces`` (fidelity included) there, and records the
wall time, the Snakemake benchmark tables of the rules and the fidelity figures in
results/default_run.json. With ``--full`` it runs the whole default pipeline (search and hub
included) and writes results/full_run.json with the hub summary.

    python benchmarks/bench_default_run.py [--full]
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "envs", "report", "benchmarks"]
log = logging.getLogger("bench_default_run")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    full = "--full" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--full"]
    name = "full_run.json" if full else "default_run.json"
    out = Path(args[0]) if args else ROOT / "benchmarks" / "results" / name
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for part in PARTS:
            src = ROOT / part
            (shutil.copytree if src.is_dir() else shutil.copy)(src, work / part)
        cmd = [sys.executable, "-m", "snakemake", "--cores", "2"]
        if not full:
            cmd += ["--until", "partition_subspaces"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        wall = time.perf_counter() - t0
        fidelity_path = next((work / "results" / "lut").glob("*/fidelity.json"))
        fid = json.loads(fidelity_path.read_text())
        rules = {}
        for tsv in (work / "results" / "benchmarks").rglob("*.tsv"):
            with tsv.open() as f:
                row = next(csv.DictReader(f, delimiter="\t"))
            rules[str(tsv.relative_to(work / "results" / "benchmarks"))] = float(row["s"])
        keys = len(__import__("pandas").read_parquet(fidelity_path.parent / "lut.parquet"))
        hub = json.loads((work / "results" / "hub" / "hub.json").read_text()) if full else None
    result = {
        "command": " ".join(cmd[2:]),
        "hub": hub,
        "wall_s": wall,
        "slug": fid["slug"],
        "lut_keys": keys,
        "rule_seconds": rules,
        "fidelity": {k: fid[k] for k in ("networks", "correction", "before", "after", "after_in_sample")},
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    log.info(json.dumps({k: result[k] for k in ("wall_s", "lut_keys")} | {"after": fid["after"]}, indent=2))


if __name__ == "__main__":
    main()
