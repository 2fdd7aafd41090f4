"""Search strategies on NAS-Bench-201 as a lookup table, through the workflow's own search code.

Each run does what the workflow does with ``evaluator: table``: the candidates are the table's
rows in Sobol order (``TableEvaluator.candidates``, as ``sample_sobol``), bands are cut at latency
quantiles of those rows (``partition``, as ``partition_subspaces``), and every round each band
gets ``batch`` proposals from ``propose_for_band`` (as ``propose_candidates``) learning from the
trials before that round, scored by ``TableEvaluator.evaluate`` (as ``train_candidate``).

Tables: the whole CSV (15,625 cells), and a sparse table: a seeded 25% subset of its rows written
as a CSV (bands cut on those rows). Strategies: random; BO per band; BO with one surrogate shared
by all bands; trust-region BO (shared). For each band: median over seeds of the best accuracy
after n evaluations of that band, evaluations the median curve needs to reach random search's
median best after 100, and how often the band's best row is found within n. Random search's median
is given twice: from the simulated random runs (20 seeds: an estimate) and exactly, from the
band's rows (``gpunas.search.baseline``: the best of n uniform draws without replacement).

    python benchmarks/bench_tabular.py [--seeds 20] [--workers 2]

Writes benchmarks/results/tabular.json and tabular.png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from gpunas.evaluators import create_evaluator
from gpunas.latency.partition import partition
from gpunas.report.pages import strategy_figure
from gpunas.search.baseline import random_search_best_quantile
from gpunas.search.propose import SearchConfig, encode_key, propose_for_band
from gpunas.spaces import load_space

ROOT = Path(__file__).resolve().parents[1]
# the surrogate's features: a new value here keys new runs of the GP strategies (random's stay);
# "op-counts" added the cell's operation counts to the one-hot edges (issue #14)
MODEL = "op-counts"
log = logging.getLogger("bench_tabular")
STRATEGIES = {
    "random": {"strategy": "random"},
    "bo-band": {"strategy": "bo", "surrogate": "band"},
    "bo-shared": {"strategy": "bo", "surrogate": "shared"},
    "trust_region-shared": {"strategy": "trust_region", "surrogate": "shared"},
}


def run(job: dict) -> dict:
    """One search (all bands) of one strategy and seed; best-so-far curve per band."""
    space, ev, vectors, bands = _table_bands(job, job["seed"])
    cfg = SearchConfig.from_dict({**STRATEGIES[job["strategy"]], **job["search"]})
    hist = pd.DataFrame(columns=["subspace", "encoding", "accuracy", "status"])
    t0 = time.perf_counter()
    for r in range(job["n"] // job["batch"]):
        new = []
        for band in bands:
            rows, _, _ = propose_for_band(space, vectors, np.array(band["members"]), hist, band["id"], round_=r,
                                          batch=job["batch"], cfg=cfg, seed=job["seed"])  # fmt: skip
            for row in rows:
                res = ev.evaluate(space, {"encoding": vectors[row].tolist()}, None)
                new.append({"subspace": band["id"], "encoding": encode_key(vectors[row]),
                            "accuracy": res["val_top1"] if res["status"] == "complete" else np.nan,
                            "status": res["status"]})  # fmt: skip
        hist = pd.concat([hist, pd.DataFrame(new)], ignore_index=True) if len(hist) else pd.DataFrame(new)
    curves = {}
    for band in bands:
        acc = hist.loc[hist["subspace"] == band["id"], "accuracy"].to_numpy(dtype=float)
        curves[band["id"]] = np.fmax.accumulate(np.nan_to_num(acc, nan=-np.inf)).tolist()
    best = {b["id"]: float(np.nanmax(ev.table(space).accuracy[ev.table(space).rows_for(vectors[b["members"]])]))
            for b in bands}  # fmt: skip
    return {**{k: job[k] for k in ("table", "strategy", "seed")}, "curves": curves, "band_best": best,
            "bands": {b["id"]: [b["lo_ms"], b["hi_ms"], b["count"]] for b in bands},
            "seconds": time.perf_counter() - t0}  # fmt: skip


def _key(job: dict) -> str:
    """A run's identity: everything that changes its result (the sparse table by its content, the
    GP strategies' runs by ``MODEL``)."""
    ident = {k: v for k, v in job.items() if k != "csv"}
    if job["strategy"] != "random":
        ident["model"] = MODEL
    ident["rows"] = hashlib.sha256(Path(job["csv"]).read_bytes()).hexdigest()[:16]
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def _truncate(run_: dict, n: int) -> dict:
    """The first ``n`` evaluations per band of a longer run: a round's proposals depend only on the
    rounds before it (streams from (seed, band, round)), so the prefix is the shorter run."""
    return {
        **run_,
        "curves": {b: c[:n] for b, c in run_["curves"].items()},
        "truncated_from": len(next(iter(run_["curves"].values()))),
    }


