"""One proposal at the gpunet preset's scale: time and memory per proposal (issue 21, item 5).

The preset's space and sampling (2^20 Sobol samples of the gpunet space), one band of ~175k
members (a sixth of the samples, as the preset's 6 bands), a history of n trials (a sixth of them
the band's own; synthetic accuracies) and, for the asynchronous mode, 32 trials in flight told as
the constant liar; each case proposes one candidate with the preset's search settings through
:func:`gpunas.search.propose.propose_for_band`, the code both modes run. The asynchronous search
fits the GP's hyperparameters once per ``batch`` finished trials and conditions the latest fit on
the trials in between (:func:`gpunas.search.asynchronous.reusable_fit`): its case times both kinds
of proposal, ``refit_median_s`` and ``reuse_median_s``; ``median_s`` is the median proposal of a
cycle of ``batch`` (one refit, ``batch - 1`` reuses) and ``cycle_mean_s`` the mean, what the
proposer's throughput depends on. Per case: the median wall time of the repeats, the peak memory
the proposal allocates (tracemalloc, which sees NumPy's buffers) and the process's peak RSS (the
samples included). Target: <= 2 s and <= 1 GB per proposal, so that at 512 GPUs the proposer is
never the bottleneck.

    python benchmarks/bench_proposal_scale.py [--m 20] [--trials 100 400 1200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gpunas.search.asynchronous import liar_history
from gpunas.search.propose import SearchConfig, encode_key, propose_for_band
from gpunas.spaces import load_space
from gpunas.spaces.sampling import sobol_vectors

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench_proposal_scale")
BANDS = 6


def history(
    vectors: np.ndarray, members: np.ndarray, others: np.ndarray, n: int, pending: int, rng
) -> pd.DataFrame:
    """n finished trials (a sixth from the band's members) and ``pending`` in flight in the band."""
    own = rng.choice(members, size=n // BANDS + pending, replace=False)
    rest = rng.choice(others, size=n - n // BANDS, replace=False)
    rows = np.concatenate([own[: n // BANDS], rest, own[n // BANDS :]])
    x = vectors[rows].astype(float)
    acc = 60 + 20 * np.tanh((x - x.mean(0)) @ rng.normal(size=x.shape[1]) / 10)
    trials = pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(len(rows))],
            "subspace": ["s0"] * (n // BANDS) + ["s1"] * (n - n // BANDS) + ["s0"] * pending,
            "encoding": [encode_key(v) for v in vectors[rows]],
            "status": ["complete"] * n + ["pending"] * pending,
            "accuracy": np.concatenate([acc[:n], np.full(pending, np.nan)]),
        }
    )
    return liar_history(trials)[0]


def timed(
    space, vectors, members, hist, cfg, seed: int, reuse: dict | None = None
) -> tuple[float, float, str, dict]:
    """One proposal: (seconds, peak MB allocated, what proposed, its info)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    _, proposer, info = propose_for_band(
        space, vectors, members, hist, "s0", round_=5, batch=1, cfg=cfg, seed=seed, hyperparameters=reuse
    )
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, proposer, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--trials", type=int, nargs="+", default=[100, 400, 1200])
    ap.add_argument("--strategies", nargs="+", default=["trust_region", "bo"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "proposal_scale.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    preset = yaml.safe_load((ROOT / "config" / "presets" / "gpunet.yaml").read_text())["search"]
    space = load_space("gpunet")
    t0 = time.perf_counter()
    vectors = sobol_vectors(space, m=args.m, seed=0)
    sampling_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    order = rng.permutation(len(vectors))
    members = np.sort(order[: len(vectors) // BANDS])
    others = order[len(vectors) // BANDS :]
    log.info("%d samples (%.1f s), band of %d", len(vectors), sampling_s, len(members))
    records = []
    for strategy in args.strategies:
        cfg = SearchConfig.from_dict(
            {k: v for k, v in preset.items() if k not in ("rounds", "mode", "in_flight")}
            | {"strategy": strategy}
        )
        for n in args.trials:
            for mode, pending in (("sync", 0), ("async", 32)):
                hist = history(vectors, members, others, n, pending, rng)

                runs = [timed(space, vectors, members, hist, cfg, r) for r in range(args.repeats)]
                refit = statistics.median(r[0] for r in runs)
                rec = {"strategy": strategy, "mode": mode, "trials": n, "pending": pending,
                       "band_members": len(members), "proposer": runs[0][2]}  # fmt: skip
                if mode == "async":  # between refits: the latest fit's hyperparameters reused
                    fit = runs[0][3]["surrogate"]
                    reused = [timed(space, vectors, members, hist, cfg, r, fit) for r in range(args.repeats)]
                    if any(r[3]["surrogate"]["refit"] for r in reused):
                        raise SystemExit("a proposal given a fit to reuse refitted instead")
                    reuse = statistics.median(r[0] for r in reused)
                    cycle = [refit] + [reuse] * (preset["batch"] - 1)
                    rec |= {"refit_median_s": round(refit, 3), "reuse_median_s": round(reuse, 3),
                            "median_s": round(statistics.median(cycle), 3),
                            "cycle_mean_s": round(statistics.mean(cycle), 3)}  # fmt: skip
                    runs += reused
                else:
                    rec["median_s"] = round(refit, 3)
                rec |= {
                    "max_s": round(max(r[0] for r in runs), 3),
                    "peak_alloc_mb": round(max(r[1] for r in runs), 1),
                    "trust_region": runs[0][3].get("trust_region"),
                    "scored": runs[0][3].get("scored"),
                }
                records.append(rec)
                log.info("%s", rec)
    doc = {
        "what": __doc__.splitlines()[0],
        "machine": f"{platform.processor() or platform.machine()}, 2 cores",
        "samples": len(vectors),
        "sampling_s": round(sampling_s, 1),
        "search": {
            k: preset.get(k) for k in ("pool", "trust_fraction", "max_fit_points", "restarts", "batch")
        },
        "repeats": args.repeats,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target": {"seconds": 2.0, "memory_mb": 1024},
        "records": records,
    }
    args.out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
