"""The machine's drift since the LUT and budget verdicts from intervals (gpunas.latency.drift), and
the validation that uses them on real ONNX Runtime measurements."""

import json

import numpy as np
import pandas as pd
import pytest

from gpunas.errors import GpunasError
from gpunas.latency.drift import budget_verdict, drift_summary, median_interval, pick_references
from gpunas.latency.lut import KEY_LAYOUT
from gpunas.tables import write_table

from .test_baselines import _hub


def test_references_span_the_latency_range():
    rows = [{"arch": f"a{i}", "measured_ms": ms} for i, ms in enumerate([0.5, 0.1, 0.9, 0.3, 0.7])]
    assert [r["measured_ms"] for r in pick_references(rows, 3)] == [0.1, 0.5, 0.9]
    assert [r["measured_ms"] for r in pick_references(rows, 2)] == [0.1, 0.9]
    assert len(pick_references(rows, 10)) == 5 and pick_references(rows, 0) == []


def test_median_interval_covers_the_median_at_its_level():
    # 2,000 samples of 11 rounds from a skewed distribution: the 95% interval holds the true
    # median in about 95% of them (Hettmansperger-Sheather), and is never wider than the range
    rng = np.random.default_rng(0)
    true_median = np.log(2)  # exponential(1)
    hits = []
    for _ in range(2000):
        r = rng.exponential(1.0, 11)
        low, high = median_interval(r, 0.95)
        assert r.min() <= low <= np.median(r) <= high <= r.max()
        hits.append(low <= true_median <= high)
    assert 0.93 <= np.mean(hits) <= 0.98
    # 5 rounds cannot reach 95% with order statistics: the range (94%)
    assert median_interval([3, 1, 2, 5, 4]) == (1.0, 5.0)
    with pytest.raises(GpunasError, match="no rounds"):
        median_interval([])


def test_a_burst_moves_the_median_little_and_the_verdict_only_when_it_is_long():
    quiet = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0, 1.0]

    def burst(k: int) -> list[float]:  # k of the 11 rounds three times slower
        return [*quiet[: 11 - k], *[3.0] * k]

    assert np.median(burst(5)) == pytest.approx(np.median(quiet), abs=0.03)
    assert budget_verdict(*median_interval(burst(2)), budget_ms=1.5) == "yes"
    # a burst through 4 of 11 rounds leaves the median but widens the interval past the budget
    assert budget_verdict(*median_interval(burst(4)), budget_ms=1.5) == "undecided"


def test_budget_verdict_is_yes_no_or_undecided_from_the_interval():
    assert budget_verdict(0.8, 0.9, 1.0) == "yes"
    assert budget_verdict(1.0, 1.1, 1.0) == "no"  # at the budget is not under it
    assert budget_verdict(0.9, 1.1, 1.0) == "undecided"
    # a machine 20% slower now: 1.1 ms now is 0.917 ms in the LUT's time
    assert budget_verdict(1.05, 1.15, 1.0, drift=1.2) == "yes"


def test_drift_is_applied_only_when_uniform_and_large_enough():
    uniform = drift_summary([0.1, 0.5, 2.0], [0.121, 0.6, 2.38])
    assert uniform["uniform"] and uniform["applied"] == pytest.approx(1.2) and "rescaled" in uniform["reason"]
    small = drift_summary([0.1, 0.5, 2.0], [0.102, 0.51, 2.03])
    assert small["uniform"] and small["applied"] == 1.0 and "no drift" in small["reason"]
    # one reference caught a burst: not uniform, nothing applied, the reason says so
    mixed = drift_summary([0.1, 0.5, 2.0], [0.1, 0.75, 2.0])
    assert not mixed["uniform"] and mixed["applied"] == 1.0 and "not uniform" in mixed["reason"]
    assert drift_summary([], [])["applied"] == 1.0
    with pytest.raises(GpunasError, match="positive"):
        drift_summary([0.1], [0.0])
    with pytest.raises(GpunasError, match="3 reference latencies then, 2 now"):
        drift_summary([1, 2, 3], [1, 2])


def _lut(tmp_path):
    lut = pd.DataFrame({"code": [1], "key": ["k"], "latency_ms": [0.1], "mad_ms": [0.0], "cv": [0.0],
                        "min_ms": [0.1], "repeats": [5]})  # fmt: skip
    meta = {"slug": "ci", "unit": "ms", "key_layout": KEY_LAYOUT, "classes": 10,
            "protocol": {"repeats": 5, "warmup": 1, "runs": 3}}  # fmt: skip
    write_table(lut, meta, tmp_path / "lut.parquet")
    return tmp_path / "lut.parquet"


LAT = {"backend": "onnxruntime", "device": "cpu", "hardware": "ci", "precision": "fp32", "batch": 1,
       "threads": 1, "padding": "same"}  # fmt: skip


@pytest.mark.parametrize("then_scale", [[0.5, 0.5, 0.5], [0.5, 1.0, 2.0]])
def test_validation_retimes_fidelity_networks_and_rescales_only_a_uniform_drift(
    tmp_path, tiny_space, then_scale
):
    """Real ONNX Runtime timings: the hub's own network serves as the three references, with
    fidelity latencies made up as a fraction of what it measures now; a machine that "got twice
    as slow" everywhere (0.5 each) is a uniform drift, applied; fractions that disagree are not."""
    from gpunas.validation import validate

    hub_dirs = _hub(tmp_path, tiny_space, budget=10.0)
    card = json.loads((tmp_path / "hub/s0/card.json").read_text())
    lut = _lut(tmp_path)
    first = validate(hub_dirs, lut, LAT, {"backend": "auto"}, "ci", 0, tmp_path / "a.csv", tmp_path / "a.png")
    now = float(first["measured_ms"].iloc[0])
    fidelity = tmp_path / "fidelity.json"
    fidelity.write_text(
        json.dumps({"rows": [{"arch": card["arch"], "measured_ms": now * s} for s in then_scale]})
    )
    # tolerance 0.5: the three references are one tiny network timed three times, whose medians may
    # differ by tens of percent on a shared machine; the mixed case's ratios (2, 1, 0.5) spread 100%
    cfg = {"backend": "auto", "protocol": {"repeats": 7, "pause_s": 0.01},
           "drift": {"references": 3, "tolerance": 0.5}}  # fmt: skip
    table = validate(hub_dirs, lut, LAT, cfg, "ci", 0, tmp_path / "v.csv", tmp_path / "v.png",
                     fidelity=fidelity, output_json=tmp_path / "drift.json")  # fmt: skip
    drift = json.loads((tmp_path / "drift.json").read_text())
    assert len(drift["reference_networks"]) == 3 and drift["protocol"]["pause_s"] == 0.01
    row = table.iloc[0]
    if then_scale == [0.5, 0.5, 0.5]:
        # the references measure about twice their fidelity latency: applied to the prediction
        assert drift["uniform"] and drift["applied"] == pytest.approx(2.0, rel=0.5)
        assert row["drift"] == drift["applied"] and row["predicted_now_ms"] == pytest.approx(
            0.05 * row["drift"]
        )
    else:
        assert not drift["uniform"] and drift["applied"] == 1.0 and row["predicted_now_ms"] == 0.05
    assert row["error_pct"] == pytest.approx(
        (row["measured_ms"] - row["predicted_now_ms"]) / row["predicted_now_ms"] * 100
    )
    assert row["low_ms"] <= row["measured_ms"] <= row["high_ms"] and row["inside_budget"] == "yes"
