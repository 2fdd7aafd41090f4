"""Trainings that survive the cluster, on the real test cluster (tests/slurm/cluster.sh), run with
the command users type, `snakemake --profile slurm`:

- test_preempt*: a running training is requeued (`scontrol requeue`, what preemption with
  PreemptMode=REQUEUE does): Slurm runs the same job again, it resumes from its checkpoint and
  ends bit for bit as an uninterrupted training of the same spec;
- test_time_limit*: a training longer than its job's runtime stops itself, checkpointed, before
  the limit; the job fails, Snakemake's retry resumes it and it completes;
- test_node_failure*: the node crashes under a training (slurmd, its step daemons and the job's
  processes SIGKILLed, slurmd started again); Slurm requeues the job, it resumes from its last
  periodic checkpoint and completes; the training that had finished is not run again;
- test_missing_gpu*: a job that asked for a GPU sees none (the node's GPUs are virtual): the job
  fails (nothing is recorded as a failed candidate) and the run exits non-zero naming why.

The latency phase is computed once, locally, and copied into each test's workflow (its outputs
keep their times, so nothing of it reruns); only trainings run on Slurm.
"""

import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from ..workflow.conftest import Workflow, copy_workflow
from ..workflow.test_search_rules import MINI
from .conftest import SYNC, TIMEOUT_S, sacct_rows, show, site_profile, slurm_command, slurm_logs

# One sub-space; trainings of 2,000 images x 3 epochs (~20 s on one core), checkpointed every 6 s.
BASE = {
    **MINI,
    "subspaces": {"kind": "quantiles", "budgets": [1.0]},
    "fidelity": {**MINI["fidelity"], "per_subspace": 5},
    "data": {**MINI["data"], "train_images": 2000},
    "train": {**MINI["train"], "epochs": 3, "retries": 0, "checkpoint_minutes": 0.1},
    "search": {**MINI["search"], "rounds": 1, "batch": 1},
    "_inject_fault": {},
    "baselines": {**MINI["baselines"], "enabled": False},
}
STATE = Path(os.environ.get("GPUNAS_SLURM_STATE", "/var/lib/gpunas-slurm"))


@pytest.fixture(scope="module")
def latency_phase(tmp_path_factory) -> Path:
    """The latency phase and the prepared dataset of BASE, run once, locally."""
    workflow = copy_workflow(tmp_path_factory.mktemp("latency"))
    workflow.config(**BASE)
    workflow.run("--until", "partition_subspaces", "prepare_dataset")
    return workflow.path / "results"


def with_latency_phase(tmp_path: Path, latency_phase: Path, **config) -> Workflow:
    """A workflow copy with ``config`` over BASE, the latency phase copied in, the test cluster's profile."""
    workflow = copy_workflow(tmp_path / "wf")
    workflow.config(**{**BASE, **config})
    shutil.copytree(latency_phase, workflow.path / "results")  # times kept: nothing of it reruns
    site_profile(workflow.path, config=SYNC)
    return workflow


def since_now() -> str:
    return (datetime.datetime.now() - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")


def wait_for(what: str, check: Callable[[], object], run: "Run", timeout: float = 300) -> object:
    """Poll ``check`` every 0.5 s until it returns something true; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if run.ended():
            raise AssertionError(
                f"the run ended ({run.proc.returncode}) before {what}:\n{run.out.read_text()[-4000:]}"
            )
        time.sleep(0.5)
    raise AssertionError(f"{what}: not after {timeout:.0f} s")


class Run:
    """The workflow running on the cluster in the background; its output goes to ``run.out`` (a pipe
    would fill up and block it)."""

    def __init__(self, workflow: Workflow, *targets: str) -> None:
        self.out = workflow.path / "run.out"
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen(slurm_command(*targets), cwd=workflow.path, stdout=out,
                                         stderr=subprocess.STDOUT, text=True)  # fmt: skip

    def ended(self) -> bool:
        return self.proc.poll() is not None

    def finish(self) -> tuple[int, str]:
        """Wait for the run; its exit status and output."""
        self.proc.wait(timeout=TIMEOUT_S + 30)
        return self.proc.returncode, self.out.read_text()


def running_job(workdir: Path, comment: str) -> str | None:
    """The Slurm job ID of the running job whose comment is ``comment`` (the plugin's rule_...
    string), from squeue (sacct has no comment before a job ends)."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k|%Z"], capture_output=True, text=True
    ).stdout
    rows = [line.split("|") for line in out.splitlines()]
    return next((job for job, c, wd in rows if c == comment and Path(wd) == workdir.resolve()), None)


