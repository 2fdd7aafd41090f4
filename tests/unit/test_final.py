"""Honest results: tiers are the best under each budget, finalists are scored on a test split the
search never saw, with intervals, and a verdict only when the intervals separate."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gpunas.datasets.prepared import TrainingData, prepare
from gpunas.final import finalists_vs_baselines, interval, pick_finalists, separated
from gpunas.hub.select import pick_winner
from gpunas.training.train import TrainConfig, train_network


def test_interval_is_students_t_over_seeds():
    mean, lo, hi = interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert mean == 2.0 and lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)
    assert np.isnan(interval([5.0])[1]) and np.isnan(interval([])[0])
    assert separated((90, 89, 91), (80, 79, 81)) and not separated((90, 85, 95), (88, 84, 92))
    assert not separated((90, np.nan, np.nan), (80, 79, 81))  # one seed: no interval, no verdict


def test_a_tier_is_the_best_under_its_budget_from_any_band():
    hist = pd.DataFrame({
        "subspace": ["s0", "s0", "s1", "s1", "s2"], "status": ["complete"] * 4 + ["failed"],
        "accuracy": [91.0, 88.0, 89.5, 90.0, np.nan], "predicted_ms": [0.1, 0.2, 0.3, 0.35, 0.5],
        "round": [0] * 5, "slot": list(range(5)),
    })  # fmt: skip
    budgets = {"s0": 0.25, "s1": 0.4, "s2": 0.6}
    winners = {s: pick_winner(hist[hist["predicted_ms"] < b], 0.0, b) for s, b in budgets.items()}
    assert winners["s0"]["accuracy"] == 91.0
    assert winners["s1"]["subspace"] == "s0"  # band s1's best (90.0) is worse than s0's 91.0
    assert winners["s2"]["accuracy"] == 91.0  # s2's only trial failed: the lower bands still count
    acc = [winners[s]["accuracy"] for s in budgets]
    assert acc == sorted(acc)  # never decreases as the budget grows


def test_the_search_never_reads_the_test_split(tmp_path, tiny_space):
    prepare("animal_mnist", train_images=100, val_images=50, test_images=50, outdir=tmp_path)
    data = TrainingData.open(tmp_path)

    class Sealed:
        shape = data.test.shape

        def __len__(self):
            return self.shape[0]

        def read(self, indices):
            raise AssertionError("the test split was read")

    data.test = Sealed()
    cfg = TrainConfig(epochs=1, batch_size=50, device="cpu")
    result = train_network(tiny_space.decode([0] * 41), data, cfg, seed=0)
    assert result["status"] == "complete" and "test_top1" not in result
    failed = train_network(tiny_space.decode([0] * 41), data, cfg, seed=0, test=True)
    assert failed["status"] == "failed" and "the test split was read" in failed["reason"]


def test_finalists_and_the_verdict():
    cards = [{"subspace": "s0", "status": "ok", "arch": "a0", "predicted_ms": 0.2},
             {"subspace": "s1", "status": "all_failed"}]  # fmt: skip
    variants = [{"family": "f", "variant": f"f{i}", "arch": f"v{i}", "predicted_ms": ms, "slot": f"baselines/f/v{i:02d}"}
                for i, ms in enumerate([0.1, 0.2, 0.3, 0.9])]  # fmt: skip
    budgets = {"s0": 0.25, "s1": 0.5}
    fin = pick_finalists(cards, variants, budgets, per_family=1)
    assert not fin["hub/s0"]["skip"] and fin["hub/s1"]["skip"]
    # the largest variant inside each budget: v1 for s0, v2 for s1; v0 and v3 are not finalists
    assert [s for s, f in fin.items() if f["kind"] == "baseline" and not f["skip"]] == [
        "baselines/f/v01",
        "baselines/f/v02",
    ]
    assert pick_finalists(cards, variants, budgets, per_family=0)["baselines/f/v00"]["skip"] is False
    results = [{"slot": "hub/s0", "status": "complete", "test_top1": v} for v in (92.0, 92.4, 92.2)]
    results += [{"slot": "baselines/f/v01", "status": "complete", "test_top1": v} for v in (88.0, 88.5, 88.2)]
    results += [{"slot": "baselines/f/v02", "status": "complete", "test_top1": v} for v in (90.0, 95.0, 85.0)]
    table = finalists_vs_baselines(fin, results, budgets).set_index("subspace")
    assert table.loc["s0", "verdict"] == "search more accurate" and table.loc["s0", "baseline"] == "f1"
    assert table.loc["s0", "latency_ratio_at_matched_accuracy"] == pytest.approx(0.2 / 0.2)
    assert table.loc["s0", "search_ci_low"] < 92.2 < table.loc["s0", "search_ci_high"]
    # s1 has no model of its own; its best baseline (v2, noisy) has no tier to be compared with
    assert pd.isna(table.loc["s1", "search_test_top1"]) and table.loc["s1", "baseline"] == "f2"
    noisy = finalists_vs_baselines(
        fin, [r for r in results if r["slot"] != "baselines/f/v01"], {"s0": 0.35}
    ).iloc[0]
    assert noisy["verdict"] == "not distinguishable" and pd.isna(
        noisy.get("latency_ratio_at_matched_accuracy")
    )