def _table_bands(job: dict, seed: int) -> tuple:
    """(space, evaluator, candidate vectors in the seed's Sobol order, bands) of a job's table, as
    the workflow's sample_sobol and partition_subspaces make them."""
    space = load_space("nasbench201")
    ev = create_evaluator({"type": "table", "csv": job["csv"], "key": "cellstr", "accuracy": job["accuracy"],
                           "latency": job["latency"]})  # fmt: skip
    vectors = ev.candidates(space, m=16, seed=seed)
    bands = partition(ev.latency(space, vectors), {"kind": "quantiles", "budgets": job["quantiles"]})
    return space, ev, vectors, bands["subspaces"]


def band_values(job: dict) -> dict[str, np.ndarray]:
    """Accuracy of every row of each band, cut as ``run`` cuts them (membership does not depend
    on the seed, only the Sobol order does)."""
    space, ev, vectors, bands = _table_bands(job, 0)
    table = ev.table(space)
    return {b["id"]: table.accuracy[table.rows_for(vectors[b["members"]])] for b in bands}


def summarise(runs: list[dict], n: int, values: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """Per table and band: each strategy's median curve against random search's best, both as the
    median of the simulated random runs and exactly (``gpunas.search.baseline``, from ``values``:
    table -> band -> accuracy of every row)."""
    out = []
    for table in dict.fromkeys(r["table"] for r in runs):
        first = next(r for r in runs if r["table"] == table)
        for band, (lo, hi, count) in first["bands"].items():
            curves = {s: np.array([r["curves"][band] for r in runs if r["table"] == table and r["strategy"] == s])
                      for s in STRATEGIES if any(r["strategy"] == s and r["table"] == table for r in runs)}  # fmt: skip
            target = float(np.median(curves["random"][:, n - 1]))  # random runs all n evaluations
            exact = {str(k): random_search_best_quantile(values[table][band], k) for k in (25, 50, n)}
            row = {"table": table, "band": band, "lo_ms": lo, "hi_ms": hi, "rows": count,
                   "band_best": first["band_best"][band], "random_median_best_at_100": target,
                   "random_exact_median_best": exact}  # fmt: skip
            for s, c in curves.items():
                med = np.median(c, axis=0)
                hit = np.flatnonzero(med >= target)
                hit_exact = np.flatnonzero(med >= exact[str(n)])
                row[s] = {
                    "evaluations": int(c.shape[1]),
                    "median_best": {str(k): float(med[k - 1]) for k in (10, 25, 50, 75, 100) if k <= c.shape[1]},
                    # None: not reached within this strategy's evaluations
                    "evals_to_random_best_at_100": int(hit[0] + 1) if len(hit) else None,
                    "evals_to_random_exact_at_100": int(hit_exact[0] + 1) if len(hit_exact) else None,
                    "seeds_reaching_random_exact_at_100_by_25": float(np.mean(c[:, 24] >= exact[str(n)])),
                    "above_random_exact_at_50": bool(med[49] > exact["50"]) if c.shape[1] >= 50 else None,
                    "found_band_best": float(np.mean(c[:, -1] >= first["band_best"][band])),
                    "seconds_median": float(np.median([r["seconds"] for r in runs
                                                        if r["table"] == table and r["strategy"] == s])),
                    "curve": med.tolist(),
                }  # fmt: skip
            out.append(row)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", default=str(ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"))
    p.add_argument("--device", default="titan_rtx_1", help="latency column suffix")
    p.add_argument("--accuracy", default="cifar10_test")
    p.add_argument("--quantiles", default="0.1,0.25,0.5", help="band edges: latency quantiles of the rows")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--n", type=int, default=100, help="evaluations per band")
    p.add_argument("--n-search", type=int, default=0,
                   help="evaluations per band for the non-random strategies (default: --n); the acceptance "
                        "figures (reaching random's best after 100 within 25, best after 50) need 50")  # fmt: skip
    p.add_argument("--batch", type=int, default=5)
    p.add_argument("--init-rounds", type=int, default=1)
    p.add_argument("--restarts", type=int, default=2, help="GP optimiser restarts (search.restarts)")
    p.add_argument("--trust-fraction", type=float, default=SearchConfig.trust_fraction,
                   help="search.trust_fraction of the trust-region runs")  # fmt: skip
    p.add_argument("--sparse", type=float, default=0.25, help="share of rows in the sparse table")
    p.add_argument("--sparse-seed", type=int, default=0)
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--tables", default="whole,sparse", help="whole, sparse or both")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tabular.json"))
    p.add_argument(
        "--cache",
        default=str(ROOT / "benchmarks" / "results" / "tabular_runs.jsonl"),
        help="finished runs (a rerun skips them; delete it after changing the search code)",
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(args.csv).read_text().splitlines(keepends=True)
        keep = np.sort(
            np.random.default_rng(args.sparse_seed).choice(
                len(lines) - 1, int(args.sparse * (len(lines) - 1)), replace=False
            )
        )
        sparse = Path(tmp) / f"nasbench201_sparse{int(100 * args.sparse)}.csv"
        sparse.write_text(lines[0] + "".join(lines[1 + i] for i in keep))
        tables = {"whole": args.csv, f"sparse {int(100 * args.sparse)}%": str(sparse)}
        tables = {t: c for t, c in tables.items() if t.split()[0] in args.tables.split(",")}
        search = {"init_rounds": args.init_rounds, "restarts": args.restarts}
        n_of = {s: args.n if s == "random" else (args.n_search or args.n) for s in STRATEGIES}
        # a trust region of another size than the default is part of its runs' identity (cached runs are
        # not reused); runs at the default keep the identity they had before the option existed
        tf = (
            {"trust_fraction": args.trust_fraction}
            if args.trust_fraction != SearchConfig.trust_fraction
            else {}
        )
        search_of = {s: search | (tf if s.startswith("trust_region") else {}) for s in STRATEGIES}
        jobs = [{"table": t, "csv": csv, "strategy": s, "seed": seed, "n": n_of[s], "batch": args.batch,
                 "quantiles": [float(q) for q in args.quantiles.split(",")], "search": search_of[s],
                 "accuracy": args.accuracy, "latency": f"latency_ms_{args.device}"}
                for t, csv in tables.items() for s in args.strategies.split(",") for seed in range(args.seeds)]  # fmt: skip
        cache = Path(args.cache)
        done = {}
        if cache.exists():
            for line in cache.read_text().splitlines():
                rec = json.loads(line)
                done[rec["key"]] = rec["run"]
        keyed = {_key(j): j for j in jobs}
        for k, j in keyed.items():  # a longer cached run of the same search holds this one's prefix
            longer = _key({**j, "n": args.n})
            if k not in done and longer in done:
                done[k] = _truncate(done[longer], j["n"])
        todo = [j for k, j in keyed.items() if k not in done]
        log.info("%d runs, %d cached in %s, %d to run", len(jobs), len(jobs) - len(todo), cache, len(todo))
        with ProcessPoolExecutor(args.workers) as pool:
            for i, (j, r) in enumerate(zip(todo, pool.map(run, todo), strict=True), 1):
                with cache.open("a") as f:
                    f.write(json.dumps({"key": _key(j), "run": r}) + "\n")
                done[_key(j)] = r
                log.info("%d/%d %s %s seed %d: %.0f s, best %s", i, len(todo), r["table"], r["strategy"], r["seed"],
                         r["seconds"], {b: round(c[-1], 2) for b, c in r["curves"].items()})  # fmt: skip
        runs = [done[k] for k in keyed]
        values = {t: band_values(next(j for j in jobs if j["table"] == t)) for t in tables}
    summary = summarise(runs, args.n, values)
    for row in summary:
        log.info("%s %s (%d rows, best %.2f): random@100 %.2f (exact %s); %s", row["table"], row["band"],
                 row["rows"], row["band_best"], row["random_median_best_at_100"], row["random_exact_median_best"],
                 "; ".join(f"{s} @25 {row[s]['median_best']['25']:.2f} @50 {row[s]['median_best']['50']:.2f} "
                           f"reaches in {row[s]['evals_to_random_best_at_100']} "
                           f"(exact {row[s]['evals_to_random_exact_at_100']})" for s in STRATEGIES if s in row))  # fmt: skip
    result = {"csv": Path(args.csv).name, "device": args.device, "accuracy": args.accuracy, "seeds": args.seeds,
              "search_seeds": list(range(args.seeds)), "sparse_seed": args.sparse_seed, "batch": args.batch,
              "init_rounds": args.init_rounds, "restarts": args.restarts, "quantiles": args.quantiles,
              "trust_fraction": args.trust_fraction, "model": MODEL,
              "evaluations_per_band": args.n, "evaluations_per_band_search": args.n_search or args.n,
              "statistic": "per band: median over seeds of the best accuracy after n evaluations of that band",
              "random_exact": "random search's median best after n computed from the band's rows "
                              "(hypergeometric, gpunas.search.baseline), beside the median of the simulated runs",
              "strategies": STRATEGIES, "bands": summary}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    strategy_figure(args.out, Path(args.out).with_suffix(".png"))


if __name__ == "__main__":
    main()
