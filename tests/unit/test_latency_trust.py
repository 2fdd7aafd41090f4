"""Latency the user can trust: noise measured and acted on, a correction only when it helps, one
set of conditions per LUT, fidelity networks over the whole range."""

import numpy as np
import pandas as pd
import pytest

from gpunas.latency.backends import Runner
from gpunas.latency.cache import NetworkCache, missing_codes, network_key
from gpunas.latency.fidelity import evaluate, pick_networks
from gpunas.latency.keys import KEY_LAYOUT
from gpunas.latency.lut import check_compatible
from gpunas.latency.protocol import Protocol, measure, noise_summary
from gpunas.tables import write_table


class Scripted(Runner):
    """A runner whose timings follow a script: steady, or noisy for its first rounds."""

    def __init__(self, base: float, noisy_rounds: int) -> None:
        self.base, self.left, self.rng = base, noisy_rounds, np.random.default_rng(int(base * 1000))

    def time(self, runs: int, warmup: int) -> np.ndarray:
        spread = 0.8 if self.left > 0 else 0.0
        self.left -= 1
        return self.base * (1 + spread * self.rng.random()) * np.ones(runs)


def test_noisy_items_are_measured_again_and_flagged_when_they_stay_noisy():
    runners = {"steady": Scripted(1.0, 0), "settles": Scripted(2.0, 5), "stays": Scripted(3.0, 1000)}
    stats = measure(
        list(runners), runners.get, Protocol(repeats=5, warmup=0, runs=3, max_cv=0.05, remeasure=2)
    )
    steady, settles, stays = stats.to_dict(orient="records")
    assert steady["remeasured"] == 0 and steady["repeats"] == 5 and not steady["noisy"]
    assert (
        settles["remeasured"] >= 1 and settles["repeats"] > 5
    )  # the later, quiet rounds dominate the median
    assert stays["remeasured"] == 2 and stays["repeats"] == 15 and stays["noisy"]  # bounded: 2 extra passes
    summary = noise_summary(stats, 0.05)
    assert summary["noisy"] and "noisy measurements" in summary["message"]
    assert not noise_summary(stats.iloc[:1], 0.05)["noisy"]


def test_a_shard_with_nothing_left_to_measure_still_has_its_columns():
    # more shards than keys (or every key already cached): an empty shard is written, not a crash
    stats = measure([], {}.get, Protocol(repeats=5, warmup=0, runs=3))
    assert stats.empty and "cv" in stats and stats["latency_ms"].dtype == float
    assert noise_summary(stats, 0.05) == {"items": 0, "noisy": False}


def test_correction_is_applied_only_when_it_beats_the_raw_sum():
    rng = np.random.default_rng(0)
    lut = np.linspace(1, 10, 30)
    layers = rng.integers(10, 40, 30).astype(float)
    population = (np.linspace(0.5, 12, 200), np.full(200, 25.0))
    # a systematic over-prediction: a correction helps, and is applied
    measured = 0.8 * lut + 0.3 + rng.normal(0, 0.02, 30)
    good = evaluate(lut, layers, measured, population)
    assert good["correction"]["applied"] and good["after"]["mape_pct"] < good["before"]["mape_pct"]
    # noise only (the raw sum is right): no correction beats it, the raw sum is used and says why
    noisy = lut * (1 + rng.normal(0, 0.15, 30))
    raw = evaluate(lut, layers, noisy, population)
    assert not raw["correction"]["applied"] and raw["after"] == raw["before"]
    assert (raw["correction"]["a"], raw["correction"]["b"], raw["correction"]["c"]) == (1.0, 0.0, 0.0)
    assert "no correction beats the raw LUT sum" in raw["correction"]["reason"]
    # a correction that would predict a negative latency for some sample is refused
    steep = evaluate(lut, layers, 2.0 * lut - 1.9, (np.linspace(0.1, 12, 200), np.full(200, 25.0)))
    for c in steep["candidates"].values():
        assert c["a"] >= 0
    assert all(
        c["lowest_prediction_ms"] > 0
        for m, c in steep["candidates"].items()
        if m == steep["correction"]["model"]
    )


def test_fidelity_networks_cover_the_whole_range():
    raw = np.random.default_rng(1).random(5000)
    picks = pick_networks(raw, 24, seed=0)
    assert len(picks) == 24 and raw.argmin() in picks and raw.argmax() in picks
    # one per equal-count stratum: every 1/24 of the sorted sums has a network
    ranks = np.searchsorted(np.sort(raw), raw[picks])
    assert len(set(ranks * 24 // 5000)) == 24


def _conditions(**changes):
    base = {"slug": "onnxruntime-cpu-x-fp32-b1", "backend": "onnxruntime", "device": "cpu", "hardware": "x",
            "precision": "fp32", "batch": 1, "threads": 1, "padding": "same", "classes": 10, "unit": "ms",
            "key_layout": KEY_LAYOUT, "protocol": {"repeats": 5, "warmup": 5, "runs": 20, "max_cv": 0.1, "remeasure": 2},
            "options": {}, "versions": {"onnxruntime": "1.32.0"}}  # fmt: skip
    return base | changes


@pytest.mark.parametrize(
    ("changes", "named"),
    [({"threads": 2}, "threads 1 differs from 2"), ({"versions": {"onnxruntime": "1.31.0"}}, "versions"),
     ({"protocol": {"repeats": 7, "warmup": 5, "runs": 20, "max_cv": 0.1, "remeasure": 2}}, "protocol"),
     ({"options": {"cuda_graphs": False}}, "options"), ({"padding": "release"}, "padding")],
)  # fmt: skip
def test_a_cache_of_other_conditions_is_refused_naming_the_setting(tmp_path, changes, named):
    cache = tmp_path / "cache.parquet"
    write_table(pd.DataFrame({"code": [1], "key": ["k"], "latency_ms": [0.1], "mad_ms": [0.0], "cv": [0.0],
                              "min_ms": [0.1], "repeats": [5]}), _conditions(**changes), cache)  # fmt: skip
    with pytest.raises(ValueError) as e:
        check_compatible(_conditions(**changes), _conditions(), f"LUT cache {cache}")
    message = str(e.value)
    assert "\n" not in message and named.split()[0] in message and "latency.reuse: false" in message
    # from the config alone (before the library versions are known), the stated settings are compared
    stated = {
        k: v for k, v in _conditions().items() if k not in ("versions", "hardware", "unit", "key_layout")
    }
    if "versions" in changes:
        assert list(missing_codes(cache, _conditions()["slug"], np.array([1, 2]), stated)) == [2]
    else:
        with pytest.raises(ValueError, match=named.split()[0]):
            missing_codes(cache, _conditions()["slug"], np.array([1, 2]), stated)


def test_network_cache_reuses_measurements_and_refuses_other_conditions(tmp_path):
    path = tmp_path / "networks.parquet"
    store = NetworkCache(path, _conditions())
    key = network_key("res32-s0_conv_n1_k3_s2_c8_relu-head16", 10)
    store.add(pd.DataFrame({"key": [key], "latency_ms": [1.5], "cv": [0.02]}))
    again = NetworkCache(path, _conditions())
    assert again.lookup([key, "other"])[key]["latency_ms"] == 1.5
    with pytest.raises(ValueError, match="threads"):
        NetworkCache(path, _conditions(threads=2))
