"""Asynchronous search (``search.mode: async``): a proposal as soon as a training slot frees.

The run has ``search.in_flight`` chains of trials in all, shared by the bands; trial ``t`` of chain
``k`` is proposed when the chain's trial ``t - 1`` has finished. The proposal first picks the band
(:func:`choose_band`: after every band's initial design, the one with the most training work
left, so slow bands start early and every band finishes about when the others do; no GPU idles
because a fast band has spent its budget), then its candidate from every trial finished at that
moment (every band's with the shared surrogate), the trials still in flight told to the model as the constant liar (their
accuracy taken as the mean of the finished ones; Ginsbourger, Le Riche and Carraro 2010). No
trial waits for another band or another chain. Proposals are made one at a time under a lock (no
two proposals see the same state, so none repeats another's candidate), and each records the
trials it saw and those in flight, so a run can be audited and each proposal replayed.

Files (``root`` = ``results/search/async``): ``k<chain>/t<trial>/proposal.json`` (its band inside)
and, once trained, ``metrics.json`` beside it. What a proposal sees depends on the order trainings
finish: unlike the synchronous rounds, a rerun from scratch is not bit-reproducible.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.io import atomic_write_json
from gpunas.search.history import HISTORY_COLUMNS, candidate_entry, trial_row

PROPOSAL = "proposal.json"
METRICS = "metrics.json"


def trial_id(chain: int, trial: int) -> str:
    """The trial's name in records and its folder under the search root: ``k<chain>/t<trial>``."""
    return f"k{chain:03d}/t{trial:03d}"


