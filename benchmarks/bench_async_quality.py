"""Asynchronous against synchronous search on NAS-Bench-201: is search quality traded away? (issue 21)

The table, bands and seeds are ``bench_tabular.py``'s (CIFAR-10 test accuracy, Titan RTX batch-1
latency, 3 bands at the 10 / 25 / 50% latency quantiles, search seeds 0..19), the strategy the
default (``trust_region``, shared surrogate; GP restarts 0, as the recorded tables). Modes:

- ``sync``: rounds of 8 proposals per band (``search.batch: 8``), exactly as ``bench_tabular.run``;
- ``async-8`` and ``async-32``: 24 or 96 trainings in flight shared by the 3 bands (8 or 32 a
  band), through the workflow's own asynchronous proposal code
  (:func:`gpunas.search.asynchronous.choose_band` for the band, every band's initial design
  first, then :func:`~gpunas.search.asynchronous.propose_one`: every trial finished at that moment, in-flight
  ones as the constant liar), completions simulated: each training takes a time proportional to
  its row's latency (the cost model of a training) times a seeded log-normal factor (sigma 0.3),
  and a chain's next trial is proposed when its previous one ends.

Evaluations are counted in the order trainings finish. Per band and mode: the evaluations the
median best-so-far curve (over seeds) needs to reach random search's exact median best after 100
(``gpunas.search.baseline``), the same per seed (median and quartiles: the seed-to-seed noise),
and a paired test of async against sync per seed (Wilcoxon signed-rank on the evaluations each
seed needed; a seed that did not reach it within ``--n`` counts as ``n + 1``).

    python benchmarks/bench_async_quality.py [--seeds 20] [--n 48] [--workers 2]

Writes benchmarks/results/async_quality.json (runs cached in async_quality_runs.jsonl).
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import bench_tabular as tab
import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from gpunas.search.asynchronous import (
    TRIAL_COLUMNS,
    band_costs,
    choose_band,
    propose_one,
    trial_id,
    trials_per_chain,
)
from gpunas.search.baseline import random_search_best_quantile
from gpunas.search.propose import SearchConfig, encode_key

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench_async_quality")
BATCH = 8
# trainings in flight in all (the workflow's search.in_flight), shared by the 3 bands: 8 and 32 a band
MODES = {"sync": 0, "async-8": 24, "async-32": 96}
COLUMNS = TRIAL_COLUMNS


def run_async(job: dict) -> dict:
    """One asynchronous search (all bands) with simulated completions; curves in finish order."""
    space, ev, vectors, bands = tab._table_bands(job, job["seed"])
    cfg = SearchConfig.from_dict({"strategy": job["strategy"], "surrogate": "shared", **job["search"]})
    latency = np.asarray(ev.latency(space, vectors), dtype=float)
    scale = float(np.median(latency))
    rng = np.random.default_rng([job["seed"], 21])
    # the workflow's shape: in_flight chains shared by the bands, n trials per band in all
    chains = trials_per_chain(job["n"] * len(bands), job["in_flight"])
    budgets = np.full(len(bands), job["n"])
    costs = band_costs(bands, latency)
    started = np.zeros(len(bands), dtype=int)
    trials = pd.DataFrame(columns=COLUMNS)
    events: list[tuple[float, int, int, int, int]] = []
    curves: dict[str, list[float]] = {b["id"]: [] for b in bands}
    t0 = time.perf_counter()

    def start(clock: float, k: int, t: int) -> None:
        nonlocal trials
        b = choose_band(budgets, started, costs, init=cfg.init_rounds * BATCH)
        if b is None:
            return
        started[b] += 1
        row, _, info, _, _ = propose_one(space, vectors, bands[b], trials, k, t, BATCH, cfg, job["seed"])
        if row is None:
            return
        rec = {"id": trial_id(k, t), "subspace": bands[b]["id"], "chain": k, "trial": t,
               "sequence": len(trials), "encoding": encode_key(vectors[row]), "status": "pending",
               "accuracy": np.nan, "fit": info.get("surrogate")}  # fmt: skip
        trials = (
            pd.concat([trials, pd.DataFrame([rec])], ignore_index=True)
            if len(trials)
            else pd.DataFrame([rec])
        )
        duration = latency[row] / scale * rng.lognormal(0.0, 0.3)
        heapq.heappush(events, (clock + duration, b, k, t, row))

    for k in range(len(chains)):  # every slot starts at once
        start(0.0, k, 0)
    while events:
        clock, b, k, t, row = heapq.heappop(events)
        res = ev.evaluate(space, {"encoding": vectors[row].tolist()}, None)
        i = trials.index[trials["id"] == trial_id(k, t)][0]
        ok = res["status"] == "complete"
        trials.loc[i, ["status", "accuracy"]] = [res["status"], res["val_top1"] if ok else np.nan]
        curves[bands[b]["id"]].append(res["val_top1"] if ok else -np.inf)
        if t + 1 < chains[k]:
            start(clock, k, t + 1)
    return {
        **{k: job[k] for k in ("table", "mode", "seed")},
        "curves": {b: np.fmax.accumulate(c).tolist() for b, c in curves.items()},
        "seconds": time.perf_counter() - t0,
    }


def run(job: dict) -> dict:
    if job["mode"] == "sync":
        r = tab.run({**job, "strategy": "trust_region-shared", "batch": BATCH})
        return {
            **{k: job[k] for k in ("table", "mode", "seed")},
            "curves": r["curves"],
            "seconds": r["seconds"],
        }
    return run_async(job)


def evals_to(curve: list[float], target: float) -> int | None:
    hit = np.flatnonzero(np.asarray(curve) >= target)
    return int(hit[0] + 1) if len(hit) else None


def summarise(runs: list[dict], values: dict[str, np.ndarray], n: int) -> list[dict]:
    out = []
    for band, vals in values.items():
        target = random_search_best_quantile(vals, 100)
        row = {"band": band, "rows": len(vals), "random_exact_median_best_at_100": target}
        per_seed = {}
        for mode in MODES:
            c = np.array([r["curves"][band][:n] for r in runs if r["mode"] == mode])
            seeds = [evals_to(list(x), target) for x in c]
            per_seed[mode] = np.array([s if s is not None else n + 1 for s in seeds])
            q = np.percentile(per_seed[mode], [25, 50, 75])
            row[mode] = {
                "evals_to_random_exact_at_100": evals_to(list(np.median(c, axis=0)), target),
                "per_seed": seeds,
                "per_seed_quartiles": [float(v) for v in q],
                "seeds_reaching_within_n": int(sum(s is not None for s in seeds)),
                "median_best": {
                    str(k): float(np.median(c[:, k - 1])) for k in (8, 16, 32, n) if k <= c.shape[1]
                },
            }
        for mode in ("async-8", "async-32"):
            d = per_seed[mode] - per_seed["sync"]
            test = wilcoxon(per_seed[mode], per_seed["sync"]) if np.any(d != 0) else None
            row[f"{mode}_vs_sync"] = {
                "median_difference": float(np.median(d)),
                "wilcoxon_p": float(test.pvalue) if test is not None else 1.0,
                "method": "Wilcoxon signed-rank, paired by search seed (same Sobol order and bands)",
            }
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", default=str(ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--n", type=int, default=48, help="evaluations per band")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "async_quality.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)
    base = {"table": "whole", "csv": args.csv, "accuracy": "cifar10_test", "latency": "latency_ms_titan_rtx_1",
            "quantiles": [0.1, 0.25, 0.5], "strategy": "trust_region", "n": args.n,
            "search": {"init_rounds": 1, "restarts": 0}}  # fmt: skip
    jobs = [
        # async: the band rule with every band's initial design first (the runs before it are kept
        # in the cache under their own key)
        base | {"mode": m, "in_flight": f, "seed": s} | ({"band_rule": "initial_design_first"} if f else {})
        for m, f in MODES.items()
        for s in range(args.seeds)
    ]
    cache = args.out.with_name("async_quality_runs.jsonl")
    key = lambda j: json.dumps({k: v for k, v in j.items() if k != "csv"}, sort_keys=True)  # noqa: E731
    done = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            rec = json.loads(line)
            done[rec["key"]] = rec["run"]
    todo = [j for j in jobs if key(j) not in done]
    log.info("%d runs, %d to run", len(jobs), len(todo))
    with ProcessPoolExecutor(args.workers) as pool:
        for i, (j, r) in enumerate(zip(todo, pool.map(run, todo), strict=True), 1):
            with cache.open("a") as f:
                f.write(json.dumps({"key": key(j), "run": r}) + "\n")
            done[key(j)] = r
            log.info("%d/%d %s seed %d: %.0f s", i, len(todo), j["mode"], j["seed"], r["seconds"])
    runs = [done[key(j)] for j in jobs]
    values = tab.band_values(base)
    summary = summarise(runs, values, args.n)
    for row in summary:
        log.info("%s: %s", row["band"], {m: row[m]["evals_to_random_exact_at_100"] for m in MODES})
    doc = {
        "what": __doc__.splitlines()[0],
        "table": "NAS-Bench-201 whole, cifar10_test, latency_ms_titan_rtx_1",
        "strategy": "trust_region (shared surrogate)",
        "batch_sync": BATCH,
        "seeds": args.seeds,
        "evaluations_per_band": args.n,
        "duration_model": "row latency / median latency x lognormal(0, 0.3), seeded per search seed",
        "bands": summary,
        "seconds_median": {
            m: float(np.median([r["seconds"] for r in runs if r["mode"] == m])) for m in MODES
        },
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
