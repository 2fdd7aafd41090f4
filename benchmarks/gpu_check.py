"""The workflow's GPU path, end to end, on one CUDA GPU (called by gpu_check.sh; under ~5 minutes):
a torch-CUDA LUT (fp16, CUDA graphs) of the tiny space's sampled keys, fidelity of whole networks,
two trainings on the GPU (AMP), and validate_hub with PyTorch CUDA (TensorRT when installed).

Writes benchmarks/results/gpu_check.json: the GPU, versions, the GPU tests' outcome, profiling
throughput, fidelity before/after correction, training throughput and peak GPU memory, validation
error per hub model, and wall times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "envs", "report"]
CONFIG = {
    "sampling": {"m": 8},
    "latency": {"backend": "torch", "device": "cuda", "hardware": "auto", "precision": "fp16", "batch": 1,
                "threads": 1, "keys": "samples", "shards": 1, "runtime": 10,
                "protocol": {"repeats": 5, "warmup": 10, "runs": 50, "chunk": 256}, "options": {"cuda_graphs": True}},
    "subspaces": {"kind": "quantiles", "budgets": [0.5, 1.0]},
    "fidelity": {"per_subspace": 12, "runtime": 10, "protocol": {"repeats": 7, "warmup": 20, "runs": 100}},
    "data": {"source": "animal_mnist", "train_images": 3000, "val_images": 1000, "test_images": 1000},
    "train": {"epochs": 2, "batch_size": 128, "device": "cuda", "workers": 2, "threads": 4, "gpu": 1, "retries": 0,
              "runtime": 10, "mem_mb": 16000},
    "search": {"strategy": "bo", "rounds": 1, "batch": 1, "init_rounds": 1},
    "baselines": {"enabled": False, "families": ["resnet"], "phis": [0]},
    "validation": {"backend": "auto", "runtime": 10},
}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pytest-log", type=Path)
    ap.add_argument("--pytest-status", type=int)
    ap.add_argument("--budget-s", type=int, default=330, help="timeout of the workflow run")
    args = ap.parse_args()
    doc: dict = {
        "gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "date": time.strftime("%Y-%m-%d"), "config": CONFIG,
    }  # fmt: skip
    if args.pytest_log and args.pytest_log.exists():
        tail = args.pytest_log.read_text().strip().splitlines()
        doc["gpu_tests"] = {"exit_status": args.pytest_status, "summary": tail[-1] if tail else "",
                            "skipped": [ln for ln in tail if ln.startswith("SKIPPED")]}  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="gpunas-gpu-"))
    for part in PARTS:
        (shutil.copytree if (ROOT / part).is_dir() else shutil.copy2)(ROOT / part, work / part)
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg.update(CONFIG)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "8"], cwd=work, capture_output=True,
                          text=True, timeout=args.budget_s)  # fmt: skip
    doc["workflow"] = {"exit_status": proc.returncode, "wall_s": round(time.monotonic() - started, 1)}
    res = work / "results"
    if proc.returncode != 0:
        doc["workflow"]["stderr_tail"] = proc.stderr[-3000:]
    bench = res / "benchmarks"
    if shards := sorted(bench.glob("profile_layers/*/*.tsv")):
        (slug,) = {p.parent.name for p in shards}
        keys = len(pd.read_parquet(res / f"lut/{slug}/lut.parquet"))
        seconds = sum(pd.read_csv(p, sep="\t")["s"].iloc[0] for p in shards)
        doc["profiling"] = {"slug": slug, "keys": keys, "seconds": round(seconds, 1),
                            "keys_per_minute": round(keys / seconds * 60, 1)}  # fmt: skip
        fid = json.loads((res / f"lut/{slug}/fidelity.json").read_text())
        doc["fidelity"] = {k: fid[k] for k in ("networks", "before", "after", "correction") if k in fid}
    trials = []
    for m in sorted(res.glob("search/*/r*/s*/metrics.json")):
        t = json.loads(m.read_text())
        trials.append({k: t.get(k) for k in ("subspace", "status", "reason", "val_top1", "wall_s", "device")}
                      | {"throughput": t.get("throughput")})  # fmt: skip
    doc["trainings"] = trials
    if (res / "validation/validation.csv").exists():
        val = pd.read_csv(res / "validation/validation.csv")
        doc["validation"] = val[["model", "backend", "precision", "predicted_ms", "measured_ms", "cv", "error_pct",
                                 "inside_budget"]].to_dict(orient="records")  # fmt: skip
    out = ROOT / "benchmarks" / "results" / "gpu_check.json"
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(
        json.dumps(
            {k: doc.get(k) for k in ("gpu", "gpu_tests", "workflow", "profiling")}, indent=2, default=str
        )
    )
    return 0 if proc.returncode == 0 and args.pytest_status in (0, None) else 1


if __name__ == "__main__":
    sys.exit(main())
