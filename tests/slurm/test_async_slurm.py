"""The asynchronous search on the test cluster's virtual GPUs (issue 21): each training is a Slurm
job that asks for one GPU the way a GPU site's jobs do, sees its own CUDA_VISIBLE_DEVICES, and a
chain's next trial is proposed as soon as its previous training ends.

The evaluator looks NAS-Bench-201 up (../shared/data/nasbench201_hw.csv, as shipped) and lasts
0.5 s per ms of the row's latency, so trainings of different chains overlap on the cluster.
"""

import datetime
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ..workflow.conftest import ROOT, copy_workflow
from .conftest import run_on_slurm, sacct_rows, show, site_profile

CSV = ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"


def async_config() -> dict:
    preset = yaml.safe_load((ROOT / "config/presets/nasbench201.yaml").read_text())
    preset["subspaces"]["budgets"] = [6.0, 7.0]  # 2 bands
    preset["evaluator"] |= {"csv": str(CSV), "seconds_per_ms": 0.5}  # ~3 s a lookup
    # no search.mode: the shipped Slurm profile makes a cluster run asynchronous
    preset["search"] |= {"in_flight": 4, "rounds": 2, "batch": 2, "init_rounds": 1}
    preset["train"] |= {"gpu": 1, "mem_mb": 400}
    preset["sampling"]["m"] = 12
    return preset


def parse(comment: str) -> tuple[int, int]:
    chain, trial = comment.split("_wildcards_")[1].split("_")
    return int(chain), int(trial)


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.skipif(not CSV.exists(), reason=f"{CSV} is not beside the checkout")
def test_async_search_on_virtual_gpus_each_training_sees_its_own_gpu(slurm_cluster, tmp_path, capsys):
    wf = copy_workflow(tmp_path / "async")
    wf.config(**async_config())
    site_profile(wf.path)
    since = (datetime.datetime.now() - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")
    run_on_slurm(wf.path)
    rows = [r for r in sacct_rows(wf.path, since) if r["Comment"].startswith("rule_train_async")]
    with capsys.disabled():
        print(f"\nsacct rows of the async run ({wf.path}):\n{show(rows)}\n")
    res = wf.path / "results" / "search"
    # asynchronous by the profile: 4 chains x 2 trials (2 bands x 2 rounds x 2), one Slurm job each
    assert sorted(parse(r["Comment"]) for r in rows) == [(k, t) for k in range(4) for t in range(2)]
    assert {r["State"] for r in rows} == {"COMPLETED"}
    jobs = []
    for r in rows:
        chain, trial = parse(r["Comment"])
        folder = res / "async" / f"k{chain:03d}" / f"t{trial:03d}"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["status"] == "complete" and metrics["simulated_s"] > 0
        gpu = metrics["cuda_visible_devices"]
        assert gpu is not None and gpu.isdigit(), f"{folder}: CUDA_VISIBLE_DEVICES={gpu!r}: not one GPU"
        jobs.append((pd.Timestamp(r["Start"]), pd.Timestamp(r["End"]), gpu, folder))
        if trial:  # a chain's next trial was proposed after its previous one had finished
            doc = json.loads((folder / "proposal.json").read_text())
            assert f"k{chain:03d}/t000" in doc["seen"], doc["seen"]
    # trainings that ran at the same time had different GPUs
    overlapping = [(a, b) for i, a in enumerate(jobs) for b in jobs[i + 1 :] if a[0] < b[1] and b[0] < a[1]]
    assert overlapping, "no two trainings ran at once: the test shows nothing about GPU ids"
    for a, b in overlapping:
        assert a[2] != b[2], f"{a[3]} and {b[3]} ran at once on GPU {a[2]}"
    for band in ("s0", "s1"):  # each band ran its rounds x batch trials
        hist = pd.read_parquet(res / band / "history.parquet")
        assert len(hist) == 4 and hist["encoding"].is_unique
    assert json.loads((Path(wf.path) / "results/hub/s1/card.json").read_text())["status"] == "ok"
