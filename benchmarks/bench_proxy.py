"""Does the proxy task rank candidates? Spread across a sub-space and agreement between seeds.

Takes the first `--candidates` members (Sobol order: the initial design) of each chosen
sub-space of a finished latency phase, trains each with the config's proxy schedule under two
training seeds, and reports per sub-space the standard deviation of validation accuracy (seed
A) and the Spearman correlation between the two seeds' accuracies. Targets: std >= 1 point,
Spearman >= 0.6 over >= 12 candidates. Writes results/proxy.json.

    snakemake --cores 2 --until partition_subspaces   # samples and sub-spaces first
    python benchmarks/bench_proxy.py [--subspaces s1,s2] [--candidates 12]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

from gpunas.datasets.loader import load_split
from gpunas.latency.partition import read_subspace
from gpunas.spaces import load_space
from gpunas.spaces.sampling import read_samples
from gpunas.training.train import TrainConfig, train_candidate

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench_proxy")


def train_one(args: tuple) -> dict:
    arch_string, data_cfg, train_cfg, seed = args
    from gpunas.arch import Architecture

    data = load_split(**data_cfg)
    m = train_candidate(Architecture.from_string(arch_string), data, TrainConfig.from_dict(train_cfg), seed)
    return {"arch": arch_string, "seed": seed, "val_top1": m["val_top1"], "wall_s": m.get("wall_s"),
            "params": m.get("params"), "status": m["status"]}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    p.add_argument("--results", default="results")
    p.add_argument("--subspaces", default="s1,s2")
    p.add_argument("--candidates", type=int, default=12)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "proxy.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = yaml.safe_load(Path(args.config).read_text())
    space = load_space(cfg["space"])
    results = Path(args.results)
    df, vectors, _ = read_samples(space, results / "samples" / "samples.parquet")
    seeds = [int(s) for s in args.seeds.split(",")]
    data_cfg = {
        k: v
        for k, v in cfg["data"].items()
        if k in ("source", "train_images", "val_images", "split_seed", "image_size")
    }
    train_cfg = {**cfg["train"], "threads": 1}
    jobs, meta = [], []
    for sub_id in args.subspaces.split(","):
        sub = read_subspace(results / "subspaces" / "subspaces.json", sub_id)
        for row in sub["members"][: args.candidates]:
            arch = space.decode(vectors[row]).to_string()
            meta.append((sub_id, row, arch, float(df["predicted_ms"].iloc[row])))
            jobs += [(arch, data_cfg, train_cfg, s) for s in seeds]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(train_one, jobs))
    wall = time.perf_counter() - t0
    acc = {(r["arch"], r["seed"]): r["val_top1"] for r in runs}
    report = {"config": Path(args.config).name, "data": data_cfg, "train": train_cfg, "seeds": seeds,
              "wall_s": wall, "median_train_s": float(np.median([r["wall_s"] for r in runs])), "subspaces": []}  # fmt: skip
    for sub_id in args.subspaces.split(","):
        rows = [m for m in meta if m[0] == sub_id]
        a = np.array([acc[(m[2], seeds[0])] for m in rows])
        b = np.array([acc[(m[2], seeds[1])] for m in rows])
        entry = {
            "subspace": sub_id,
            "candidates": len(rows),
            "std_seed_a_pp": float(a.std(ddof=1)),
            "range_pp": [float(a.min()), float(a.max())],
            "spearman_seeds": float(stats.spearmanr(a, b).statistic),
            "mean_abs_seed_diff_pp": float(np.mean(np.abs(a - b))),
            "rows": [
                {"sample": m[1], "arch": m[2], "predicted_ms": m[3], "acc_a": x, "acc_b": y}
                for m, x, y in zip(rows, a, b, strict=True)
            ],
        }
        entry["meets_targets"] = (
            entry["std_seed_a_pp"] >= 1.0 and entry["spearman_seeds"] >= 0.6 and len(rows) >= 12
        )
        report["subspaces"].append(entry)
        log.info("%s: std %.2f pp, Spearman(seed %d, seed %d) %.2f over %d candidates",
                 sub_id, entry["std_seed_a_pp"], seeds[0], seeds[1], entry["spearman_seeds"], len(rows))  # fmt: skip
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
