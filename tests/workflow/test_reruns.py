"""Reruns change only what changed: editing a parallelism setting, adding a round, raising a
training's memory or adding baseline variants re-measures nothing and retrains nothing."""

import re

import pandas as pd
import pytest
import yaml

from .test_search_rules import MINI

BASE = {
    **MINI,
    "train": {**MINI["train"]},
    "_inject_fault": {},
    "search": {**MINI["search"], "rounds": 3, "batch": 1},
    "baselines": {**MINI["baselines"], "families": ["resnet"], "phis": [-6, -3]},
}
# The documented way to extend a run without redoing anything whose output would not change
# (README, Operations): every rerun trigger but the changed set of a job's input files.
EXTEND = ["--rerun-triggers", "mtime", "params", "code", "software-env"]


def planned(workflow, *args) -> dict[str, int]:
    out = workflow.run("-n", *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M) if m[1] != "total"}


def state(res):
    """What has been measured (layer keys, networks) and trained so far."""
    (lut,) = (res / "lut").iterdir()
    cache = pd.read_parquet(lut / "cache.parquet")
    networks = pd.read_parquet(lut / "networks.parquet")
    trainings = {
        p.parent.parent: (p.read_text().count("epoch 1/1"), (p.parent / "spec.json").read_text())
        for p in res.rglob("run/train.log")
    }
    return dict(zip(cache["code"], cache["measured_at"], strict=True)), set(networks["key"]), trainings


def edit(workflow, section, **values):
    path = workflow.path / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg[section] = {**cfg[section], **values}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def unchanged(before, after, new_keys_ok=False, new_networks_ok=False):
    keys0, nets0, runs0 = before
    keys1, nets1, runs1 = after
    assert {k: keys1[k] for k in keys0} == keys0, "a layer key was measured again"
    assert new_keys_ok or keys1 == keys0
    assert nets0 <= nets1 and (new_networks_ok or nets1 == nets0), "a network was measured again"
    for trial, (count, spec) in runs0.items():
        if runs1[trial][1] == spec:  # a trial whose spec changed (a new pick for its slot) trains anew
            assert runs1[trial][0] == count == 1, f"{trial} was trained again"


@pytest.mark.slow
def test_edits_rerun_only_what_changed(workflow):
    workflow.config(**BASE)
    workflow.run()
    res = workflow.path / "results"
    before = state(res)

    # latency.shards is parallelism: with the documented triggers nothing reruns; with the default
    # ones the bookkeeping reruns, but no key, network or training is measured or trained again
    edit(workflow, "latency", shards=2)
    assert planned(workflow, *EXTEND) == {}
    assert "train_candidate" in planned(workflow)  # the default triggers see a changed set of shard files
    workflow.run()
    unchanged(before, state(res))

    # train.mem_mb is a resource: nothing to do
    edit(workflow, "train", mem_mb=1500)
    assert planned(workflow) == {}

    # one more round: only its jobs and what summarises the search; earlier rounds stay
    edit(workflow, "search", rounds=4)
    jobs = planned(workflow)
    assert jobs["train_candidate"] == 2 and jobs["propose_candidates"] == 2  # round 3 of both sub-spaces
    assert not {"profile_layers", "check_lut_fidelity", "enumerate_layers", "train_baseline"} & set(jobs)
    workflow.run()
    after = state(res)
    unchanged(
        before,
        (after[0], after[1], {t: n for t, n in after[2].items() if t in before[2]}),
        new_networks_ok=True,
    )  # fmt: skip  a new hub model is validated once
    before = after

    # one more baseline variant: its keys are measured, the search is not touched; a slot whose
    # pick is unchanged is not retrained
    edit(workflow, "baselines", phis=[-6, -3, 0])
    jobs = planned(workflow)
    assert "list_baselines" in jobs and "train_candidate" not in jobs and "check_lut_fidelity" not in jobs
    assert not {"estimate_latency", "partition_subspaces", "propose_candidates", "select_hub"} & set(jobs)
    workflow.run()
    after = state(res)
    unchanged(before, after, new_keys_ok=True)
    assert sum(after[2][t][1] == spec for t, (_, spec) in before[2].items()) >= len(before[2]) - 2
