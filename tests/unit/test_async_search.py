"""Asynchronous search (gpunas.search.asynchronous): proposals as training slots free, without
the workflow (the rules' test is tests/workflow/test_async_rules.py)."""

import json
import multiprocessing

import numpy as np
import pandas as pd
import pytest

from gpunas.search.asynchronous import (
    async_history,
    liar_history,
    propose_next,
    read_trials,
    trial_id,
    trials_per_chain,
)
from gpunas.search.propose import SearchConfig
from gpunas.spaces import load_space
from gpunas.spaces.sampling import sobol_vectors

BATCH = 4


def _pool():
    space = load_space("tiny")
    vectors = sobol_vectors(space, m=8, seed=0)
    # two bands: the first and the second half of the samples
    bands = [
        {
            "id": f"s{i}",
            "members": list(range(i * 128, (i + 1) * 128)),
            "lo_ms": i,
            "hi_ms": i + 1,
            "empty": False,
        }
        for i in range(2)
    ]
    return space, vectors, np.linspace(0.1, 1.0, len(vectors)), bands


def _accuracy(vector) -> float:
    return float(50 + (np.asarray(vector, dtype=float) * np.arange(1, len(vector) + 1)).sum() % 40)


def _finish(root, band, chain, trial, status="complete"):
    path = root / f"{band}/k{chain:02d}/t{trial:03d}"
    doc = json.loads((path / "proposal.json").read_text())
    e = doc["slots"][0]
    m = {"status": status, "val_top1": _accuracy(e["encoding"]) if status == "complete" else None}
    m |= {k: e[k] for k in ("sample", "encoding", "arch", "predicted_ms", "proposer")}
    (path / "metrics.json").write_text(json.dumps(m))
    return path / "metrics.json"


def _propose(root, pool, band, chain, trial, cfg):
    space, vectors, ms, bands = pool
    out = root / f"s{band}/k{chain:02d}/t{trial:03d}/proposal.json"
    return propose_next(space, vectors, ms, bands[band], chain, trial, root, BATCH, cfg, 0, out)


def test_trials_per_chain_spend_the_rounds_budget():
    assert trials_per_chain(12, 8) == [2, 2, 2, 2, 1, 1, 1, 1]
    assert trials_per_chain(3, 8) == [1, 1, 1]
    assert sum(trials_per_chain(1200 // 6, 32)) == 200
    with pytest.raises(ValueError, match="in_flight"):
        trials_per_chain(10, 0)


def test_pending_trials_are_told_as_the_constant_liar():
    trials = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "subspace": ["s0"] * 4,
            "encoding": ["1", "2", "3", "4"],
            "status": ["complete", "complete", "failed", "pending"],
            "accuracy": [80.0, 90.0, np.nan, np.nan],
        }
    )
    hist, liar = liar_history(trials)
    assert liar == 85.0
    assert hist.loc[3, "status"] == "complete" and hist.loc[3, "accuracy"] == 85.0
    assert hist.loc[2, "status"] == "failed"  # a failed trial stays failed
    hist, liar = liar_history(trials.assign(status="pending"))
    assert liar is None and (hist["status"] == "failed").all()  # nothing to lie with: only excluded


@pytest.mark.parametrize("strategy", ["bo", "trust_region"])
def test_async_run_never_repeats_and_each_proposal_records_what_it_saw(tmp_path, strategy):
    pool = _pool()
    cfg = SearchConfig.from_dict({"strategy": strategy, "batch": BATCH, "init_rounds": 1})
    rng = np.random.default_rng(0)
    chains, per_chain = 3, 5
    nxt = {(b, k): 0 for b in range(2) for k in range(chains)}
    running = []
    for b, k in nxt:  # every slot starts
        _propose(tmp_path, pool, b, k, 0, cfg)
        running.append((b, k, 0))
    finished: set[str] = set()
    while running:
        b, k, t = running.pop(int(rng.integers(len(running))))  # trainings finish in any order
        _finish(tmp_path, f"s{b}", k, t, status="failed" if (b, k, t) == (1, 2, 1) else "complete")
        finished.add(trial_id(f"s{b}", k, t))
        if t + 1 < per_chain:
            doc = _propose(tmp_path, pool, b, k, t + 1, cfg)
            assert set(doc["seen"]) == finished  # learned from every trial finished now
            assert set(doc["pending"]) == {trial_id(f"s{c}", j, u) for c, j, u in running}
            assert doc["sequence"] == len(finished) + len(running)
            running.append((b, k, t + 1))
    trials = read_trials(tmp_path)
    assert len(trials) == 2 * chains * per_chain
    assert not trials["encoding"].duplicated().any()  # never a duplicate, pending ones included
    for b, (_, _, _, bands) in enumerate([pool, pool]):
        rows = [
            json.loads(p.read_text())["slots"][0]["sample"]
            for p in tmp_path.glob(f"s{b}/k*/t*/proposal.json")
        ]
        assert set(rows) <= set(bands[b]["members"])  # always inside its band
    # the first batch of each band is the Sobol order's, as in the synchronous rounds
    s0 = sorted(tmp_path.glob("s0/k*/t*/proposal.json"), key=lambda p: json.loads(p.read_text())["sequence"])
    first = [json.loads(p.read_text())["slots"][0]["sample"] for p in s0[:BATCH]]
    assert first == list(range(BATCH))
    # the band's history, in proposal order, with the failed trial recorded as failed
    props = sorted(str(p) for p in tmp_path.glob("s1/k*/t*/proposal.json"))
    hist = async_history(props, [p.replace("proposal.json", "metrics.json") for p in props])
    assert len(hist) == chains * per_chain and (hist["status"] == "failed").sum() == 1
    assert list(hist["slot"].unique()) != [] and hist["encoding"].is_unique


def _propose_in_process(args):
    root, band, chain = args
    cfg = SearchConfig.from_dict({"strategy": "bo", "batch": BATCH, "init_rounds": 1})
    return _propose(root, _pool(), band, chain, 0, cfg)["sequence"]


def test_proposals_made_at_the_same_time_see_each_other(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as workers:
        sequences = workers.map(_propose_in_process, [(tmp_path, 0, k) for k in range(4)])
    assert sorted(sequences) == [0, 1, 2, 3]  # one at a time, each saw the ones before
    assert not read_trials(tmp_path)["encoding"].duplicated().any()


def test_a_repeated_candidate_or_an_unreadable_proposal_is_refused(tmp_path):
    pool = _pool()
    cfg = SearchConfig.from_dict({"strategy": "random", "batch": BATCH, "init_rounds": 1})
    a = _propose(tmp_path, pool, 0, 0, 0, cfg)
    m = _finish(tmp_path, "s0", 0, 0)
    p = tmp_path / "s0/k00/t000/proposal.json"
    with pytest.raises(ValueError, match="repeat a candidate"):
        async_history([p, p], [m, m])
    assert a["slots"][0]["sample"] == 0
    (tmp_path / "s0/k01/t000").mkdir(parents=True)
    (tmp_path / "s0/k01/t000/proposal.json").write_text("{")
    with pytest.raises(ValueError, match="k01/t000/proposal.json: unreadable"):
        read_trials(tmp_path)
