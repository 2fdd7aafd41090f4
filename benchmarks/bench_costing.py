"""Sampling + costing throughput: 2^m Sobol candidates of a space, mapped, keyed and costed.

The LUT here is synthetic (latency proportional to a key's MACs) because only the speed of the
vectorised lookup is measured, not the latency values. Writes results/costing.json.

    python benchmarks/bench_costing.py [--space gpunet] [--m 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
from scipy.stats import qmc

from gpunas.latency.estimate import lut_sums
from gpunas.latency.keys import keys_for_vectors
from gpunas.latency.lut import keys_frame
from gpunas.spaces import load_space
from gpunas.spaces.sampling import unit_to_vectors

log = logging.getLogger("bench_costing")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="gpunet")
    p.add_argument("--m", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "costing.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    space = load_space(args.space)
    times: dict[str, list[float]] = {"sobol": [], "map": [], "enumerate_keys": [], "cost": []}
    for r in range(args.repeats):
        t0 = time.perf_counter()
        unit = qmc.Sobol(d=space.dim, scramble=True, seed=0).random_base2(args.m)
        t1 = time.perf_counter()
        vectors = unit_to_vectors(space, unit)
        t2 = time.perf_counter()
        codes = keys_for_vectors(space, vectors, 1000)
        t3 = time.perf_counter()
        if r == 0:  # same seed every repeat: one LUT covers all
            lut = keys_frame(codes, 1, "fp32")
            lut["latency_ms"] = 1e-9 * (
                lut["cin"] * lut["cout"] * lut["kernel"] ** 2 * lut["hw"] ** 2
            ).astype(float)
        t4 = time.perf_counter()
        total, _ = lut_sums(space, vectors, lut, 1000)
        t5 = time.perf_counter()
        for name, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t5 - t4), strict=True):
            times[name].append(dt)
        log.info(
            "repeat %d: sobol %.2fs map %.2fs keys %.2fs cost %.2fs", r, t1 - t0, t2 - t1, t3 - t2, t5 - t4
        )
    med = {k: float(np.median(v)) for k, v in times.items()}
    result = {
        "space": space.name,
        "candidates": 2**args.m,
        "distinct_keys": len(lut),
        "median_s": med,
        "sample_and_cost_s": med["sobol"] + med["map"] + med["cost"],
        "candidates_per_s_costing": 2**args.m / med["cost"],
        "repeats": args.repeats,
        "machine": f"{platform.processor() or platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "note": "synthetic LUT (latency ~ MACs): measures lookup speed only",
        "check_total_finite": bool(np.isfinite(total).all()),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    log.info(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
