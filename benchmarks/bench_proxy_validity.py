"""Proxy validity: does the proxy training rank architectures like a longer, reference training?

The accuracy phase's equivalent of LUT fidelity. From a finished latency phase of the default
config, >= 12 architectures spanning its latency range are taken: search samples at evenly
spaced latency quantiles and baseline variants (``results/baselines/baselines.json``). Each is
trained

- with each proxy schedule under test, 2 seeds (the default proxy is ``config/config.yaml``'s
  ``train`` and ``data.train_images``), and
- with the reference schedule: >= 4x the default proxy's images x epochs, 1 seed,

all on the same fixed split (training images are a prefix of the same stratified order; one
validation split of ``--val`` images scores everything). Recorded per proxy: Kendall tau and
Spearman rho between proxy and reference accuracy (mean of the seeds), seed-to-seed Kendall and
Spearman, and the Spearman of accuracy vs predicted latency of proxy and reference (do larger
networks score higher?), with bootstrap 95% intervals over architectures. Trainings are real
training jobs (``gpunas.training.trial``), two at a time on the 2 cores, cached in
``--cache`` so a run can be extended.

    snakemake --cores 2 --until partition_subspaces design_baselines   # a latency phase first
    python benchmarks/bench_proxy_validity.py --results results        # -> results/proxy_validity.json + .png
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import stats

from gpunas.datasets.prepared import prepare
from gpunas.report.pages import proxy_validity_figure
from gpunas.spaces import load_space
from gpunas.spaces.sampling import read_samples
from gpunas.training.trial import TrainingJob, run_training_job

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench_proxy_validity")


def pick_architectures(results: Path, space: Any, n_samples: int, per_family: int) -> list[dict[str, Any]]:
    """Samples at evenly spaced latency quantiles, and baseline variants spread over their latency."""
    df, vectors, _ = read_samples(space, results / "samples" / "samples.parquet")
    lat = df["predicted_ms"].to_numpy()
    order = np.argsort(lat)
    picks = []
    for q in np.linspace(0.03, 0.97, n_samples):
        i = int(order[int(q * (len(order) - 1))])
        picks.append({"kind": "sample", "name": f"sample {i}", "arch": space.describe(vectors[i]),
                      "predicted_ms": float(lat[i])})  # fmt: skip
    var = json.loads((results / "baselines" / "baselines.json").read_text())["variants"]
    for family in sorted({v["family"] for v in var}):
        fv = sorted((v for v in var if v["family"] == family), key=lambda v: v["predicted_ms"])
        for j in np.linspace(0, len(fv) - 1, per_family).round().astype(int):
            v = fv[j]
            picks.append({"kind": "baseline", "name": v["variant"], "arch": v["arch"],
                          "predicted_ms": float(v["predicted_ms"])})  # fmt: skip
    uniq = {p["arch"]: p for p in picks}
    return sorted(uniq.values(), key=lambda p: p["predicted_ms"])


def key(arch: str, schedule: dict[str, Any], seed: int) -> str:
    return hashlib.sha256(json.dumps([arch, schedule, seed], sort_keys=True).encode()).hexdigest()[:16]


def run(jobs: list[tuple[str, dict[str, Any], int]], data_dirs: dict[int, Path], cache: Path, workers: int,
        work: Path) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Train every (arch, schedule, seed) not yet in the cache; return the cache."""
    done: dict[str, dict[str, Any]] = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [(a, s, seed) for a, s, seed in jobs if key(a, s, seed) not in done]
    log.info("%d trainings, %d cached, %d to run", len(jobs), len(jobs) - len(todo), len(todo))

    def one(item: tuple[str, dict[str, Any], int]) -> tuple[str, dict[str, Any]]:
        arch, sched, seed = item
        k = key(arch, sched, seed)
        job = TrainingJob(arch=arch, data={"dir": str(data_dirs[sched["train_images"]])},
                          train={**sched["train"], "device": "cpu"}, seed=seed, threads=1, outdir=work / k,
                          reuse=True)  # fmt: skip
        t0 = time.perf_counter()
        r = run_training_job(job)
        return k, {"arch": arch, "schedule": sched["name"], "seed": seed, "status": r["status"],
                   "val_top1": r.get("val_top1"), "wall_s": time.perf_counter() - t0,
                   "images_seen": r.get("images_seen")}  # fmt: skip

    with ThreadPoolExecutor(workers) as pool:
        for i, (k, row) in enumerate(pool.map(one, todo), start=1):
            done[k] = row
            cache.write_text(json.dumps(done, indent=1))
            log.info("%d/%d %s seed %d: %s %.2f%% in %.0f s", i, len(todo), row["schedule"], row["seed"],
                     row["status"], row["val_top1"] or float("nan"), row["wall_s"])  # fmt: skip
    return done


