"""Asynchronous search (gpunas.search.asynchronous): proposals as training slots free, without
the workflow (the rules' test is tests/workflow/test_async_rules.py)."""

import itertools
import json
import multiprocessing

import numpy as np
import pandas as pd
import pytest

from gpunas.search.asynchronous import (
    async_history,
    choose_band,
    liar_history,
    propose_next,
    read_trials,
    reusable_fit,
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


def _finish(root, chain, trial, status="complete"):
    path = root / trial_id(chain, trial)
    doc = json.loads((path / "proposal.json").read_text())
    e = doc["slots"][0]
    m = {"status": status, "val_top1": _accuracy(e["encoding"]) if status == "complete" else None}
    m |= {k: e[k] for k in ("sample", "encoding", "arch", "predicted_ms", "proposer")}
    (path / "metrics.json").write_text(json.dumps(m))
    return path / "metrics.json"


def _propose(root, pool, chain, trial, cfg, budget=8):
    space, vectors, ms, bands = pool
    out = root / trial_id(chain, trial) / "proposal.json"
    return propose_next(space, vectors, ms, bands, budget, chain, trial, root, BATCH, cfg, 0, out)


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


def test_the_next_trial_goes_to_the_band_with_the_most_work_left():
    budgets, costs = np.array([4, 4, 4]), np.array([1.0, 3.0, 0.0])  # band 2 is empty (cost 0)
    started, order = np.zeros(3, dtype=int), []
    while (b := choose_band(budgets, started, costs)) is not None:
        order.append(b)
        started[b] += 1
    # every trial of the non-empty bands, none of the empty one's; the slow band's start first
    assert started.tolist() == [4, 4, 0]
    assert order == [1, 1, 1, 0, 0, 1, 0, 0]  # work left 12/4, 9/4, 6/4, 3/4, 3/3 (tie: first)...
    assert choose_band(np.array([2]), np.array([2]), np.array([5.0])) is None
    # every band's initial design (here 2 trials) first, the slow band's first; then work left
    started, order = np.zeros(3, dtype=int), []
    while (b := choose_band(budgets, started, costs, init=2)) is not None:
        order.append(b)
        started[b] += 1
    assert order == [1, 1, 0, 0, 1, 1, 0, 0]  # then work left 6/4, 3/4, 3/3 (tie: first)...
    # an initial design larger than the budget: the budget
    assert choose_band(np.array([1, 3]), np.array([1, 0]), np.array([9.0, 1.0]), init=2) == 1


@pytest.mark.parametrize("strategy", ["bo", "trust_region"])
def test_async_run_never_repeats_and_each_proposal_records_what_it_saw(tmp_path, strategy):
    pool = _pool()
    cfg = SearchConfig.from_dict({"strategy": strategy, "batch": BATCH, "init_rounds": 1})
    rng = np.random.default_rng(0)
    chains, per_chain, budget = 4, 4, 8  # 16 trials: 8 per band
    running = []
    for k in range(chains):  # every slot starts
        _propose(tmp_path, pool, k, 0, cfg, budget)
        running.append((k, 0))
    finished: set[str] = set()
    while running:
        k, t = running.pop(int(rng.integers(len(running))))  # trainings finish in any order
        _finish(tmp_path, k, t, status="failed" if (k, t) == (2, 1) else "complete")
        finished.add(trial_id(k, t))
        if t + 1 < per_chain:
            doc = _propose(tmp_path, pool, k, t + 1, cfg, budget)
            assert set(doc["seen"]) == finished  # learned from every trial finished now
            assert set(doc["pending"]) == {trial_id(j, u) for j, u in running}
            assert doc["sequence"] == len(finished) + len(running)
            running.append((k, t + 1))
    trials = read_trials(tmp_path)
    assert len(trials) == chains * per_chain
    assert trials["subspace"].value_counts().to_dict() == {"s0": budget, "s1": budget}
    assert not trials["encoding"].duplicated().any()  # never a duplicate, pending ones included
    bands = pool[3]
    docs = [json.loads(p.read_text()) for p in tmp_path.glob("k*/t*/proposal.json")]
    for doc in docs:
        band = bands[int(doc["subspace"][1:])]
        assert doc["slots"][0]["sample"] in band["members"]  # always inside its band
    # the first batch of each band is the Sobol order's, as in the synchronous rounds
    for band in bands:
        mine = sorted((d for d in docs if d["subspace"] == band["id"]), key=lambda d: d["sequence"])
        assert [d["slots"][0]["sample"] for d in mine[:BATCH]] == band["members"][:BATCH]
    # the slower band (s1: the higher predicted latencies) got its trials started first
    first = sorted(docs, key=lambda d: d["sequence"])[:chains]
    assert [d["subspace"] for d in first].count("s1") > chains // 2
    # each band's history, in proposal order, with the failed trial recorded as failed
    props = sorted(str(p) for p in tmp_path.glob("k*/t*/proposal.json"))
    metrics = [p.replace("proposal.json", "metrics.json") for p in props]
    hists = {b["id"]: async_history(props, metrics, b["id"]) for b in bands}
    assert [len(h) for h in hists.values()] == [budget, budget]
    assert sum((h["status"] == "failed").sum() for h in hists.values()) == 1
    assert all(h["encoding"].is_unique for h in hists.values())


def test_more_trials_than_the_bands_budgets_are_skipped(tmp_path):
    pool = _pool()
    cfg = SearchConfig.from_dict({"strategy": "random", "batch": BATCH, "init_rounds": 1})
    docs = [_propose(tmp_path, pool, k, 0, cfg, budget=1) for k in range(3)]
    assert sorted(d["subspace"] for d in docs[:2]) == ["s0", "s1"]
    assert docs[2]["slots"][0] == {
        "skip": True,
        "reason": "every band has run its trials",
        "proposer": "none",
        "slot": 0,
    }
    assert docs[2]["sequence"] == 2 and len(read_trials(tmp_path)) == 2


def _propose_in_process(args):
    root, chain = args
    cfg = SearchConfig.from_dict({"strategy": "bo", "batch": BATCH, "init_rounds": 1})
    return _propose(root, _pool(), chain, 0, cfg)["sequence"]


def test_proposals_made_at_the_same_time_see_each_other(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as workers:
        sequences = workers.map(_propose_in_process, [(tmp_path, k) for k in range(4)])
    assert sorted(sequences) == [0, 1, 2, 3]  # one at a time, each saw the ones before
    assert not read_trials(tmp_path)["encoding"].duplicated().any()


def test_a_repeated_candidate_or_an_unreadable_proposal_is_refused(tmp_path):
    pool = _pool()
    cfg = SearchConfig.from_dict({"strategy": "random", "batch": BATCH, "init_rounds": 1})
    a = _propose(tmp_path, pool, 0, 0, cfg)
    m = _finish(tmp_path, 0, 0)
    p = tmp_path / "k000/t000/proposal.json"
    with pytest.raises(ValueError, match="repeat a candidate"):
        async_history([p, p], [m, m], a["subspace"])
    assert a["slots"][0]["sample"] == a["slots"][0]["sample"] in pool[3][1]["members"][:1]
    (tmp_path / "k001/t000").mkdir(parents=True)
    (tmp_path / "k001/t000/proposal.json").write_text("{")
    with pytest.raises(ValueError, match="k001/t000/proposal.json: unreadable"):
        read_trials(tmp_path)


def test_async_proposals_refit_the_gp_once_per_batch_of_finished_trials(tmp_path):
    pool = _pool()
    cfg = SearchConfig.from_dict({"strategy": "bo", "batch": BATCH, "init_rounds": 1, "restarts": 0})
    for k in range(2):  # two chains, trials finishing in turn
        _propose(tmp_path, pool, k, 0, cfg, budget=16)
    fits = []
    for t in range(1, 7):
        for k in range(2):
            _finish(tmp_path, k, t - 1)
            doc = _propose(tmp_path, pool, k, t, cfg, budget=16)
            fits.append((len(doc["seen"]), doc["model"].get("surrogate")))
    gp = [(seen, f) for seen, f in fits if f is not None]
    assert gp, "no GP proposal"
    refits = [seen for seen, f in gp if f["refit"]]
    # a fit, then its hyperparameters reused until BATCH more trials have finished
    assert refits[0] == gp[0][0] and all(b - a >= BATCH for a, b in itertools.pairwise(refits))
    assert len(refits) < len(gp)  # some proposals reused a fit
    for seen, f in gp:
        assert 0 <= seen - f["fitted_at"] < BATCH  # never older than a batch of trials
        if not f["refit"]:
            fitter = next(x for s, x in gp if x["refit"] and s == f["fitted_at"])
            assert f["theta"] == fitter["theta"]  # the fit it names, exactly


def test_reusable_fit_reads_the_latest_fit_and_its_age():
    fit = {"theta": [0.1, 0.2], "fitted_at": 3, "refit": True}
    trials = pd.DataFrame(
        {
            "sequence": [0, 1, 2, 3, 4],
            "status": ["complete", "complete", "failed", "complete", "pending"],
            "fit": [None, {"theta": [9.0], "fitted_at": 0}, fit, None, None],
        }
    )
    assert reusable_fit(trials, batch=2) is fit  # 4 finished, fitted at 3
    assert reusable_fit(trials, batch=1) is None  # a batch of 1: refit every time
    assert reusable_fit(trials.assign(fit=None), batch=8) is None
    assert reusable_fit(trials.drop(columns="fit"), batch=8) is None
