"""Peak memory of one training at two dataset sizes, 4x apart: it must not grow with the images.

Two datasets of random 96 x 96 RGB images (10 classes; N and 4N training images) are prepared as
the workflow prepares data (``gpunas.datasets.prepared.prepare``: uint8 arrays on disk), then one
tiny-space candidate is trained on each for one epoch as a real training job (the child process
of ``gpunas.training.trial``, as the workflow runs it). The child's peak resident memory (its own
``ru_maxrss``, per epoch) is recorded for both, with their ratio. For scale, the float32 copy of
the training split at the candidate's resolution that the previous loader held is computed.

    python benchmarks/bench_memory.py            # -> benchmarks/results/memory.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from gpunas.datasets.prepared import prepare
from gpunas.spaces import load_space
from gpunas.training.trial import TrainingJob, run_training_job

ROOT = Path(__file__).resolve().parents[1]


def make_npz(path: Path, n: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    np.savez(path, images=images, labels=np.arange(n) % 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--train", type=int, default=2000, help="training images of the small dataset (x4 for the large)"
    )
    ap.add_argument("--size", type=int, default=96, help="image side in pixels")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "memory.json")
    args = ap.parse_args()
    space = load_space("tiny")
    vector = [1] * space.dim
    vector[space.field_index("resolution")] = space.sizes[space.field_index("resolution")] - 1  # 64 px
    arch = space.decode(vector)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for factor in (1, 4):
            n = args.train * factor
            src = Path(tmp) / f"data{factor}.npz"
            make_npz(src, n + 500, args.size, seed=factor)
            prepared = Path(tmp) / f"prepared{factor}"
            prepare(str(src), train_images=n, val_images=500, outdir=prepared)
            job = TrainingJob(
                arch=arch.to_string(), data={"dir": str(prepared)},
                train={"epochs": 1, "batch_size": 64, "device": "cpu"}, seed=0, threads=1,
                outdir=Path(tmp) / f"trial{factor}", reuse=False, mem_mb=20000,
            )  # fmt: skip
            started = time.perf_counter()
            result = run_training_job(job)
            if result["status"] != "complete":
                raise RuntimeError(f"training failed: {result.get('reason')}")
            (epoch,) = result["throughput"]
            rows.append({
                "train_images": n, "dataset_mb": round(n * 3 * args.size**2 / 2**20, 1),
                "peak_rss_mb": round(epoch["peak_rss_mb"], 1), "images_per_s": round(epoch["images_per_s"], 1),
                "wall_s": round(time.perf_counter() - started, 1),
                "previous_loader_float32_split_mb": round(n * 3 * arch.resolution**2 * 4 / 2**20, 1),
            })  # fmt: skip
            print(rows[-1], flush=True)
    small, large = rows
    doc = {
        "what": "peak resident memory of one training job's process at two dataset sizes 4x apart",
        "machine": f"{platform.processor() or platform.machine()}, 2 shared cores, no GPU",
        "arch": arch.to_string(), "resolution": arch.resolution, "image_size": args.size,
        "schedule": "1 epoch, batch 64, CPU float32, 1 thread, train.workers 0",
        "runs": rows,
        "peak_rss_ratio_large_over_small": round(large["peak_rss_mb"] / small["peak_rss_mb"], 3),
        "target": "ratio <= 1.2 (issue #12)",
        "note": "one run per size; previous_loader_float32_split_mb is computed (the float32 copy of the "
                "training split at the candidate's resolution the loader held before), not measured",
    }  # fmt: skip
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: doc[k] for k in ("peak_rss_ratio_large_over_small", "target")}))


if __name__ == "__main__":
    main()