def trials_per_chain(total: int, in_flight: int) -> list[int]:
    """How many trials each of ``in_flight`` chains runs so that they run ``total`` in all (the
    first chains one more when it does not divide)."""
    if in_flight < 1:
        raise ValueError(f"search.in_flight must be >= 1, got {in_flight}")
    chains = min(in_flight, max(total, 1))
    return [total // chains + (k < total % chains) for k in range(chains)]


def read_trials(root: str | Path, skipped: bool = False) -> pd.DataFrame:
    """Every asynchronous trial under ``root``: one row per proposal (``id``, ``subspace``,
    ``chain``, ``trial``, ``sequence``: the order proposals were made, ``encoding``, ``status``:
    ``pending`` until its metrics exist, then theirs, ``accuracy``, ``fit``: its GP's record or
    None, :func:`reusable_fit`); skipped proposals (no candidate) only with ``skipped`` (status
    ``skipped``, encoding ``""``). Unreadable files raise ``ValueError`` naming the file."""
    rows = []
    for path in sorted(Path(root).glob(f"k*/t*/{PROPOSAL}")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable proposal ({exc})") from None
        entry = doc["slots"][0]
        if entry.get("skip"):
            if skipped:
                rows.append(_row(doc, "", "skipped", np.nan))
            continue
        status, accuracy = "pending", np.nan
        metrics = path.with_name(METRICS)
        if metrics.exists() and metrics.stat().st_size:
            try:
                m = json.loads(metrics.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"{metrics}: unreadable metrics ({exc})") from None
            status = m["status"]
            accuracy = m.get("val_top1") if status == "complete" else np.nan
            if status == "complete" and not np.isfinite(accuracy if accuracy is not None else np.nan):
                status, accuracy = "failed", np.nan
        rows.append(_row(doc, ",".join(str(int(v)) for v in entry["encoding"]), status, accuracy))
    return (
        pd.DataFrame(rows, columns=TRIAL_COLUMNS)
        .sort_values("sequence", kind="stable")
        .reset_index(drop=True)
    )


TRIAL_COLUMNS = ["id", "subspace", "chain", "trial", "sequence", "encoding", "status", "accuracy", "fit"]


def _row(doc: dict[str, Any], encoding: str, status: str, accuracy: float | None) -> dict[str, Any]:
    return {
        "id": trial_id(doc["chain"], doc["round"]),
        "subspace": doc["subspace"],
        "chain": doc["chain"],
        "trial": doc["round"],
        "sequence": doc["sequence"],
        "encoding": encoding,
        "status": status,
        "accuracy": float(accuracy) if accuracy is not None else np.nan,
        "fit": (doc.get("model") or {}).get("surrogate"),
    }


def band_costs(subs: list[dict[str, Any]], predicted_ms: np.ndarray) -> np.ndarray:
    """The expected cost of one training per band, shape (bands,): the mean predicted latency (ms)
    of its ``members`` (rows of ``predicted_ms``); 0 for an empty band."""
    return np.array(
        [
            0.0
            if s.get("empty") or not len(s["members"])
            else float(np.mean(predicted_ms[np.asarray(s["members"])]))
            for s in subs
        ]
    )


def choose_band(
    budgets: np.ndarray, started: np.ndarray, costs: np.ndarray, init: int | np.ndarray = 0
) -> int | None:
    """The band the next trial goes to: first every band's initial design (its first ``init``
    trials, ``init_rounds x batch``: the Sobol order, proposed before any trial has finished), then
    the one with the most training work left, ``(budget - started) x cost`` (ties: the first),
    among bands with trials left and a positive cost; None when there is none. Arrays of shape
    (bands,): ``budgets`` trials each band may run, ``started`` trials proposed so far (in flight,
    finished or skipped), ``costs`` the expected cost of one of its trainings (the mean predicted
    latency of its members, ms: training time grows with it; 0 for an empty band); ``init`` an int
    or one per band.

    Balancing the work left rather than the trials left starts a slow band's trainings early, so
    the bands run out of work together and the last trainings are short (the longest-processing-
    time-first rule of scheduling; Graham 1969). The initial designs come first so that no band
    is given more trials before anything has finished than its initial design: with work left
    alone, the slowest band would take every chain's first trial, most of them blind (neither
    Sobol nor learned; ``benchmarks/results/async_quality.json``)."""
    budgets, started = np.asarray(budgets), np.asarray(started)
    left = (budgets.astype(float) - started) * np.asarray(costs, dtype=float)
    ok = (budgets > started) & (np.asarray(costs) > 0)
    if not ok.any():
        return None
    first = ok & (started < np.minimum(np.broadcast_to(init, budgets.shape), budgets))
    if first.any():
        ok = first
    return int(np.argmax(np.where(ok, left, -np.inf)))


def liar_history(trials: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """What a proposal learns from: the finished trials as they are and the pending ones as the
    constant liar (status complete, accuracy = the mean accuracy of the finished ones; without
    any finished trial the pending ones are only excluded, as failed). Columns as
    :func:`gpunas.search.propose.propose_for_band` reads them (``subspace``, ``encoding``,
    ``accuracy``, ``status``); returns it and the liar's value (None without one)."""
    done = trials[trials["status"] != "pending"]
    scores = done.loc[done["status"] == "complete", "accuracy"].to_numpy(dtype=float)
    liar = float(scores.mean()) if len(scores) else None
    hist = trials[["subspace", "encoding", "accuracy", "status"]].copy()
    pending = trials["status"] == "pending"
    hist.loc[pending, "status"] = "complete" if liar is not None else "failed"
    hist.loc[pending, "accuracy"] = liar if liar is not None else np.nan
    return hist.reset_index(drop=True), liar


def reusable_fit(trials: pd.DataFrame, batch: int) -> dict[str, Any] | None:
    """The GP hyperparameters the next proposal reuses, or None to fit them anew.

    A synchronous round fits the GP's hyperparameters once per ``batch`` proposals; an
    asynchronous proposal is made per trial, so it fits them once per ``batch`` trials finished
    and in between conditions the latest fit's hyperparameters on the trials finished now (a
    Cholesky factorisation instead of an optimisation; the posterior still sees every trial).
    ``trials``: :func:`read_trials`'s table (its ``fit`` column, the proposals' GP records, with
    ``fitted_at``: the finished trials when they were fitted). Returns the latest record with
    hyperparameters when fewer than ``batch`` trials have finished since its fit."""
    if "fit" not in trials or not len(trials):
        return None
    fits = [
        f
        for f in trials.sort_values("sequence", kind="stable")["fit"]
        if isinstance(f, dict) and f.get("theta")
    ]
    if not fits or fits[-1].get("fitted_at") is None:
        return None
    latest = fits[-1]
    return latest if finished_count(trials) - int(latest["fitted_at"]) < max(batch, 1) else None


def finished_count(trials: pd.DataFrame) -> int:
    """How many of :func:`read_trials`'s trials have finished (complete or failed)."""
    return int(trials["status"].isin(["complete", "failed"]).sum()) if len(trials) else 0


def virtual_round(trials: pd.DataFrame, subspace: str, batch: int) -> int:
    """The synchronous round a band's next proposal stands for: its proposals so far // batch
    (so the first ``init_rounds * batch`` proposals of a band are the Sobol order's, as in sync)."""
    return int((trials["subspace"] == subspace).sum()) // max(batch, 1)


def async_history(proposals: list[str | Path], metrics: list[str | Path], subspace: str) -> pd.DataFrame:
    """Band ``subspace``'s history table (:data:`HISTORY_COLUMNS`; ``round`` = the trial's index in
    its chain, ``slot`` = its chain) from the run's proposals and metrics (every band's: the
    chains are shared), in the order the proposals were made.

    Raises:
        ValueError: a repeated candidate, or as many proposals as metrics files missing.
    """
    if len(proposals) != len(metrics):
        raise ValueError(f"{len(proposals)} proposals but {len(metrics)} metrics files")
    rows = []
    for p, mpath in zip(proposals, metrics, strict=True):
        doc = json.loads(Path(p).read_text())
        if doc["subspace"] != subspace:
            continue
        m = json.loads(Path(mpath).read_text())
        if m["status"] == "skipped":
            continue
        rows.append((doc["sequence"], trial_row(m, doc["subspace"], doc["round"], doc["chain"], mpath)))
    rows.sort(key=lambda r: r[0])
    out = pd.DataFrame([r for _, r in rows], columns=HISTORY_COLUMNS)
    repeated = out["encoding"][out["encoding"].duplicated()]
    if len(repeated):
        raise ValueError(f"asynchronous trials repeat a candidate: {repeated.iloc[0]}")
    return out


def proposal_doc(
    subspace: str,
    chain: int,
    trial: int,
    trials: pd.DataFrame,
    liar: float | None,
    entry: dict[str, Any],
    info: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The record of one asynchronous proposal: the entry to train (``slots[0]``, as a round's
    proposals have it) and what it saw (``seen``: finished trials; ``pending``: in flight)."""
    sequence = len(trials)  # every proposal so far, skipped ones too
    trials = trials[trials["status"] != "skipped"]
    finished = trials["status"] != "pending"
    return {
        "subspace": subspace,
        "chain": chain,
        "round": trial,
        "sequence": sequence,
        "seen": trials.loc[finished, "id"].tolist(),
        "pending": trials.loc[~finished, "id"].tolist(),
        "liar": liar,
        "model": info,
        **extra,
        "slots": [entry | {"slot": 0}],
    }


def propose_one(
    space: Any,
    vectors: np.ndarray,
    sub: dict[str, Any],
    trials: pd.DataFrame,
    chain: int,
    trial: int,
    batch: int,
    cfg: Any,
    seed: int,
) -> tuple[int | None, str, dict[str, Any], float | None, int]:
    """The next trial of chain ``chain`` of band ``sub`` given ``trials`` (:func:`read_trials`'s
    table: the finished and in-flight trials of every band) - the proposal itself, without files,
    as the workflow (:func:`propose_next`) and the simulations of ``benchmarks/`` run it.

    Returns (row of ``vectors`` or None when the band has no untried member left, what proposed it,
    the model's info, the constant liar's value, the synchronous round it stands for)."""
    from gpunas.search.propose import propose_for_band  # scikit-optimize: not for the DAG's build

    hist, liar = liar_history(trials)
    round_ = virtual_round(trials, sub["id"], batch)
    reuse = reusable_fit(trials, batch)
    # one proposal, with random streams of its own (chain, trial) within the run's seed
    rows, proposer, info = propose_for_band(
        space,
        vectors,
        np.asarray(sub["members"], dtype=np.int64),
        hist,
        sub["id"],
        round_=round_,
        batch=1,
        cfg=cfg,
        seed=seed + 7919 * trial + chain,
        hyperparameters=reuse,
    )
    if isinstance(info.get("surrogate"), dict):  # where its hyperparameters come from
        fit = info["surrogate"]
        if fit.get("refit", True):
            fit |= {"fitted_at": finished_count(trials), "fitted_by": trial_id(chain, trial)}
        elif reuse is not None:
            fit |= {"fitted_at": reuse.get("fitted_at"), "fitted_by": reuse.get("fitted_by")}
    return (int(rows[0]) if len(rows) else None), proposer, info, liar, round_


def propose_next(
    space: Any,
    vectors: np.ndarray,
    predicted_ms: np.ndarray,
    subs: list[dict[str, Any]],
    budget: int,
    chain: int,
    trial: int,
    root: str | Path,
    batch: int,
    cfg: Any,
    seed: int,
    output: str | Path,
) -> dict[str, Any]:
    """Propose and write (``output``) trial ``trial`` of chain ``chain``: its band
    (:func:`choose_band` over ``subs``, sub-space records with ``id``, ``members``, ``lo_ms``,
    ``hi_ms``, ``empty``; each band runs at most ``budget`` trials), then its candidate, learning
    from every trial under ``root`` finished now, the ones in flight as the constant liar;
    ``vectors`` (shape (samples, dim)) and ``predicted_ms`` (samples,) are the Sobol samples';
    ``cfg`` a :class:`gpunas.search.propose.SearchConfig`. When every band has spent its budget
    the entry is skipped (nothing trains). Runs under a lock (``root/.proposals.lock``), so
    proposals made at the same time see each other's."""
    from filelock import FileLock

    Path(root).mkdir(parents=True, exist_ok=True)
    with FileLock(str(Path(root) / ".proposals.lock")):
        start = time.perf_counter()
        every = read_trials(root, skipped=True)
        trials = every[every["status"] != "skipped"].reset_index(drop=True)
        started = every["subspace"].value_counts()
        costs = band_costs(subs, predicted_ms)
        b = choose_band(
            np.full(len(subs), budget),
            np.array([started.get(s["id"], 0) for s in subs]),
            costs,
            init=cfg.init_rounds * batch,
        )
        extra: dict[str, Any] = {
            "strategy": cfg.strategy,
            "surrogate": cfg.surrogate,
            "seed": [seed, chain, trial],
        }
        if b is None:
            sub = {"id": "", "lo_ms": None, "hi_ms": None}
            entry = {"skip": True, "reason": "every band has run its trials", "proposer": "none"}
            info: dict[str, Any] = {}
            liar = None
        else:
            sub = subs[b]
            row, proposer, info, liar, round_ = propose_one(
                space, vectors, sub, trials, chain, trial, batch, cfg, seed
            )
            entry = candidate_entry(space, vectors, predicted_ms, row, proposer, sub["empty"])
            extra["virtual_round"] = round_
        extra |= {
            "band_ms": [sub["lo_ms"], sub["hi_ms"]],
            "band_work_left_ms": {
                s["id"]: (budget - int(started.get(s["id"], 0))) * c for s, c in zip(subs, costs, strict=True)
            },
            # the proposal's own time (reading the trials, fitting, choosing), under the lock
            "seconds": round(time.perf_counter() - start, 3),
        }
        doc = proposal_doc(sub["id"], chain, trial, every, liar, entry, info, extra)
        atomic_write_json(output, doc)
    return doc
