"""Finalists as a real Snakemake run: the hub models and the baselines inside each budget retrained
with several seeds (final.seeds: 3) and scored on the held-out test split, compared with intervals."""

import json

import pandas as pd
import pytest

from gpunas.training.train import unpack_correct

from .test_search_rules import MINI

FINAL = {
    **MINI,
    "data": {**MINI["data"], "test_images": 100},
    "train": {**MINI["train"]},
    "_inject_fault": {},
    "search": {**MINI["search"], "rounds": 1, "batch": 2},
    "baselines": {**MINI["baselines"], "families": ["resnet"], "phis": [-6, -3]},
    "final": {"enabled": True, "seeds": 3, "variants_per_family": 1, "runtime": 5, "train": {"epochs": 2}},
}


@pytest.mark.slow
def test_three_seeds_per_finalist_on_the_test_split_with_intervals(workflow):
    workflow.config(**FINAL)
    workflow.run()
    res = workflow.path / "results" / "final"
    doc = json.loads((res / "finalists.json").read_text())
    finalists, networks = doc["finalists"], doc["networks"]
    trained = {slot: f for slot, f in finalists.items() if not f["skip"]}
    assert any(f["kind"] == "hub" for f in trained.values()) and any(
        f["kind"] == "baseline" for f in trained.values()
    )
    # one training per distinct network and seed, no job for an empty slot
    assert sorted(networks) == sorted({f["network"] for f in trained.values()})
    assert len(networks) == len({f["arch"] for f in trained.values()})  # one per distinct architecture
    runs_on_disk = sorted(p.parts[-3] for p in res.glob("networks/*/seed*/metrics.json"))
    assert runs_on_disk == sorted(n for n in networks for _ in range(3))
    log = max((workflow.path / ".snakemake" / "log").glob("*.snakemake.log")).read_text()
    assert log.count("rule train_finalist:") == 3 * len(networks)
    for net in networks:
        runs = [
            json.loads((res / "networks" / net / f"seed{s}" / "metrics.json").read_text()) for s in range(3)
        ]
        assert len({r["seed"] for r in runs}) == 3  # three different seeds
        assert all(r["status"] == "complete" and 0 <= r["test_top1"] <= 100 for r in runs)
        # the reference schedule, not the proxy's: 2 epochs where the search trained 1
        assert all(len(r["curve"]) == 2 for r in runs)
        # each kept its per-image correctness on the test split (for the paired comparison)
        assert all(len(unpack_correct(r["test_correct"])) == r["data"]["test"] for r in runs)
    table = pd.read_csv(res / "comparison.csv")
    hub_rows = table.dropna(subset=["search_test_top1"])
    assert len(hub_rows) and (hub_rows["search_seeds"] == 3).all()
    assert (hub_rows["search_ci_low"] <= hub_rows["search_test_top1"]).all()
    assert (hub_rows["search_test_top1"] <= hub_rows["search_ci_high"]).all()
    for r in table.dropna(subset=["baseline_test_top1"]).to_dict(orient="records"):
        assert r["baseline_ms"] < r["budget_ms"]  # the baseline really is inside the same budget
        assert r["verdict"] in ("search more accurate", "baseline more accurate", "not distinguishable")
        # the difference's interval decides, and it is paired over the shared test images
        assert r["gain_ci_low"] <= r["gain_pts"] <= r["gain_ci_high"]
        assert (r["verdict"] == "not distinguishable") == (r["gain_ci_low"] <= 0 <= r["gain_ci_high"])
        assert r["method"].startswith("paired images + pooled seed variance")
    for col in ("search", "baseline"):  # every accuracy interval inside [0, 100]
        assert table[f"{col}_ci_low"].dropna().ge(0).all() and table[f"{col}_ci_high"].dropna().le(100).all()
    md = (res / "comparison.md").read_text()
    assert "3 seeds" in md and "difference (pts) [95%]" in md and "Dietterich 1998" in md
