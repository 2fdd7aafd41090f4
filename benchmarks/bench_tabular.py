"""BO vs random search on NAS-Bench-201 as a lookup table (evaluator: table), same search code.

For latency budgets at quantiles of one device column, each strategy gets n = 10..100
evaluations (rounds of `batch` proposals, the first `init_rounds` Sobol points of the band) for
each of `seeds` seeds; the best in-budget accuracy after n evaluations is recorded, and the
median over seeds compared. Writes results/tabular.json and results/tabular.png.

    python benchmarks/bench_tabular.py [--csv ../shared/data/nasbench201_hw.csv] [--seeds 20]
"""

from __future__ import annotations

import argparse
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gpunas.evaluators.table import Table as TableEvaluator
from gpunas.search.propose import SearchConfig, categorical_fields, encode_key, propose
from gpunas.spaces import load_space
from gpunas.spaces.sampling import sobol_vectors

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench_tabular")


def pool_order(ev: TableEvaluator, seed: int) -> np.ndarray:
    """Table rows in scrambled-Sobol order for ``seed`` (rows Sobol never hits come last)."""
    rows = ev.rows_for(sobol_vectors(ev.space, m=14, seed=seed))
    _, first = np.unique(rows, return_index=True)
    seen = rows[np.sort(first)]
    rest = np.setdiff1d(np.arange(len(ev.vectors)), seen)
    return np.concatenate([seen, np.random.default_rng(seed).permutation(rest)])


def run(args: tuple) -> dict:
    csv, column, acc_col, budget, strategy, seed, n_max, batch, init_rounds, restarts = args
    space = load_space("nasbench201")
    ev = TableEvaluator.from_csv(csv, space, "cellstr", acc_col, column)
    order = pool_order(ev, seed)
    pool = order[ev.latency[order] < budget]
    cfg = SearchConfig.from_dict(
        {"strategy": strategy, "init_rounds": init_rounds, "pool": 4096, "restarts": restarts}
    )
    keys: list[str] = []
    accs: list[float] = []
    for r in range(n_max // batch):
        picks, _ = propose(ev.vectors[pool], space.sizes, keys, np.array(accs), np.ones(len(accs), bool),
                           n=batch, round_=r, cfg=cfg, seed=seed, categorical=categorical_fields(space))  # fmt: skip
        for p in picks:
            keys.append(encode_key(ev.vectors[pool[p]]))
            accs.append(float(ev.accuracy[pool[p]]))
    return {"budget": budget, "strategy": strategy, "seed": seed, "best": np.maximum.accumulate(accs).tolist(),
            "in_budget_best": float(ev.accuracy[pool].max()), "pool": len(pool)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", default=str(ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"))
    p.add_argument("--device", default="titan_rtx_1", help="latency column suffix")
    p.add_argument("--accuracy", default="cifar10_test")
    p.add_argument("--quantiles", default="0.1,0.25,0.5")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--batch", type=int, default=5)
    p.add_argument("--init-rounds", type=int, default=2)
    p.add_argument("--restarts", type=int, default=0, help="GP optimiser restarts (search.restarts)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tabular.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    column = f"latency_ms_{args.device}"
    ev = TableEvaluator.from_csv(args.csv, load_space("nasbench201"), "cellstr", args.accuracy, column)
    budgets = [float(np.quantile(ev.latency, float(q))) for q in args.quantiles.split(",")]
    jobs = [(args.csv, column, args.accuracy, b, s, seed, args.n, args.batch, args.init_rounds, args.restarts)
            for b in budgets for s in ("bo", "random") for seed in range(args.seeds)]  # fmt: skip
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(run, jobs))
    ns = list(range(10, args.n + 1, 10))
    summary = []
    for b in budgets:
        row = {"budget_ms": b}
        for s in ("bo", "random"):
            curves = np.array([r["best"] for r in runs if r["budget"] == b and r["strategy"] == s])
            row[s] = {str(n): float(np.median(curves[:, n - 1])) for n in ns}
        row["in_budget_best"] = next(r["in_budget_best"] for r in runs if r["budget"] == b)
        row["pool"] = next(r["pool"] for r in runs if r["budget"] == b)
        target = row["random"][str(args.n)]
        bo_curve = np.median(
            np.array([r["best"] for r in runs if r["budget"] == b and r["strategy"] == "bo"]), axis=0
        )
        hit = np.flatnonzero(bo_curve >= target)
        row["bo_evals_to_match_random_at_n"] = int(hit[0] + 1) if len(hit) else None
        row["bo_above_random_at_50"] = row["bo"]["50"] > row["random"]["50"]
        summary.append(row)
        log.info("budget %.3f ms (pool %d, best %.2f): n=50 bo %.2f random %.2f; bo matches random@%d after %s",
                 b, row["pool"], row["in_budget_best"], row["bo"]["50"], row["random"]["50"], args.n,
                 row["bo_evals_to_match_random_at_n"])  # fmt: skip
    result = {"csv": Path(args.csv).name, "device": args.device, "accuracy": args.accuracy, "seeds": args.seeds,
              "batch": args.batch, "init_rounds": args.init_rounds, "restarts": args.restarts, "statistic": "median over seeds of the best "
              "in-budget accuracy after n evaluations", "budgets": summary}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    plot(summary, ns, Path(args.out).with_suffix(".png"), args)


def plot(summary: list[dict], ns: list[int], path: Path, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(4.2 * len(summary), 3.8), squeeze=False)
    for ax, row in zip(axes[0], summary, strict=True):
        for s, color in (("bo", "#4c72b0"), ("random", "#dd8452")):
            ax.plot(ns, [row[s][str(n)] for n in ns], marker="o", color=color, label=s)
        ax.axhline(row["in_budget_best"], color="grey", linestyle=":", label="best in budget")
        ax.set_title(f"latency < {row['budget_ms']:.2f} ms ({row['pool']} cells)", fontsize=9)
        ax.set_xlabel("evaluations")
        ax.set_ylabel(f"median best {args.accuracy} (%)")
        ax.legend(fontsize=8)
    fig.suptitle(f"NAS-Bench-201, {args.device}: BO vs random, {args.seeds} seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