def boot_ci(fn: Any, x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of fn(x, y) over resampled architectures."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(reps):
        idx = rng.integers(0, len(x), len(x))
        if len(np.unique(idx)) > 2:
            vals.append(fn(x[idx], y[idx]))
    v = np.array([a for a in vals if np.isfinite(a)])
    return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]


def tau(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.kendalltau(a, b).statistic)


def rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.spearmanr(a, b).statistic)


def summarise(archs: list[dict[str, Any]], done: dict[str, dict[str, Any]], proxies: list[dict[str, Any]],
              reference: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    lat = np.array([a["predicted_ms"] for a in archs])
    ref = np.array([done[key(a["arch"], reference, 0)]["val_top1"] for a in archs], dtype=float)
    out = {"reference": {"mean_top1": float(np.mean(ref)), "spearman_vs_latency": rho(ref, lat),
                         "spearman_vs_latency_ci95": boot_ci(rho, ref, lat)}, "proxies": {}}  # fmt: skip
    for p in proxies:
        s0 = np.array([done[key(a["arch"], p, 0)]["val_top1"] for a in archs], dtype=float)
        s1 = np.array([done[key(a["arch"], p, 1)]["val_top1"] for a in archs], dtype=float)
        mean = (s0 + s1) / 2
        walls = [done[key(a["arch"], p, s)]["wall_s"] for a in archs for s in (0, 1)]
        out["proxies"][p["name"]] = {
            "kendall_vs_reference": tau(mean, ref), "kendall_vs_reference_ci95": boot_ci(tau, mean, ref),
            "spearman_vs_reference": rho(mean, ref), "spearman_vs_reference_ci95": boot_ci(rho, mean, ref),
            "kendall_seed_to_seed": tau(s0, s1), "spearman_seed_to_seed": rho(s0, s1),
            "spearman_vs_latency": rho(mean, lat), "spearman_vs_latency_ci95": boot_ci(rho, mean, lat),
            "mean_top1": float(np.mean(mean)), "seed_abs_diff_median": float(np.median(np.abs(s0 - s1))),
            "median_train_s": float(np.median(walls)), "images_x_epochs": p["train_images"] * p["train"]["epochs"],
            "reference_over_proxy": reference["train_images"] * reference["train"]["epochs"]
            / (p["train_images"] * p["train"]["epochs"]),
        }  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path("results"), help="a finished latency phase")
    ap.add_argument("--proxies", type=Path, default=ROOT / "benchmarks" / "proxy_schedules.yaml")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--per-family", type=int, default=2)
    ap.add_argument("--val", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--cache", type=Path, default=ROOT / "benchmarks" / "results" / "proxy_validity_runs.json"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "proxy_validity.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    schedules = yaml.safe_load(args.proxies.read_text())
    proxies, reference = schedules["proxies"], schedules["reference"]
    space = load_space("tiny")
    archs = pick_architectures(args.results, space, args.samples, args.per_family)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {p["train_images"] for p in [*proxies, reference]}
        data_dirs = {}
        for n in sorted(sizes):  # training images are a prefix of one stratified order
            data_dirs[n] = Path(tmp) / f"data{n}"
            prepare("animal_mnist", train_images=n, val_images=args.val, split_seed=0, outdir=data_dirs[n])
        jobs = [(a["arch"], reference, 0) for a in archs]
        jobs += [(a["arch"], p, s) for p in proxies for a in archs for s in (0, 1)]
        done = run(jobs, data_dirs, args.cache, args.workers, Path(tmp) / "trials")
    summary = summarise(archs, done, proxies, reference)
    doc = {
        "what": "proxy vs reference training: rank agreement over architectures spanning the default space's latency range",
        "machine": "2 shared cores, no GPU; two trainings at a time, 1 thread each",
        "data": {"source": "animal_mnist", "val_images": args.val, "split_seed": 0,
                 "note": "training images are a prefix of one stratified order; the same validation split scores all"},
        "architectures": archs, "reference_schedule": reference, "proxy_schedules": proxies,
        "seeds": {"proxy": [0, 1], "reference": [0]}, "summary": summary,
        "runs": [done[key(a["arch"], s, seed)] | {"predicted_ms": a["predicted_ms"], "name": a["name"]}
                 for a in archs for s, seeds in [(reference, (0,)), *[(p, (0, 1)) for p in proxies]] for seed in seeds],
        "wall_s_this_invocation": time.perf_counter() - started,
    }  # fmt: skip
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    proxy_validity_figure(args.out, args.out.with_suffix(".png"))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
