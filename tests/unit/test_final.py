"""Honest results: tiers are the best under each budget, finalists are scored on a test split the
search never saw, with intervals inside [0, 100], and a verdict only when the interval of the
difference, paired over the shared test images, excludes 0."""

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gpunas.datasets.prepared import TrainingData, prepare
from gpunas.final import (
    Scores,
    accuracy_interval,
    difference_interval,
    distinct_networks,
    finalists_vs_baselines,
    interval,
    network_key,
    pick_finalists,
    pooled_seed_variance,
    results_by_slot,
    seed_variance,
)
from gpunas.hub.select import pick_winner
from gpunas.training.train import TrainConfig, pack_correct, train_network, unpack_correct


def test_interval_is_students_t_over_seeds():
    mean, lo, hi = interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert mean == 2.0 and lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)
    assert np.isnan(interval([5.0])[1]) and np.isnan(interval([])[0])


def _model(correct_rows) -> Scores:
    correct = np.asarray(correct_rows, dtype=bool)
    return Scores(100.0 * correct.mean(axis=1), correct)


def test_per_image_correctness_round_trips_and_bad_strings_are_named():
    bits = np.random.default_rng(0).random(2001) < 0.9
    text = pack_correct(bits)
    assert text.startswith("2001:") and len(text) == 5 + 2 * 251
    assert np.array_equal(unpack_correct(text), bits)
    for bad in ("2001", "2001:zz", "9:00"):
        with pytest.raises(ValueError, match="per-image correctness"):
            unpack_correct(bad)


def test_accuracy_intervals_stay_inside_0_100():
    """Field report: a t-interval over 2 seeds printed [78.91, 105.59]."""
    rng = np.random.default_rng(1)
    perfect = _model(np.ones((2, 500)))
    noisy = _model(rng.random((2, 500)) < [[0.97], [0.80]])  # seeds 17 points apart
    var, df = seed_variance({"a": perfect, "b": noisy})
    assert df == 2 and var > 50
    for s in (perfect, noisy):
        mean, lo, hi = accuracy_interval(s, var, df)
        assert 0 <= lo <= mean <= hi <= 100, (mean, lo, hi)


def test_paired_images_give_the_difference_its_power():
    """Two models 2 points apart: when B gets wrong 40 of the 2,000 images A gets right and agrees on
    the rest, the paired interval is narrow and excludes 0; when their mistakes fall on unrelated
    images, it is about 3 times wider. The single-model intervals overlap: a verdict from
    overlapping intervals would have said 'not distinguishable'."""
    rng = np.random.default_rng(2)
    a_row = rng.random(2000) < 0.90
    b_row = a_row.copy()
    b_row[np.flatnonzero(a_row)[:40]] = False
    a, b = _model([a_row, a_row]), _model([b_row, b_row])
    unrelated = _model([rng.permutation(b_row), rng.permutation(b_row)])
    var, df = seed_variance({"a": a, "b": b})
    d = difference_interval(a, b, var, df)
    assert d[0] == pytest.approx(2.0) and d[1] > 0
    assert accuracy_interval(a, var, df)[1] < accuracy_interval(b, var, df)[2]  # the intervals overlap
    d_unrelated = difference_interval(a, unrelated, var, df)
    assert d_unrelated[2] - d_unrelated[1] > 2.5 * (d[2] - d[1])


def test_seed_noise_widens_the_difference():
    """The seed variance, pooled over every finalist, adds to the image variance: seeds that disagree
    by several points leave a 2-point difference undecided."""
    rng = np.random.default_rng(3)
    base = rng.random(2000) < 0.9
    steady = _model([base, base])
    shaky = [base.copy(), base.copy()]
    shaky[0][np.flatnonzero(~base)[:60]] = True  # +3 points
    shaky[1][np.flatnonzero(base)[:140]] = False  # -7 points: mean 2 points below
    var, df = seed_variance({"steady": steady, "shaky": _model(shaky)})
    d = difference_interval(steady, _model(shaky), var, df)
    assert var == pytest.approx(25.0) and d[1] < 0 < d[2]  # (5^2 + 5^2) / (1 + 1) degrees of freedom


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
    rng = np.random.default_rng(4)
    hub_row = rng.random(1000) < 0.92

    def runs(slot, rows):
        return [{"slot": slot, "status": "complete", "test_top1": 100.0 * r.mean(), "test_correct": pack_correct(r)}
                for r in rows]  # fmt: skip

    def worse(row, k, start=0):  # ``row`` with k more images wrong
        out = row.copy()
        out[np.flatnonzero(row)[start : start + k]] = False
        return out

    results = runs("hub/s0", [hub_row, worse(hub_row, 2), worse(hub_row, 1, 5)])
    results += runs("baselines/f/v01", [worse(hub_row, 40), worse(hub_row, 42), worse(hub_row, 41, 3)])
    results += runs("baselines/f/v02", [worse(hub_row, 10), worse(hub_row, 12), worse(hub_row, 11)])
    table = finalists_vs_baselines(fin, results, budgets).set_index("subspace")
    s0 = table.loc["s0"]
    assert s0["verdict"] == "search more accurate" and s0["baseline"] == "f1"
    assert s0["gain_pts"] == pytest.approx(4.0, abs=0.1) and 0 < s0["gain_ci_low"] < 4 < s0["gain_ci_high"]
    assert s0["detectable_pts"] == pytest.approx((s0["gain_ci_high"] - s0["gain_ci_low"]) / 2)
    assert s0["method"] == "paired images + pooled seed variance (df 6)"
    assert s0["latency_ratio_at_matched_accuracy"] == pytest.approx(0.2 / 0.2)
    assert s0["search_ci_low"] < s0["search_test_top1"] < s0["search_ci_high"] <= 100
    # s1 has no model of its own; its best baseline (v2) has no tier to be compared with
    assert pd.isna(table.loc["s1", "search_test_top1"]) and table.loc["s1", "baseline"] == "f2"
    # the hub against v2 alone (1 point apart, the same images): decided by the pairing
    close = finalists_vs_baselines(fin, [r for r in results if r["slot"] != "baselines/f/v01"], {"s0": 0.35})
    assert close.iloc[0]["verdict"] == "search more accurate"
    # without per-image results (a table evaluator) only the seed term is left, and the method says
    # so: the sampling of the test images is then not counted, and the interval is narrower
    bare = [
        {k: v for k, v in r.items() if k != "test_correct"} for r in results if r["slot"] != "baselines/f/v01"
    ]
    bare_row = finalists_vs_baselines(fin, bare, {"s0": 0.35}).iloc[0]
    assert bare_row["method"] == "pooled seed variance (df 4)"
    assert bare_row["detectable_pts"] < close.iloc[0]["detectable_pts"]


