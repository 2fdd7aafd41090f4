"""The workflow on a real Slurm cluster: the heavy rules run as Slurm jobs (sacct says so), a killed
training is resubmitted with more memory and then recorded as failed, and the search gives the same
results as a local run from the same latency phase.

Latency timings differ from run to run, so the two runs share one latency phase: copy A runs the
whole workflow on Slurm (profiling, fidelity and training jobs), copy B gets A's latency outputs
and runs only the search, locally.
"""

import datetime
import json
import re
import shutil

import pandas as pd
import pytest

from ..workflow.conftest import Workflow, copy_workflow
from ..workflow.test_search_rules import MINI
from .conftest import SYNC, run_on_slurm, sacct_rows, show, site_profile

# One sub-space, 2 rounds x 2 trainings; the last training is SIGKILLed on every attempt.
SLURM_RUN = {
    **MINI,
    "subspaces": {"kind": "quantiles", "budgets": [1.0]},
    "fidelity": {**MINI["fidelity"], "per_subspace": 5},
    "train": {**MINI["train"]},
    "_inject_fault": {"s0/1/1": "kill"},
    "baselines": {**MINI["baselines"], "enabled": False},
}
KILLED = ("train_candidate", "s0_01_01")
SLURM_RULES = {"profile_layers", "check_lut_fidelity", "prepare_dataset", "train_candidate", "validate_hub"}
LATENCY_RULES = {
    "describe_space", "sample_sobol", "enumerate_layers", "profile_layers", "merge_lut",
    "check_lut_fidelity", "estimate_latency", "partition_subspaces",
}  # fmt: skip
LATENCY_OUTPUTS = [
    "space",
    "samples",
    "lut",
    "subspaces",
    "data",
]  # under results/ (data: its check gates profiling)


def planned_jobs(workflow: Workflow) -> dict[str, int]:
    """Rule -> job count of a dry run."""
    out = workflow.run("-n").stdout
    table = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M) if m[1] != "total"}


