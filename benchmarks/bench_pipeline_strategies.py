"""Search strategies on the real pipeline: the default search (real training, the default proxy)
with each strategy and several seeds, from one latency phase, scored by the finalists' test
accuracy per tier.

Runs the default config's latency phase once in a clean copy (``--until partition_subspaces``),
then for each strategy and seed a copy of that finished phase continues with ``snakemake --cores
2 --rerun-triggers mtime`` (the README's way to extend a run: the changed seed does not redo the
latency phase) with the seed and strategy set and baselines off. The hub winners are retrained as
finalists (``final``: the default reference schedule and seeds) and scored on the held-out test
split. Records per strategy, search seed and tier: the hub's proxy (validation) accuracy, the
finalist's test accuracy per final seed and its per-image correctness on the test split (packed,
``gpunas.training.train.pack_correct``), so the file can be analysed again without training.

Analysis (:func:`analyse`), per tier, the finalists' method (``gpunas.final``) with the *search*
seed as the unit: each strategy's result per search seed is its finalist's test accuracy and
per-image correctness averaged over the final seeds; the seed variance is pooled over the two
strategies' search seeds; the difference (first strategy - second) gets a 95% interval from that
variance and the paired per-image term on the shared test images (Dietterich 1998; Bouthillier et
al. 2021), and a verdict only when it excludes 0. Each strategy's accuracy gets the logit-scale
interval of ``gpunas.final.accuracy_interval`` (inside [0, 100]).

    python benchmarks/bench_pipeline_strategies.py [--seeds 0,1,2] [--strategies trust_region,random]
    python benchmarks/bench_pipeline_strategies.py --reanalyse   # the recorded runs, analysed again

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

import numpy as np
import pandas as pd
import yaml

from gpunas.final import Scores, accuracy_interval, difference_interval, seed_variance
from gpunas.training.train import unpack_correct

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
    ap.add_argument("--reanalyse", action="store_true", help="analyse the runs recorded in --out again")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.reanalyse:
        doc = json.loads(args.out.read_text())
        write(doc, args.strategies.split(","), args.out)
        return
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
                rows += collect(work, strategy, seed, wall)
                write(_doc(rows), args.strategies.split(","), args.out)  # kept after every run
                log.info("%s seed %d: %.0f s; test top-1 per tier %s", strategy, seed, wall,
                         [round(float(np.mean(r["test_top1"])), 2) for r in rows if r["strategy"] == strategy and r["seed"] == seed and r["test_top1"]])  # fmt: skip
    write(_doc(rows), args.strategies.split(","), args.out)


def _doc(rows: list[dict]) -> dict:
    return {
        "what": "default search per strategy and search seed, one latency phase; hub winners retrained as finalists",
        "machine": "2 cores, no GPU",
        "config": "config/config.yaml with seed and search.strategy set, baselines off",
        "runs": rows,
    }  # fmt: skip


def collect(work: Path, strategy: str, seed: int, wall: float) -> list[dict]:
    """One finished run's hub tiers: proxy accuracy, and the finalist's test accuracy and packed
    per-image correctness per final seed."""
    hub = {t["subspace"]: t for t in json.loads((work / "results/hub/hub.json").read_text())["tiers"]}
    final = json.loads((work / "results/final/finalists.json").read_text())
    rows = []
    for sub, tier in sorted(hub.items()):
        network = final["finalists"].get(f"hub/{sub}", {}).get("network")
        paths = (
            sorted((work / "results/final/networks").glob(f"{network}/seed*/metrics.json")) if network else []
        )
        done = [m for m in (json.loads(p.read_text()) for p in paths) if m.get("status") == "complete"]
        rows.append({"strategy": strategy, "seed": seed, "subspace": sub,
                     "budget_ms": final["budgets_ms"].get(sub), "proxy_val_top1": tier.get("accuracy"),
                     "predicted_ms": tier.get("predicted_ms"), "arch": tier.get("arch"), "network": network,
                     "test_top1": [m["test_top1"] for m in done],
                     "test_correct": [m["test_correct"] for m in done], "wall_s": round(wall, 1)})  # fmt: skip
    return rows


def _per_search_seed(runs: list[dict]) -> Scores:
    """One strategy's results in one tier, one entry per search seed: the finalist's test accuracy
    and per-image correctness averaged over its final seeds."""
    acc = np.array([np.mean(r["test_top1"]) for r in runs])
    correct = np.vstack([np.mean([unpack_correct(c) for c in r["test_correct"]], axis=0) for r in runs])
    return Scores(acc, correct)


def analyse(runs: list[dict], strategies: list[str]) -> list[dict]:
    """Per tier: each strategy's accuracy with its interval, and the paired difference of the first
    two strategies with its 95% interval, ``detectable_pts`` and a verdict only when it excludes 0."""
    df = pd.DataFrame([r for r in runs if r["test_top1"]])
    out = []
    for sub, g in df.groupby("subspace"):
        scores = {s: _per_search_seed(g[g["strategy"] == s].sort_values("seed").to_dict(orient="records"))
                  for s in strategies if (g["strategy"] == s).any()}  # fmt: skip
        var, dof = seed_variance(scores)
        row: dict = {"subspace": sub, "search_seeds": {s: len(sc.seeds) for s, sc in scores.items()},
                     "seed_variance_pts2": var, "df": dof}  # fmt: skip
        for s, sc in scores.items():
            m, lo, hi = accuracy_interval(sc, var, dof)
            row[s] = {"test_top1": m, "ci95": [lo, hi], "per_search_seed": sc.seeds.round(3).tolist()}
        if len(scores) >= 2:
            a, b = strategies[0], strategies[1]
            d, lo, hi = difference_interval(scores[a], scores[b], var, dof)
            row["difference"] = {
                "of": f"{a} - {b}",
                "points": d,
                "ci95": [lo, hi],
                "detectable_pts": (hi - lo) / 2,
                "verdict": (f"{a} more accurate" if lo > 0 else f"{b} more accurate" if hi < 0
                            else "no difference detected"),
            }  # fmt: skip
        out.append(row)
    return out


def write(doc: dict, strategies: list[str], out: Path) -> None:
    doc["statistic"] = (
        "per tier, search seed as the unit: each strategy's finalist test top-1 and per-image correctness "
        "averaged over its final seeds; seed variance pooled over both strategies' search seeds; difference "
        "with a 95% interval adding the paired per-image term on the shared test images (gpunas.final: "
        "Dietterich 1998, Bouthillier et al. 2021); accuracy intervals on the logit scale"
    )
    doc["summary"] = analyse(doc["runs"], strategies)
    out.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    for s in doc["summary"]:
        d = s.get("difference", {})
        log.info("%s: %s %+.2f [%.2f, %.2f]: %s", s["subspace"], d.get("of"), d.get("points", np.nan),
                 *d.get("ci95", [np.nan, np.nan]), d.get("verdict"))  # fmt: skip


if __name__ == "__main__":
    main()
