"""Finalists as a real Snakemake run: the hub models and the baselines inside each budget retrained
with several seeds (final.seeds: 3) and scored on the held-out test split, compared with intervals."""

import json

import pandas as pd
import pytest

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
    finalists = json.loads((res / "finalists.json").read_text())["finalists"]
    trained = {slot: f for slot, f in finalists.items() if not f["skip"]}
    assert any(f["kind"] == "hub" for f in trained.values()) and any(
        f["kind"] == "baseline" for f in trained.values()
    )
    for slot in trained:
        runs = [json.loads((res / slot / f"seed{s}" / "metrics.json").read_text()) for s in range(3)]
        assert len({r["seed"] for r in runs}) == 3  # three different seeds
        assert all(r["status"] == "complete" and 0 <= r["test_top1"] <= 100 for r in runs)
        # the reference schedule, not the proxy's: 2 epochs where the search trained 1
        assert all(len(r["curve"]) == 2 for r in runs)
    table = pd.read_csv(res / "comparison.csv")
    hub_rows = table.dropna(subset=["search_test_top1"])
    assert len(hub_rows) and (hub_rows["search_seeds"] == 3).all()
    assert (hub_rows["search_ci_low"] <= hub_rows["search_test_top1"]).all()
    assert (hub_rows["search_test_top1"] <= hub_rows["search_ci_high"]).all()
    for r in table.dropna(subset=["baseline_test_top1"]).to_dict(orient="records"):
        assert r["baseline_ms"] < r["budget_ms"]  # the baseline really is inside the same budget
        assert r["verdict"] in ("search more accurate", "baseline more accurate", "not distinguishable")
    md = (res / "comparison.md").read_text()
    assert "3 seeds" in md and "95% t-interval" in md
