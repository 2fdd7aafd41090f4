"""Profiling throughput (layer keys per minute) of every backend available here.

Uses the LUT's real protocol (5 interleaved repeats, warm-up 5, 20 timed runs) on keys drawn from
the tiny space and from the GPUNet space. Backends that cannot run here are listed with the
reason. Writes results/profiling.json.

    python benchmarks/bench_profiling.py [--keys 200] [--gpunet-keys 30]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from gpunas.latency.backends import BackendUnavailableError, create_backend
from gpunas.latency.keys import LayerKey, keys_for_vectors
from gpunas.latency.protocol import Protocol, measure
from gpunas.spaces import load_space
from gpunas.spaces.sampling import sobol_vectors

log = logging.getLogger("bench_profiling")
BACKENDS = [
    ("onnxruntime", "cpu", "fp32"),
    ("torch", "cpu", "fp32"),
    ("onnxruntime", "cuda", "fp32"),
    ("torch", "cuda", "fp16"),
    ("tensorrt", "cuda", "fp16"),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=200, help="tiny-space keys per backend")
    p.add_argument("--gpunet-keys", type=int, default=30, help="GPUNet-space keys per backend (heavy on CPU)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "profiling.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(0)
    key_sets = {}
    for name in ("tiny", "gpunet"):
        space = load_space(name)
        codes = keys_for_vectors(space, sobol_vectors(space, m=8, seed=0), 1000 if name == "gpunet" else 10)
        count = args.gpunet_keys if name == "gpunet" else args.keys
        key_sets[name] = [LayerKey.from_code(int(c)) for c in rng.choice(codes, count, replace=False)]
    rows = []
    for backend_name, device, precision in BACKENDS:
        backend = create_backend(backend_name, device=device, precision=precision, threads=1)
        try:
            backend.check()
            hardware = backend.hardware()
        except BackendUnavailableError as exc:
            rows.append({"backend": backend_name, "device": device, "available": False, "reason": str(exc)})
            log.info("%s/%s: skipped (%s)", backend_name, device, exc)
            continue
        for space_name, keys in key_sets.items():
            t0 = time.perf_counter()
            stats = measure(keys, backend.layer, Protocol())
            dt = time.perf_counter() - t0
            rows.append(
                {
                    "backend": backend_name,
                    "device": device,
                    "precision": precision,
                    "hardware": hardware,
                    "available": True,
                    "space": space_name,
                    "keys": len(keys),
                    "seconds": dt,
                    "keys_per_minute": len(keys) / dt * 60,
                    "median_layer_ms": float(stats["latency_ms"].median()),
                    "median_cv": float(stats["cv"].median()),
                }
            )
            log.info("%s/%s %s: %.0f keys/min", backend_name, device, space_name, len(keys) / dt * 60)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