@pytest.mark.slurm
@pytest.mark.slow
def test_workflow_on_slurm_equals_local_run(slurm_cluster, tmp_path, capsys):
    on_slurm, local = copy_workflow(tmp_path / "slurm"), copy_workflow(tmp_path / "local")
    on_slurm.config(**SLURM_RUN)
    site_profile(on_slurm.path, config=SYNC)
    local.config(**SLURM_RUN)
    since = (datetime.datetime.now() - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")

    proc = run_on_slurm(on_slurm.path)
    rows = sacct_rows(on_slurm.path, since)
    with capsys.disabled():
        print(f"\nsacct rows of the workflow's jobs ({on_slurm.path}):\n{show(rows)}\n")

    # every heavy job ran as a Slurm job in the test cluster's partition and account, nothing else
    res = on_slurm.path / "results"
    (slug,) = [p.name for p in (res / "lut").iterdir()]
    expected = {("profile_layers", f"{slug}_search_000_001"), ("check_lut_fidelity", slug), ("validate_hub", ""),
                ("prepare_dataset", "")}  # fmt: skip
    expected |= {("train_candidate", f"s0_{r:02d}_{s:02d}") for r in range(2) for s in range(2)}
    jobs: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in sorted(rows, key=lambda r: int(r["JobID"])):
        match = re.fullmatch(r"rule_(\w+?)(?:_wildcards_(.+))?", row["Comment"])
        assert match, f"job {row['JobID']}: unexpected comment {row['Comment']!r}"
        jobs.setdefault((match[1], match[2] or ""), []).append(row)
        assert (row["Partition"], row["Account"]) == ("ci", "gpunas-ci")
        logs = on_slurm.path / ".snakemake/slurm_logs" / f"rule_{match[1]}"
        assert list(logs.rglob(f"{row['JobID']}.log")), f"no Slurm log of job {row['JobID']} in {logs}"
    assert set(jobs) == expected
    assert {rule for rule, _ in jobs} == SLURM_RULES
    for key, attempts in jobs.items():
        states = [a["State"] for a in attempts]
        if key == KILLED:
            # attempt 1 fails, Snakemake resubmits it with twice the memory, attempt 2 records it
            assert states == ["FAILED", "COMPLETED"], states
            assert [a["ReqMem"] for a in attempts] == ["1000M", "2000M"]
        else:
            assert states == ["COMPLETED"], f"{key}: {states}"
    assert "Trying to restart job" in proc.stdout + proc.stderr

    history = pd.read_parquet(res / "search/s0/history_r01.parquet").set_index(["round", "slot"])
    assert len(history) == 4 and (history.drop(index=(1, 1))["status"] == "complete").all()
    killed = history.loc[(1, 1)]
    assert killed["status"] == "failed" and "SIGKILL" in killed["reason"]
    assert "attempt 2 of 2" in killed["reason"]
    assert json.loads((res / "hub/hub.json").read_text())["failed"] == 1

    # the same search, locally, from the Slurm run's latency phase (mtimes kept: nothing reruns)
    for part in LATENCY_OUTPUTS:
        shutil.copytree(res / part, local.path / "results" / part)
    planned = planned_jobs(local)
    assert not set(planned) & LATENCY_RULES, f"the local copy would redo the latency phase: {planned}"
    assert planned["train_candidate"] == 4
    local.run()

    res_local = local.path / "results"
    for r in range(2):
        proposals = f"search/s0/r{r:02d}/proposals.json"
        assert json.loads((res / proposals).read_text()) == json.loads((res_local / proposals).read_text())
    cols = ["round", "slot", "sample", "encoding", "status", "reason", "accuracy", "val_loss", "predicted_ms"]
    again = pd.read_parquet(res_local / "search/s0/history_r01.parquet")
    pd.testing.assert_frame_equal(history.reset_index()[cols], again[cols])
    cards = [json.loads((r / "hub/s0/card.json").read_text()) for r in (res, res_local)]
    assert cards[0]["status"] == "ok" and cards[0]["accuracy"] == history["accuracy"].max()
    assert (cards[0]["accuracy"], cards[0]["arch"]) == (cards[1]["accuracy"], cards[1]["arch"])


# Two sub-spaces, one training each; s1's hangs past its job's 1-minute runtime, on its only attempt.
TIME_LIMIT_RUN = {
    **SLURM_RUN,
    "subspaces": {"kind": "quantiles", "budgets": [0.5, 1.0]},
    "search": {**MINI["search"], "rounds": 1, "batch": 1},
    "train": {**MINI["train"], "runtime": 1, "retries": 0},
    "_inject_fault": {"s1/0/0": "hang"},
}


@pytest.mark.slurm
@pytest.mark.slow
def test_training_past_its_time_limit_is_recorded_and_the_rest_finishes(slurm_cluster, tmp_path, capsys):
    on_slurm = copy_workflow(tmp_path / "slurm")
    on_slurm.config(**TIME_LIMIT_RUN)
    site_profile(on_slurm.path, config=SYNC)
    since = (datetime.datetime.now() - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")
    run_on_slurm(on_slurm.path)  # exits 0: one sub-space trained a model
    rows = sacct_rows(on_slurm.path, since)
    with capsys.disabled():
        print(f"\nsacct rows of the time-limit run ({on_slurm.path}):\n{show(rows)}\n")
    trainings = [r for r in rows if r["Comment"].startswith("rule_train_candidate")]
    assert len(trainings) == 2 and {r["State"] for r in trainings} == {"COMPLETED"}
    res = on_slurm.path / "results"
    hung = pd.read_parquet(res / "search/s1/history_r00.parquet").iloc[0]
    assert hung["status"] == "failed" and hung["reason"].startswith("time limit: stopped after 50 s")
    assert pd.read_parquet(res / "search/s0/history_r00.parquet").iloc[0]["status"] == "complete"
    cards = {s: json.loads((res / f"hub/{s}/card.json").read_text()) for s in ("s0", "s1")}
    # tiers are "best under the budget": s1's own trial failed, so s0's model (under both budgets)
    # wins tier s1 too, and its card says a lower band won
    assert cards["s0"]["status"] == cards["s1"]["status"] == "ok"
    assert cards["s1"]["band"] == "s0" and cards["s1"]["note"] and cards["s1"]["arch"] == cards["s0"]["arch"]
    assert (res / "hub/hub.json").exists()