def job_state(job_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
    return next((w.split("=", 1)[1] for w in out.split() if w.startswith("JobState=")), "")


def requeued(job_id: str, run: "Run") -> None:
    """Wait until Slurm has put ``job_id`` back in the queue (it starts again after the credential
    lifetime, 30 s on the test cluster)."""
    wait_for(f"job {job_id} pending again", lambda: job_state(job_id) == "PENDING", run, timeout=120)


def checkpointed(log: Path) -> Callable[[], bool]:
    return lambda: log.exists() and "checkpoint at step" in log.read_text()


def crash_node(down_s: float = 30) -> None:
    """What a crash does to the node: slurmd, every slurmstepd and every process of every job die
    at once (SIGKILL); the node is down for ``down_s`` (a reboot), then slurmd starts again.

    When slurmd registers, slurmctld requeues a batch job the node no longer runs once it has not
    heard of the job for longer than BatchStartTimeout plus MessageTimeout (10 + 10 s here)."""
    import psutil

    victims = []
    for p in psutil.process_iter(["name"]):
        name = p.info["name"] or ""
        if name == "slurmd" or name.startswith("slurmstepd"):  # not slurmdbd: the node, not the controller
            victims += [p, *p.children(recursive=True)]
    for p in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(victims, timeout=10)
    time.sleep(down_s)
    subprocess.run(["slurmd"], check=True)


def same_training(result: dict, reference: dict) -> None:
    for key in ("status", "val_top1", "val_loss", "curve", "steps", "images_seen", "params"):
        assert result[key] == reference[key], key


def uninterrupted(workdir: Path, run: Path, out: Path) -> dict:
    """Train the spec of ``run`` again, in one go, as the job's child process does; its result."""
    out.mkdir(parents=True)
    shutil.copy(run / "spec.json", out / "spec.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GPUNAS_CHECKPOINT_S": "0"}
    subprocess.run([sys.executable, "-m", "gpunas.training.trial", str(out / "spec.json")], cwd=workdir,
                   env=env, check=True, timeout=300, capture_output=True)  # fmt: skip
    return json.loads((out / "result.json").read_text())


def same_weights(a: object, b: object, where: str = "weights.pt") -> None:
    """Two saved weight files (or parts of them) are equal, every tensor bit for bit."""
    if isinstance(a, Path):
        a, b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            same_weights(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


@pytest.mark.slurm
@pytest.mark.slow
def test_preempt_requeued_training_resumes_and_ends_as_an_uninterrupted_one(
    slurm_cluster, latency_phase, tmp_path, capsys
):
    workflow = with_latency_phase(tmp_path, latency_phase)
    since = since_now()
    run = Run(workflow, "results/search/s0/history_r00.parquet")
    trial = workflow.path / "results/search/s0/r00/s00/run"
    job = wait_for("the training job running", lambda: running_job(workflow.path, "rule_train_candidate_wildcards_s0_00_00"), run)  # fmt: skip
    wait_for("a first checkpoint", checkpointed(trial / "train.log"), run)
    subprocess.run(["scontrol", "requeue", job], check=True)  # what preemption (PreemptMode=REQUEUE) does
    requeued(job, run)
    code, output = run.finish()
    assert code == 0, f"{output[-6000:]}\n{slurm_logs(workflow.path)}"
    runs = [r for r in sacct_rows(workflow.path, since, duplicates=True) if r["JobID"] == job]
    with capsys.disabled():
        print(f"\nsacct -D rows of the requeued training job:\n{show(runs)}\n")
    assert [r["State"] for r in runs] == ["REQUEUED", "COMPLETED"]  # the same job, run twice by Slurm

    log = (trial / "train.log").read_text()
    assert "stopped at step" in log and "resumed from" in log  # checkpointed on SIGTERM, then resumed
    assert not (trial / "checkpoint.pt").exists()  # deleted once the trial was recorded
    history = pd.read_parquet(workflow.path / "results/search/s0/history_r00.parquet")
    assert list(history["status"]) == ["complete"]
    result = json.loads((trial / "result.json").read_text())
    reference = uninterrupted(workflow.path, trial, tmp_path / "reference")
    same_training(result, reference)
    same_weights(trial / "weights.pt", tmp_path / "reference/weights.pt")
    assert history["accuracy"].iloc[0] == reference["val_top1"]


@pytest.mark.slurm
@pytest.mark.slow
def test_time_limit_with_attempts_left_resumes_on_the_next_attempt(
    slurm_cluster, latency_phase, tmp_path, capsys
):
    # 12 epochs (~70 s) in a 1-minute job: stopped at 50 s, checkpointed; attempt 2 (2 minutes) resumes
    train = {**BASE["train"], "epochs": 12, "runtime": 1, "retries": 1, "checkpoint_minutes": 0}
    workflow = with_latency_phase(tmp_path, latency_phase, train=train)
    since = since_now()
    code, output = Run(workflow, "results/search/s0/history_r00.parquet").finish()
    assert code == 0, f"{output[-6000:]}\n{slurm_logs(workflow.path)}"
    rows = [r for r in sacct_rows(workflow.path, since) if r["Comment"].startswith("rule_train_candidate")]
    with capsys.disabled():
        print(f"\nsacct rows of the training's attempts:\n{show(rows)}\n")
    assert [r["State"] for r in rows][-1] == "COMPLETED" and len(rows) == 2
    assert rows[0]["State"] in ("FAILED", "TIMEOUT")
    # attempt 1's reason, in its Slurm log
    assert "time limit: stopped after 50 s of the job's runtime" in slurm_logs(workflow.path)
    trial = workflow.path / "results/search/s0/r00/s00/run"
    log = (trial / "train.log").read_text()
    assert "resumed from" in log and "epoch 12/12" in log
    history = pd.read_parquet(workflow.path / "results/search/s0/history_r00.parquet")
    assert list(history["status"]) == ["complete"]


@pytest.mark.slurm
@pytest.mark.slow
def test_node_failure_requeues_the_job_which_resumes_and_nothing_finished_is_redone(
    slurm_cluster, latency_phase, tmp_path, capsys
):
    # two rounds of one training: round 0's finishes, the node crashes under round 1's. 8 epochs
    # (~50 s on one core), so that a periodic checkpoint (every 6 s) comes well before the end
    # whichever network round 1 proposes (with 3 epochs a small one ended before its first).
    train = {**BASE["train"], "epochs": 8}
    search = {**BASE["search"], "rounds": 2}
    workflow = with_latency_phase(tmp_path, latency_phase, search=search, train=train)
    since = since_now()
    # The plugin keeps the failed node out of every later submission of the run; on this one-node
    # cluster a later job would never start, so the run stops at the search's history.
    run = Run(workflow, "results/search/s0/history_r01.parquet")
    trial = workflow.path / "results/search/s0/r01/s00/run"
    job = wait_for("round 1's training running", lambda: running_job(workflow.path, "rule_train_candidate_wildcards_s0_01_00"), run)  # fmt: skip
    wait_for("a periodic checkpoint", checkpointed(trial / "train.log"), run)
    crash_node()
    requeued(job, run)
    code, output = run.finish()
    assert code == 0, f"{output[-6000:]}\n{slurm_logs(workflow.path)}"
    rows = sacct_rows(workflow.path, since, duplicates=True)
    trainings = [r for r in rows if r["Comment"].startswith("rule_train_candidate")]
    with capsys.disabled():
        print(f"\nsacct -D rows of the trainings:\n{show(trainings)}\n")
    by_comment: dict[str, list[str]] = {}
    for r in trainings:
        by_comment.setdefault(r["Comment"], []).append(r["State"])
    assert by_comment == {
        "rule_train_candidate_wildcards_s0_00_00": ["COMPLETED"],  # finished before: not redone
        "rule_train_candidate_wildcards_s0_01_00": ["NODE_FAIL", "COMPLETED"],  # requeued by Slurm
    }
    log = (trial / "train.log").read_text()
    assert "resumed from" in log and "epoch 8/8" in log
    history = pd.read_parquet(workflow.path / "results/search/s0/history_r01.parquet")
    assert list(history["status"]) == ["complete", "complete"]


@pytest.mark.slurm
@pytest.mark.slow
def test_missing_gpu_fails_the_job_not_the_candidate_and_the_run_says_why(
    slurm_cluster, latency_phase, tmp_path, capsys
):
    # train.gpu 1: the job asks Slurm for a GPU (a virtual one: CUDA_VISIBLE_DEVICES is set, torch
    # sees none); mem_mb as the budget check wants for a CUDA training
    workflow = with_latency_phase(tmp_path, latency_phase, train={**BASE["train"], "gpu": 1, "mem_mb": 4000})
    since = since_now()
    code, output = Run(workflow, "results/search/s0/history_r00.parquet").finish()
    rows = [r for r in sacct_rows(workflow.path, since) if r["Comment"].startswith("rule_train_candidate")]
    with capsys.disabled():
        print(f"\nsacct rows of the training job:\n{show(rows)}\n")
    assert code != 0
    assert [r["State"] for r in rows] == ["FAILED"]
    assert "job failed, not its candidate (MissingGPUError): no CUDA device visible on node" in output
    assert "CUDA_VISIBLE_DEVICES=0" in output  # Slurm gave the job a GPU; torch saw none
    trial = workflow.path / "results/search/s0/r00/s00"
    # nothing recorded, nothing trained
    assert not (trial / "metrics.json").exists() and not (trial / "run").exists()
