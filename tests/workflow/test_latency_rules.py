"""The latency phase as a real Snakemake run on a small config."""

import json
import re

import pandas as pd
import pytest

from gpunas.tables import write_table

FAST = {
    "sampling": {"m": 5},
    "baselines": {"enabled": False, "families": ["resnet"], "phis": [0]},
    "fidelity": {"per_subspace": 3, "protocol": {"repeats": 5, "warmup": 2, "runs": 5}},
}


def _latency(**overrides):
    base = {
        "backend": "onnxruntime",
        "device": "cpu",
        "hardware": "ci-cpu",
        "precision": "fp32",
        "batch": 1,
        "threads": 1,
        "keys": "samples",
        "shards": 2,
        "protocol": {"repeats": 5, "warmup": 2, "runs": 5},
    }
    return base | overrides


SLUG = "onnxruntime-cpu-ci-cpu-fp32-b1"


def _needed_todo(workflow):
    text = (workflow.path / f"logs/enumerate_layers/{SLUG}/search.log").read_text()
    needed, todo = re.findall(r"(\d+) distinct layer keys needed, (\d+) not in the cache", text)[-1]
    return int(needed), int(todo)


@pytest.mark.slow
def test_latency_phase_end_to_end_and_cache(workflow):
    workflow.config(latency=_latency(), **FAST)
    workflow.run("--until", "partition_subspaces")
    res = workflow.path / "results"
    sub = json.loads((res / "subspaces/subspaces.json").read_text())
    assert [s["id"] for s in sub["subspaces"]] == ["s0", "s1", "s2"]  # budgets: three quantiles
    assert sum(s["count"] for s in sub["subspaces"]) + sub["above_last_edge"] == 32
    assert (res / "subspaces/latency_hist.png").stat().st_size > 10_000
    fid = json.loads((res / f"lut/{SLUG}/fidelity.json").read_text())
    # fidelity.per_subspace 3 networks per band, 3 bands
    assert fid["networks"] == 9 and set(fid["after"]) >= {
        "mape_pct",
        "within_10pct",
        "kendall_tau",
        "spearman",
    }
    samples = pd.read_parquet(res / "samples/samples.parquet")
    assert len(samples) == 32 and (samples["predicted_ms"] > 0).all()
    needed, todo = _needed_todo(workflow)
    assert needed == todo > 0
    lut = pd.read_parquet(res / f"lut/{SLUG}/search/lut.parquet")
    assert len(lut) == needed and lut["code"].is_unique

    # nothing left to do
    dry = workflow.run("-n", "--until", "partition_subspaces").stdout
    assert "Nothing to be done" in dry or re.search(r"^total\s+0$", dry, re.M)

    # more candidates: only the missing keys are profiled, the cache grows
    workflow.config(latency=_latency(), **{**FAST, "sampling": {"m": 6}})
    workflow.run("--until", "partition_subspaces")
    needed2, todo2 = _needed_todo(workflow)
    assert needed2 > needed and 0 < todo2 == needed2 - needed
    assert len(pd.read_parquet(res / f"lut/{SLUG}/cache.parquet")) == needed2

    # a complete cache: re-enumerating the same candidates leaves nothing to profile
    workflow.run("--forcerun", "enumerate_layers", "--until", "merge_lut")
    assert _needed_todo(workflow) == (needed2, 0)

    # forcing profiling re-runs the shards and everything downstream, not the sampling
    dry = workflow.run("-n", "--forcerun", "profile_layers", "--until", "partition_subspaces").stdout
    assert "profile_layers" in dry and "merge_lut" in dry and "sample_sobol" not in dry.split("Job stats")[-1]
    rulegraph = workflow.run("--rulegraph").stdout
    for edge in (
        "enumerate_layers",
        "profile_layers",
        "merge_lut",
        "check_lut_fidelity",
        "partition_subspaces",
    ):
        assert edge in rulegraph


@pytest.mark.slow
def test_foreign_device_lut_in_cache_is_refused(workflow):
    workflow.config(latency=_latency(shards=1), **FAST)
    workflow.run("--until", "sample_sobol")
    alien = pd.DataFrame({"code": [1], "key": ["x"], "latency_ms": [1.0], "mad_ms": [0.0], "cv": [0.0],
                          "min_ms": [1.0], "repeats": [5]})  # fmt: skip
    meta = {
        "slug": "tensorrt-cuda-nvidia-a100-fp16-b1",
        "backend": "tensorrt",
        "hardware": "A100",
        "unit": "ms",
    }
    write_table(alien, meta, workflow.path / f"results/lut/{SLUG}/cache.parquet")
    proc = workflow.run("--until", "enumerate_layers", check=False)
    assert proc.returncode != 0
    assert "refusing to mix devices or backends" in proc.stdout + proc.stderr
    assert not (workflow.path / f"results/lut/{SLUG}/search/keys.parquet").exists()