def test_no_verdict_and_no_latency_ratio_while_the_difference_could_be_0():
    """The hub 2 points above a baseline whose seeds disagree by 10 points: not distinguishable."""
    rng = np.random.default_rng(5)
    base = rng.random(2000) < 0.9
    shaky = [base.copy(), base.copy()]
    shaky[0][np.flatnonzero(~base)[:60]] = True
    shaky[1][np.flatnonzero(base)[:140]] = False
    fin = {
        "hub/s0": {"slot": "hub/s0", "kind": "hub", "tier": "s0", "skip": False, "arch": "a", "predicted_ms": 0.2},
        "baselines/f/v00": {"slot": "baselines/f/v00", "kind": "baseline", "skip": False, "arch": "b",
                            "variant": "f0", "family": "f", "predicted_ms": 0.2},
    }  # fmt: skip
    results = [{"slot": "hub/s0", "status": "complete", "test_top1": 100.0 * base.mean(), "test_correct": pack_correct(base)}
               for _ in range(2)]  # fmt: skip
    results += [{"slot": "baselines/f/v00", "status": "complete", "test_top1": 100.0 * r.mean(),
                 "test_correct": pack_correct(r)} for r in shaky]  # fmt: skip
    row = finalists_vs_baselines(fin, results, {"s0": 0.3}).iloc[0]
    assert row["gain_pts"] == pytest.approx(2.0) and row["gain_ci_low"] < 0 < row["gain_ci_high"]
    assert row["verdict"] == "not distinguishable" and pd.isna(row.get("latency_ratio_at_matched_accuracy"))


def test_a_network_that_wins_several_tiers_is_trained_once_and_reported_under_each():
    """Field report: hub s0 and s1 were the same network, trained and reported twice, and 42 of 70
    finalist jobs only wrote 'skipped'. Now the trainings are the distinct networks; their results
    are reported under every slot; the pooled seed variance counts each network once."""
    cards = [{"subspace": s, "status": "ok", "arch": "same", "predicted_ms": 0.2} for s in ("s0", "s1")]
    cards.append({"subspace": "s2", "status": "all_failed"})
    variants = [{"family": "f", "variant": "f0", "arch": "other", "predicted_ms": 0.1, "slot": "baselines/f/v00"},
                {"family": "f", "variant": "f9", "arch": "huge", "predicted_ms": 9.0, "slot": "baselines/f/v09"}]  # fmt: skip
    fin = pick_finalists(cards, variants, {"s0": 0.25, "s1": 0.5, "s2": 0.75}, per_family=1)
    nets = distinct_networks(fin)
    assert {net: n["slots"] for net, n in nets.items()} == {
        network_key("same"): ["hub/s0", "hub/s1"],
        network_key("other"): ["baselines/f/v00"],
    }  # no network for the failed tier or the variant inside no budget
    assert network_key("same") == fin["hub/s0"]["network"] and re.fullmatch(
        r"n[0-9a-f]{10}", network_key("same")
    )
    results = [{"network": network_key("same"), "seed": k, "status": "complete", "test_top1": v}
               for k, v in enumerate((90.0, 92.0))]  # fmt: skip
    results += [
        {"network": network_key("other"), "seed": k, "status": "complete", "test_top1": 80.0} for k in (0, 1)
    ]
    by_slot = results_by_slot(nets, results)
    assert sorted(r["slot"] for r in by_slot) == ["baselines/f/v00"] * 2 + ["hub/s0"] * 2 + ["hub/s1"] * 2
    assert pooled_seed_variance(by_slot) == (1.0, 2)  # (1 + 1 + 0 + 0) / 2, not / 3
