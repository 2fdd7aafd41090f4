"""Latency verdicts across time: the latency phase measured beside a CPU hog, the validation alone.

The case of issue #23: a LUT and its fidelity networks measured while other work shared the
machine, the hub models validated later on a quiet one. Two runs of the default config's latency
phase (the real one: ONNX Runtime on this CPU, the default protocol and fidelity networks), each
followed by a short search (1 round of 2 trainings per sub-space; the search is not what is
measured) and the validation:

- ``quiet``: everything alone (the reference: no drift expected);
- ``hog``: the latency phase with ``--hog`` busy processes beside it, the rest alone;
- ``quiet_no_pause``: as ``quiet`` with the validation's repeats back to back (``pause_s: 0``):
  how much of a drift the validation protocol itself causes, which the references cancel.

For each it records the drift the validation measured on the re-timed fidelity networks (ratios,
uniform or not, applied or not, the reason), and every hub model's error against its prediction
before the drift (``error_raw_pct``) and after it (``error_pct``), its interval and verdict, in
``results/latency_drift.json``.

    python benchmarks/bench_latency_drift.py [--runs quiet,hog,quiet_no_pause]   # ~3 minutes each
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "envs", "report"]
# the default config, with a search just long enough to fill the hub (not what is measured)
OVERRIDES = {
    "search": {"rounds": 1, "batch": 2, "init_rounds": 1},
    "train": {"epochs": 1},
    "data": {"train_images": 1000, "val_images": 500, "test_images": 0},
    "baselines": {"enabled": False},
    "final": {"enabled": False},
}
log = logging.getLogger("bench_latency_drift")


def _busy() -> None:
    while True:
        pass


def _config(work: Path, pause_s: float | None) -> None:
    path = work / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    for section, values in OVERRIDES.items():
        cfg[section] = {**cfg.get(section, {}), **values}
    if pause_s is not None:
        cfg["validation"]["protocol"] = {**cfg["validation"].get("protocol", {}), "pause_s": pause_s}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _snakemake(work: Path, *args: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=work,
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def one_run(hog: int, pause_s: float | None = None) -> dict:
    """The latency phase (beside ``hog`` busy processes), then search, hub and validation alone."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for part in PARTS:
            src = ROOT / part
            (shutil.copytree if src.is_dir() else shutil.copy)(src, work / part)
        _config(work, pause_s)
        hogs = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(hog)]
        for h in hogs:
            h.start()
        try:
            latency_s = _snakemake(work, "--until", "partition_subspaces")
        finally:
            for h in hogs:
                h.terminate()
                h.join()
        rest_s = _snakemake(work, "results/validation/validation.csv")
        res = work / "results"
        fidelity = json.loads(next((res / "lut").glob("*/fidelity.json")).read_text())
        drift = json.loads((res / "validation" / "drift.json").read_text())
        val = pd.read_csv(res / "validation" / "validation.csv").dropna(subset=["measured_ms"])
        val["error_raw_pct"] = (val["measured_ms"] - val["predicted_ms"]) / val["predicted_ms"] * 100
        cols = ["model", "predicted_ms", "drift", "predicted_now_ms", "measured_ms", "low_ms", "high_ms", "cv",
                "error_raw_pct", "error_pct", "budget_ms", "inside_budget"]  # fmt: skip
        return {
            "latency_phase": f"beside {hog} busy processes" if hog else "alone",
            "validation_protocol": drift["protocol"],
            "latency_phase_s": round(latency_s, 1),
            "search_hub_validation_s": round(rest_s, 1),
            "fidelity_noise": fidelity.get("noise", {}).get("summary") or "not noisy",
            "fidelity_networks": len(fidelity["rows"]),
            "drift": drift,
            "hub_models": val[cols].round(4).to_dict(orient="records"),
            "median_abs_error_raw_pct": round(float(val["error_raw_pct"].abs().median()), 2),
            "median_abs_error_pct": round(float(val["error_pct"].abs().median()), 2),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hog", type=int, default=2, help="busy processes beside the hog run's latency phase")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "latency_drift.json")
    ap.add_argument("--runs", default="quiet,hog,quiet_no_pause", help="which runs (others kept from --out)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = {
        "machine": "2 cores, no GPU",
        "config": "config/config.yaml with " + json.dumps(OVERRIDES),
        "runs": json.loads(args.out.read_text())["runs"] if args.out.exists() else {},
    }
    variants = {"quiet": (0, None), "hog": (args.hog, None), "quiet_no_pause": (0, 0.0)}
    for name in args.runs.split(","):
        result["runs"][name] = one_run(*variants[name])
        r = result["runs"][name]
        log.info("%s: %s; median |error| %.1f%% before the drift, %.1f%% after", name, r["drift"]["reason"],
                 r["median_abs_error_raw_pct"], r["median_abs_error_pct"])  # fmt: skip
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
