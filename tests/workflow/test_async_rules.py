"""search.mode async as a real Snakemake run: four chains of trials shared by two bands, each trial
proposed when its chain's previous training finished, from every trial finished at that moment."""

import json
import os
import re

import pandas as pd
import pytest
import yaml

from ..conftest import ROOT
from .conftest import kill_after
from .test_search_rules import MINI

DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())

ASYNC = {k: v for k, v in MINI.items() if k != "_inject_fault"} | {
    "search": {"strategy": "bo", "rounds": 2, "batch": 2, "init_rounds": 1, "pool": 64, "mode": "async", "in_flight": 4},
    "baselines": DEFAULT["baselines"] | {"enabled": False},
    "final": DEFAULT["final"] | {"enabled": False},
}  # fmt: skip


@pytest.mark.slow
def test_async_search_records_what_each_proposal_saw_and_resumes(workflow):
    workflow.config(**ASYNC)
    res = workflow.path / "results" / "search"
    kill_after(workflow, "async/k*/t*/metrics.json", 3)  # the driver and every job it started, mid-search
    trained = {p.parent: p.stat().st_mtime for p in res.glob("async/k*/t*/metrics.json")}
    proposed = {p: p.read_text() for p in res.glob("async/k*/t*/proposal.json")}
    workflow.run("--unlock")
    again = workflow.run()  # the profile sets rerun-incomplete
    assert "rule propose_candidates" not in again.stderr
    # kill and resume: a training whose job had finished is not redone; one killed after writing
    # its metrics but before Snakemake recorded it is redone as incomplete (rerun-incomplete:
    # "Forced execution")
    jobs = again.stderr.split("rule train_async:")[1:]
    redone = {re.search(r"output: (\S+)/metrics\.json", j)[1]: j for j in jobs}
    retrained = set()
    for trial, mtime in trained.items():
        if (trial / "metrics.json").stat().st_mtime != mtime:
            name = str(trial.relative_to(workflow.path))
            reason = redone[name].split("reason:")[1].splitlines()[0]
            assert "Forced execution" in reason or "Incomplete" in reason, (
                f"{name} was trained again: {reason}"
            )
            retrained.add(str(trial.relative_to(res / "async")))
    for path, text in proposed.items():  # no proposal made before the kill is made again
        assert path.read_text() == text, path
    props = {p: json.loads(p.read_text()) for p in res.glob("async/k*/t*/proposal.json")}
    assert len(props) == 4 * 2  # chains x trials per chain (bands x rounds x batch)
    encodings = [tuple(d["slots"][0]["encoding"]) for d in props.values()]
    assert len(set(encodings)) == len(encodings)  # never a duplicate
    sequences = sorted(d["sequence"] for d in props.values())
    assert sequences == list(range(len(props)))  # proposals were made one at a time
    for path, doc in props.items():
        made = path.stat().st_mtime
        for name in set(doc["seen"]) - retrained:  # finished before the proposal was made
            assert os.stat(res / "async" / name / "metrics.json").st_mtime <= made, (path, name)
        # in flight when the proposal read the trials (its `seconds` before writing): its metrics
        # came later (a training may finish while the proposal is computed)
        read = made - doc["seconds"] - 0.2
        for name in doc["pending"]:
            assert os.stat(res / "async" / name / "metrics.json").st_mtime >= read, (path, name)
        if doc["round"]:  # a chain's next trial waited for its previous one only
            prev = f"k{doc['chain']:03d}/t{doc['round'] - 1:03d}"
            assert prev in doc["seen"]
    for band in ("s0", "s1"):
        hist = pd.read_parquet(res / band / "history.parquet")
        # each band runs its rounds x batch trials, on whichever chains had a slot free
        assert len(hist) == 4 and hist["encoding"].is_unique and (hist["status"] == "complete").all()
        assert set(hist["slot"]) <= {0, 1, 2, 3} and set(hist["round"]) <= {0, 1}
    hub = json.loads((workflow.path / "results/hub/hub.json").read_text())
    assert all(t["status"] == "ok" for t in hub["tiers"])
