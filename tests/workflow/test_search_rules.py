"""The whole pipeline (latency phase, search, hub) as a real Snakemake run on a mini config,
with real failures injected into four training jobs (NaN, exception, SIGKILL, memory limit)."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch

from ..conftest import ROOT

MINI = {
    "sampling": {"m": 5},
    "latency": {
        "backend": "onnxruntime", "device": "cpu", "hardware": "ci-cpu", "precision": "fp32", "batch": 1,
        "threads": 1, "keys": "samples", "shards": 1, "protocol": {"repeats": 5, "warmup": 1, "runs": 3},
    },
    "subspaces": {"kind": "quantiles", "budgets": [0.5, 1.0]},
    "fidelity": {"per_subspace": 3, "protocol": {"repeats": 5, "warmup": 1, "runs": 3}},
    "data": {"source": "animal_mnist", "train_images": 200, "val_images": 100, "split_seed": 0},
    "train": {
        "epochs": 1, "batch_size": 50, "lr": 0.003, "threads": 1, "mem_mb": 1000, "runtime": 5, "gpu": 0,
        "retries": 1,
    },
    # tests only, outside the config schema: failures injected into given trials (rules/common.smk)
    "_inject_fault": {"s0/0/1": "nan", "s1/0/0": "raise", "s1/1/1": "kill", "s0/1/0": "oom"},
    "search": {"strategy": "bo", "rounds": 2, "batch": 2, "init_rounds": 1, "pool": 64},
    "baselines": {"enabled": True, "families": ["resnet", "genet"], "phis": [-6, -3]},
    "report": {"strategy_benchmark": str(ROOT / "benchmarks/results/tabular.json")},
}  # fmt: skip

REPORT_SECTIONS = [
    "1. Search space",
    "2. Latency phase",
    "3. Search",
    "4. Baselines",
    "5. Validation",
    "6. Model hub",
]


@pytest.mark.slow
def test_search_end_to_end_with_failures(workflow):
    workflow.config(**MINI)
    proc = workflow.run()
    res = workflow.path / "results"
    hist = {s: pd.read_parquet(res / f"search/{s}/history_r01.parquet") for s in ("s0", "s1")}
    # every slot of every round is recorded, failures with their reason
    for h in hist.values():
        assert len(h) == 4 and h["encoding"].is_unique
    s0, s1 = hist["s0"].set_index(["round", "slot"]), hist["s1"].set_index(["round", "slot"])
    assert s0.loc[(0, 1), "status"] == "failed" and "diverged" in s0.loc[(0, 1), "reason"]
    assert (
        s1.loc[(0, 0), "status"] == "failed"
        and "GpunasError: normalisation needs 5" in s1.loc[(0, 0), "reason"]
    )
    assert s1.loc[(1, 1), "status"] == "failed" and "SIGKILL" in s1.loc[(1, 1), "reason"]
    assert "attempt 2 of 2" in s1.loc[(1, 1), "reason"]  # retried by Snakemake, then recorded
    # killed for memory by the job's real mem_mb limit (1000 MB, then 2000 MB on the retry)
    assert s0.loc[(1, 0), "status"] == "failed" and "killed for memory" in s0.loc[(1, 0), "reason"]
    assert "mem_mb 2000 on attempt 2 of 2" in s0.loc[(1, 0), "reason"]
    assert proc.stdout.count("Trying to restart job") + proc.stderr.count("Trying to restart job") >= 1
    # proposals stay in their band
    sub = json.loads((res / "subspaces/subspaces.json").read_text())["subspaces"]
    for s in sub:
        h = hist[s["id"]]
        assert ((h["predicted_ms"] >= s["lo_ms"]) & (h["predicted_ms"] < s["hi_ms"])).all()
    # hub: one model per sub-space from the successful trials
    every = pd.concat(hist.values())
    for s in ("s0", "s1"):
        card = json.loads((res / f"hub/{s}/card.json").read_text())
        # a tier's model is the best trial under its budget, from whichever band it came
        ok = every[(every["status"] == "complete") & (every["predicted_ms"] < card["budget_ms"])]
        assert card["status"] == "ok" and card["accuracy"] == ok["accuracy"].max()
        assert card["onnx_max_abs_diff"] < 1e-4
        for f in ("weights.pt", "model.onnx", "arch.json", "encoding.json", "card.md"):
            assert (res / f"hub/{s}" / f).exists()
    from gpunas.hub import load_model

    model, card = load_model(res / "hub/s0")
    with torch.inference_mode():
        out = model(torch.zeros(1, 3, card["resolution"], card["resolution"]))
    assert out.shape == (1, 10) and np.isfinite(out.numpy()).all()
    summary = json.loads((res / "hub/hub.json").read_text())
    assert summary["trials"] == 8 and summary["failed"] == 4
    assert (res / "hub/accuracy_vs_latency.png").exists() and (res / "hub/progress.png").exists()

    # validation: every hub model measured end to end on the validation backend (ORT CPU here)
    val = pd.read_csv(res / "validation/validation.csv")
    assert list(val["model"]) == ["s0", "s1"] and (val["backend"] == "onnxruntime").all()
    assert (val["measured_ms"] > 0).all() and val["error_pct"].notna().all()
    assert set(val["inside_budget"]) <= {"yes", "no", "undecided"}
    assert ((val["low_ms"] <= val["measured_ms"]) & (val["measured_ms"] <= val["high_ms"])).all()
    lut_time = val[["low_ms", "high_ms"]].div(val["drift"], axis=0)  # the interval in the LUT's time
    verdict = np.where(lut_time["high_ms"] < val["budget_ms"], "yes",
                       np.where(lut_time["low_ms"] >= val["budget_ms"], "no", "undecided"))  # fmt: skip
    assert list(val["inside_budget"]) == list(verdict)
    # the drift since the LUT, on fidelity networks re-timed beside the hub models
    drift = json.loads((res / "validation/drift.json").read_text())
    fidelity = json.loads(next((res / "lut").glob("*/fidelity.json")).read_text())
    refs = drift["reference_networks"]
    assert drift["references"] == len(refs) == min(3, len(fidelity["rows"])) and refs
    assert {r["arch"] for r in refs} <= {r["arch"] for r in fidelity["rows"]}
    assert all(r["now_ms"] > 0 for r in refs) and (val["drift"] == drift["applied"]).all()

    # baselines: picked inside each budget, trained with the same proxy, compared per budget
    picks = json.loads((res / "baselines/baselines.json").read_text())["picks"]
    assert set(picks) == {f"{f}/{s}" for f in ("resnet", "genet") for s in ("s0", "s1")}
    budgets = {s["id"]: s["hi_ms"] for s in sub}
    for key, p in picks.items():
        m = json.loads((res / f"baselines/{key}/metrics.json").read_text())
        assert m["status"] == ("skipped" if p["skip"] else "complete"), (key, m)
        if not p["skip"]:
            assert p["predicted_ms"] < budgets[p["subspace"]] and m["val_top1"] > 0
    cmp = pd.read_csv(res / "baselines/comparison.csv")
    assert list(cmp["subspace"]) == ["s0", "s1"]
    assert (res / "baselines/pareto.png").stat().st_size > 10_000

    # the report: `snakemake --report results/report.html` with every section
    workflow.run("--report", "results/report.html")
    report = (res / "report.html").read_text()
    for section in REPORT_SECTIONS:
        assert section in report, section
    for page in (
        "space.html",
        "hub_cards.html",
        "validation.html",
        "baselines.html",
        "search_strategies.png",
        "proxy_validity.png",
    ):
        assert page in report, page
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:  # the report is a JavaScript app: check what a browser renders (navigation)
        dom = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
             "--dump-dom", (res / "report.html").as_uri()],
            capture_output=True, text=True, timeout=180,
        ).stdout  # fmt: skip
        app = dom.split('<div id="app">', 1)[1].split("<script", 1)[0]
        for section in REPORT_SECTIONS:
            assert section in app, f"{section} not rendered"
