"""Kill the driver (and its jobs) mid-search with SIGKILL, rerun, and lose nothing."""

import subprocess

import pandas as pd
import pytest

from .conftest import kill_after
from .test_search_rules import MINI

RESUME = {
    **MINI,
    "train": {**MINI["train"]},
    "_inject_fault": {},
    "search": {**MINI["search"], "rounds": 3},
    "baselines": {**MINI["baselines"], "enabled": False},
}


def _trainings(trial_dir):
    log = trial_dir / "run" / "train.log"
    return log.read_text().count("epoch 1/1") if log.exists() else 0


@pytest.mark.slow
def test_sigkill_mid_search_then_resume(workflow):
    workflow.config(**RESUME)
    res = workflow.path / "results" / "search"
    kill_after(workflow, "*/r*/s*/metrics.json", 3)  # the driver and every job it started, mid-search
    done_before = {p.parent: _trainings(p.parent) for p in res.glob("*/r*/s*/metrics.json")}
    assert done_before and not (workflow.path / "results/hub/hub.json").exists()

    workflow.run("--unlock")
    workflow.run()  # the profile sets rerun-incomplete: half-written outputs are redone
    for trial, count in done_before.items():
        assert _trainings(trial) == count == 1, f"{trial} was trained again"
    killed = {s: pd.read_parquet(res / f"{s}/history_r02.parquet") for s in ("s0", "s1")}

    # an uninterrupted search from the same samples and sub-spaces gives the same history
    for path in [workflow.path / "results" / "search", workflow.path / "results" / "hub"]:
        subprocess.run(["rm", "-rf", str(path)], check=True)
    workflow.run()
    cols = ["round", "slot", "sample", "encoding", "status", "accuracy", "predicted_ms"]
    for s, hist in killed.items():
        again = pd.read_parquet(res / f"{s}/history_r02.parquet")
        pd.testing.assert_frame_equal(hist[cols], again[cols])
