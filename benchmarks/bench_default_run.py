"""The default run from a clean copy: wall time, per-rule seconds, LUT fidelity, validation, hub
tiers and the finalists on the test split. Optionally only its latency phase, beside a CPU hog.

Copies the workflow into a temporary directory and runs ``snakemake --cores 2`` there (the
README's main command), then records in ``results/default_run.json``:

- wall time and the Snakemake benchmark table of every rule;
- LUT fidelity (raw LUT sum vs applied prediction, leave-one-out; correction and why; noise);
- validation: every hub model's measured latency against its prediction (within +-10%?);
- hub tiers (accuracy per budget, non-decreasing?) and the finalists' test accuracy with 95% CIs;

and copies the validation table, the final comparison and the baseline Pareto plot beside it.

``--latency-only`` stops after the latency phase (``--until partition_subspaces``) and writes
``results/latency_phase.json``; with ``--hog N`` as well, N busy processes share the cores while it
runs (a workstation doing other work) and it writes ``results/latency_phase_hog.json``: does the
run flag the noise, and is the applied prediction never worse than the raw sum?

    python benchmarks/bench_default_run.py                       # the whole default run
    python benchmarks/bench_default_run.py --latency-only --hog 2
"""

from __future__ import annotations

import argparse
import csv
import itertools
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

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "envs", "report", "benchmarks"]
log = logging.getLogger("bench_default_run")


def _busy() -> None:
    while True:
        pass


def rule_seconds(work: Path) -> dict[str, float]:
    out = {}
    for tsv in sorted((work / "results" / "benchmarks").rglob("*.tsv")):
        with tsv.open() as f:
            row = next(csv.DictReader(f, delimiter="\t"))
        out[str(tsv.relative_to(work / "results" / "benchmarks"))] = float(row["s"])
    return out


def fidelity(work: Path) -> dict:
    fid = json.loads(next((work / "results" / "lut").glob("*/fidelity.json")).read_text())
    noise = fid.get("noise", {})
    return {
        "slug": fid["slug"],
        "networks": fid["networks"],
        "correction": {k: fid["correction"].get(k) for k in ("applied", "model", "reason", "a", "b", "c")},
        "raw_lut_sum": fid["before"],
        "applied_leave_one_out": fid["after"],
        "applied_never_worse_than_raw": fid["after"]["mape_pct"] <= fid["before"]["mape_pct"] + 1e-9,
        "noise": {
            "noisy": noise.get("noisy"),
            "summary": noise.get("summary"),
            "layers": noise.get("layers"),
            "networks": noise.get("networks"),
        },
    }


def full_results(work: Path, out: Path) -> dict:
    res = work / "results"
    val = pd.read_csv(res / "validation" / "validation.csv")
    hub = json.loads((res / "hub" / "hub.json").read_text())
    tiers = [t for t in hub["tiers"] if t.get("status") == "ok"]
    acc = [t["accuracy"] for t in tiers]
    final = pd.read_csv(res / "final" / "comparison.csv")
    for src, dst in ((res / "validation" / "validation.csv", "default_run_validation.csv"),
                     (res / "final" / "comparison.md", "default_run_final.md"),
                     (res / "baselines" / "comparison.md", "default_run_baselines.md"),
                     (res / "baselines" / "pareto.png", "default_run_pareto.png"),
                     (res / "scaling" / "scaling.json", "default_run_scaling.json"),
                     (res / "scaling" / "scaling.png", "default_run_scaling.png"),
                     (res / "final" / "comparison.png", "default_run_final.png")):  # fmt: skip
        if src.exists():
            shutil.copy(src, out.parent / dst)
    drift = json.loads((res / "validation" / "drift.json").read_text())
    return {
        "validation": {
            "models": len(val),
            "error_pct": dict(zip(val["model"], val["error_pct"].round(2), strict=True)),
            "all_within_10pct": bool((val["error_pct"].abs() <= 10).all()),
            "inside_budget": dict(zip(val["model"], val["inside_budget"], strict=True)),
            "drift": {k: drift.get(k) for k in ("ratios", "drift", "spread", "uniform", "applied", "reason")},
        },
        "hub_tiers": [{k: t.get(k) for k in ("subspace", "name", "accuracy", "predicted_ms")} for t in tiers],
        "hub_accuracy_non_decreasing": all(b >= a for a, b in itertools.pairwise(acc)),
        "final": final.to_dict(orient="records"),
        "scaling": scaling_summary(res),
    }


GRID_KEYS = ("point", "alpha", "beta", "gamma", "latency_ms", "accuracy", "reward")


def scaling_summary(res: Path) -> dict | None:
    """The scaling stage's choice, its families in the budgets and each route's cost (None without)."""
    path = res / "scaling" / "scaling.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    return {
        "base": doc["base"]["source"],
        "grid": [{k: r.get(k) for k in GRID_KEYS} for r in doc["grid"]],
        "chosen": doc["chosen"],
        "families": {
            rule: {sub: (m or {}).get("variant") for sub, m in fam["budgets"].items()}
            for rule, fam in doc["families"].items()
        },
        "costs": doc.get("costs"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-only", action="store_true", help="stop after the latency phase")
    ap.add_argument("--hog", type=int, default=0, help="busy processes beside the run (with --latency-only)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    name = (
        "default_run.json"
        if not args.latency_only
        else ("latency_phase_hog.json" if args.hog else "latency_phase.json")
    )
    out = args.out or ROOT / "benchmarks" / "results" / name
    hogs = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.hog)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for part in PARTS:
            src = ROOT / part
            (shutil.copytree if src.is_dir() else shutil.copy)(src, work / part)
        cmd = [sys.executable, "-m", "snakemake", "--cores", "2"]
        if args.latency_only:
            cmd += ["--until", "partition_subspaces"]
        for h in hogs:
            h.start()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        finally:
            for h in hogs:
                h.terminate()
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        result = {
            "command": "snakemake " + " ".join(cmd[4:]) if len(cmd) > 4 else "snakemake --cores 2",
            "machine": "2 cores, no GPU" + (f"; {args.hog} busy processes beside the run" if args.hog else "; idle"),
            "wall_s": round(wall, 1),
            "jobs": proc.stderr.count("localrule ") + proc.stderr.count("\nrule "),
            "fidelity": fidelity(work),
            "rule_seconds": rule_seconds(work),
        }  # fmt: skip
        if not args.latency_only:
            result |= full_results(work, out)
            logs = [p.read_text() for p in (work / "logs" / "propose_candidates").rglob("*.log")]
            result["surrogate_warnings"] = sum(text.count("Warning") + text.count("WARNING") for text in logs)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log.info(
        "%s: %.0f s; fidelity %s", out.name, wall, json.dumps(result["fidelity"]["applied_leave_one_out"])
    )


if __name__ == "__main__":
    main()
