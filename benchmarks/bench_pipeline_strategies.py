"""Search strategies on the real pipeline: the default search (real training, the default proxy)
with each strategy and several seeds, from one latency phase, scored by the finalists' test
accuracy per tier.

Runs the default config's latency phase once in a clean copy (``--until partition_subspaces``),
then for each strategy and seed a copy of that finished phase continues with ``snakemake --cores
2 --rerun-triggers mtime`` (the README's way to extend a run: the changed seed does not redo the
latency phase) with the seed and strategy set and baselines off. The hub winners are retrained as
finalists (``final``: the default reference schedule and seeds) and scored on the held-out test
split. Records per strategy, seed and tier: the hub's proxy (validation) accuracy and the
finalist's test accuracy (mean of its seeds), then per tier the mean over search seeds with a 95%
t-interval (``gpunas.final.interval``).

    python benchmarks/bench_pipeline_strategies.py [--seeds 0,1,2] [--strategies trust_region,random]

Writes benchmarks/results/pipeline_strategies.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from gpunas.final import interval

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "envs", "report"]
log = logging.getLogger("bench_pipeline_strategies")


def snakemake(work: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=work,
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"snakemake {' '.join(args)} failed in {work}:\n{proc.stderr[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--strategies", default="trust_region,random")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pipeline_strategies.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "latency"
        base.mkdir()
        for part in PARTS:
            src = ROOT / part
            (shutil.copytree if src.is_dir() else shutil.copy)(src, base / part)
        t0 = time.perf_counter()
        snakemake(base, "--until", "partition_subspaces")
        log.info("latency phase: %.0f s", time.perf_counter() - t0)
        for strategy in args.strategies.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                work = Path(tmp) / f"{strategy}-{seed}"
                shutil.copytree(base, work, symlinks=True)
                (work / "overlay.yaml").write_text(yaml.safe_dump(
                    {"seed": seed, "search": {"strategy": strategy}, "baselines": {"enabled": False}}))  # fmt: skip
                t0 = time.perf_counter()
                snakemake(
                    work, "--configfile", "config/config.yaml", "overlay.yaml", "--rerun-triggers", "mtime"
                )
                wall = time.perf_counter() - t0
                hub = {
                    t["subspace"]: t for t in json.loads((work / "results/hub/hub.json").read_text())["tiers"]
                }
                final = pd.read_csv(work / "results/final/comparison.csv")
                for r in final.to_dict(orient="records"):
                    tier = hub.get(r["subspace"], {})
                    rows.append({"strategy": strategy, "seed": seed, "subspace": r["subspace"],
                                 "budget_ms": r["budget_ms"], "proxy_val_top1": tier.get("accuracy"),
                                 "predicted_ms": tier.get("predicted_ms"),
                                 "test_top1": r.get("search_test_top1"), "final_seeds": r.get("search_seeds"),
                                 "wall_s": round(wall, 1)})  # fmt: skip
                log.info("%s seed %d: %.0f s; test top-1 per tier %s", strategy, seed, wall,
                         [round(r["test_top1"], 2) for r in rows[-len(final):] if r["test_top1"] == r["test_top1"]])  # fmt: skip
    df = pd.DataFrame(rows)
    summary = []
    for (sub, strategy), g in df.groupby(["subspace", "strategy"]):
        m, lo, hi = interval(g["test_top1"].dropna().tolist())
        pm, plo, phi = interval(g["proxy_val_top1"].dropna().tolist())
        summary.append({"subspace": sub, "strategy": strategy, "search_seeds": len(g), "test_top1_mean": m,
                        "test_top1_ci95": [lo, hi], "proxy_val_top1_mean": pm, "proxy_val_top1_ci95": [plo, phi]})  # fmt: skip
    doc = {
        "what": "default search per strategy and search seed, one latency phase; hub winners retrained as finalists",
        "machine": "2 cores, no GPU",
        "config": "config/config.yaml with seed and search.strategy set, baselines off",
        "statistic": "per tier: mean over search seeds of the finalist's test top-1 (itself the mean of final.seeds "
                     "trainings), 95% t-interval",
        "summary": summary,
        "runs": rows,
    }  # fmt: skip
    args.out.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    for s in summary:
        log.info(
            "%s %s: test %.2f [%.2f, %.2f]",
            s["subspace"],
            s["strategy"],
            s["test_top1_mean"],
            *s["test_top1_ci95"],
        )


if __name__ == "__main__":
    main()
