"""The training-job rule of rules/training.smk: one step for searched candidates, baselines and finalists.

``rules/training.smk`` holds the template rule ``train_model``; ``train_candidate`` (search),
``train_baseline`` and ``train_finalist`` are ``use rule train_model as ... with:`` of it, each
naming its entries file (what to train) and the entry's key. The job, its resources and retries,
reuse of finished work and the "no model" file are the same for all three.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpunas.errors import GpunasError
from gpunas.evaluators import create_evaluator
from gpunas.io import atomic_write_json, write_no_model
from gpunas.spaces import load_space
from gpunas.training.trial import TrainingJob, dataset_ref

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntryKind:
    """Where a kind of training job finds its entry, and what of it its metrics record."""

    find: Callable[[dict[str, Any], str], dict[str, Any] | None]
    ids: Callable[[dict[str, Any], str, int], dict[str, Any]]  # identifying fields of the record
    copied: tuple[str, ...]  # entry fields copied into the record
    score: str  # the figure a skipped entry records as None
    test: bool = False  # also evaluated on the held-out test split


def _slot(key: str) -> int:
    return int(key)


ENTRY_KINDS: dict[str, EntryKind] = {
    # results/search/<band>/r<round>/proposals.json: the round's proposals, by slot
    "candidate": EntryKind(
        find=lambda doc, key: doc["slots"][_slot(key)],
        ids=lambda doc, key, seed: {"subspace": doc["subspace"], "round": doc["round"], "slot": _slot(key)},
        copied=("sample", "encoding", "arch", "predicted_ms", "proposer"),
        score="val_top1",
    ),
    # results/search/<band>/k<chain>/t<trial>/proposal.json: one asynchronous trial (search.mode: async)
    "async": EntryKind(
        find=lambda doc, key: doc["slots"][0],
        ids=lambda doc, key, seed: {"subspace": doc["subspace"], "round": doc["round"], "slot": doc["chain"]},
        copied=("sample", "encoding", "arch", "predicted_ms", "proposer"),
        score="val_top1",
    ),
    # results/baselines/baselines.json: the picked variant of each family under each budget
    "baseline": EntryKind(
        find=lambda doc, key: doc["picks"].get(key),
        ids=lambda doc, key, seed: dict(zip(("family", "subspace"), key.split("/"), strict=True)),
        copied=("arch", "variant", "phi", "predicted_ms"),
        score="val_top1",
    ),
    # results/scaling/costed.json: the compound-scaling grid points (their phi = 1 member)
    "scaling": EntryKind(
        find=lambda doc, key: doc["points"].get(key),
        ids=lambda doc, key, seed: {"point": key},
        copied=("arch", "alpha", "beta", "gamma", "predicted_ms"),
        score="val_top1",
    ),
    # results/final/finalists.json: the distinct finalist networks, each trained with several seeds
    "finalist": EntryKind(
        find=lambda doc, key: doc["networks"][key] | {"skip": False} if key in doc["networks"] else None,
        ids=lambda doc, key, seed: {"network": key, "seed": seed},
        copied=("arch", "predicted_ms", "slots"),
        score="test_top1",
        test=True,
    ),
}


def train_model(
    *,
    kind: str,
    entries: str | Path,
    key: str,
    space: str | Path,
    dataset: str | Path | None,
    train: dict[str, Any],
    seed: int,
    threads: int,
    attempt: int,
    attempts: int,
    evaluator: dict[str, Any],
    output: str | Path,
    weights: str | Path,
    mem_mb: float | None = None,
    runtime: float | None = None,
    workers: int = 0,
    fault: str | None = None,
    checkpoint_s: int = 0,
    gpus: int = 0,
) -> dict[str, Any]:
    """Train (or look up) the entry ``key`` of ``entries``; write its record to ``output``.

    ``kind``: ``candidate``, ``baseline`` or ``finalist`` (:data:`ENTRY_KINDS`). A skipped entry
    records why; a training job records its result (:func:`gpunas.training.trial.run_training_job`
    through the evaluator); ``weights`` is the trained weights or, without a model, an empty file.
    ``gpus``: the GPUs the job asked for (its ``gpu`` resource); when torch sees none, the job
    fails with :class:`gpunas.training.trial.MissingGPUError` and records nothing.
    Raises :class:`GpunasError` for an unknown kind or a key the entries file does not have.
    """
    if kind not in ENTRY_KINDS:
        raise GpunasError(f"train_model: kind {kind!r} is not one of {list(ENTRY_KINDS)}")
    ek = ENTRY_KINDS[kind]
    doc = json.loads(Path(entries).read_text())
    entry = ek.find(doc, key)
    if entry is None:
        raise GpunasError(f"{entries}: no {kind} entry {key!r}")
    record = ek.ids(doc, key, seed)
    if entry["skip"]:
        record |= {"status": "skipped", "reason": entry["reason"], ek.score: None}
    else:
        job = TrainingJob(
            arch=entry["arch"],
            data=dataset_ref(dataset),
            train={**train, "workers": workers},
            seed=seed,
            threads=threads,
            outdir=Path(output).parent,
            attempt=attempt,
            attempts=attempts,
            mem_mb=mem_mb,
            runtime_min=runtime,
            reuse=train.get("reuse_finished", True),
            fault=fault or None,
            extra={"test": True} if ek.test else {},
            checkpoint_s=checkpoint_s or None,
            gpus=int(gpus),
        )
        result = create_evaluator(evaluator).evaluate(load_space(space), entry, job)
        record |= {k: entry.get(k) for k in ek.copied} | result
    if not Path(weights).exists():  # no model: skipped, failed, a table lookup
        write_no_model(weights)
    atomic_write_json(output, record)
    figure = record.get(ek.score) if record["status"] == "complete" else record.get("reason")
    log.info(
        "%s %s: %s %s",
        kind,
        "/".join(str(v) for v in ek.ids(doc, key, seed).values()),
        record["status"],
        figure,
    )
    return record
