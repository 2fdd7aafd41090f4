"""Entry points of the accuracy-phase rules: propose, train, record (one round at a time)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.io import atomic_write_json
from gpunas.latency.lut import read_table, write_table
from gpunas.latency.steps import read_samples
from gpunas.search.propose import SearchConfig, categorical_fields, encode_key, propose
from gpunas.search.trial import run_trial, training_spec
from gpunas.space import load_space
from gpunas.tabular import cached_evaluator

log = logging.getLogger(__name__)
HISTORY_COLUMNS = [
    "subspace", "round", "slot", "sample", "encoding", "arch", "predicted_ms", "proposer", "status",
    "reason", "accuracy", "val_loss", "params", "macs", "wall_s", "seed", "trial_dir",
]  # fmt: skip


def arch_string(space: Any, vector: np.ndarray) -> str:
    """Readable form of a vector: the arch string, or the table key of a table space."""
    if hasattr(space, "decode"):
        return space.decode(vector).to_string()
    return space.to_string(vector)


def read_subspace(path: str | Path, subspace: str) -> dict[str, Any]:
    doc = json.loads(Path(path).read_text())
    for sub in doc["subspaces"]:
        if sub["id"] == subspace:
            return sub
    raise ValueError(f"{path}: no sub-space {subspace!r} (have {[s['id'] for s in doc['subspaces']]})")


def read_history(path: str | Path | None) -> pd.DataFrame:
    if path is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})
    df, _ = read_table(path, "history")
    return df


def propose_candidates(
    space: str,
    samples: str | Path,
    subspaces: str | Path,
    subspace: str,
    round_: int,
    history: str | Path | None,
    batch: int,
    search: dict[str, Any],
    seed: int,
    output: str | Path,
) -> dict[str, Any]:
    sp = load_space(space)
    df, vectors, _ = read_samples(sp, samples)
    sub = read_subspace(subspaces, subspace)
    members = np.asarray(sub["members"], dtype=np.int64)
    hist = read_history(history)
    cfg = SearchConfig.from_dict(search)
    sub_seed = seed + 7919 * int(subspace.lstrip("s"))
    picks, proposer = propose(
        vectors[members],
        sp.sizes,
        hist["encoding"].tolist(),
        hist["accuracy"].to_numpy(dtype=float),
        (hist["status"] == "complete").to_numpy(),
        n=batch,
        round_=round_,
        cfg=cfg,
        seed=sub_seed,
        categorical=categorical_fields(sp),
    )
    slots = []
    for slot in range(batch):
        if slot < len(picks):
            row = int(members[picks[slot]])
            vec = vectors[row]
            slots.append(
                {
                    "slot": slot,
                    "skip": False,
                    "sample": row,
                    "encoding": [int(v) for v in vec],
                    "arch": arch_string(sp, vec),
                    "predicted_ms": float(df["predicted_ms"].iloc[row]),
                    "proposer": proposer,
                }
            )
        else:
            why = "sub-space is empty" if sub["empty"] else "no untrained candidate left in the sub-space"
            slots.append({"slot": slot, "skip": True, "reason": why, "proposer": proposer})
    doc = {"subspace": subspace, "round": round_, "strategy": cfg.strategy, "seed": sub_seed,
           "band_ms": [sub["lo_ms"], sub["hi_ms"]], "slots": slots}  # fmt: skip
    atomic_write_json(output, doc)
    log.info("%s round %d: %d proposals (%s)", subspace, round_, len(picks), proposer)
    return doc


def train_candidate_job(
    space: str | Path,
    proposals: str | Path,
    slot: int,
    data: dict[str, Any],
    train: dict[str, Any],
    seed: int,
    threads: int,
    attempts: int,
    output: str | Path,
    evaluator: dict[str, Any] | None = None,
    mem_mb: float | None = None,
) -> dict[str, Any]:
    doc = json.loads(Path(proposals).read_text())
    entry = doc["slots"][slot]
    outdir = Path(output).parent
    base = {k: doc[k] for k in ("subspace", "round")} | {"slot": slot}
    if entry["skip"]:
        metrics = base | {"status": "skipped", "reason": entry["reason"], "val_top1": None}
    elif evaluator and evaluator.get("type") == "table":
        metrics = base | {k: entry[k] for k in ("sample", "encoding", "arch", "predicted_ms", "proposer")}
        metrics |= lookup_trial(space, entry, evaluator, seed)
    else:
        spec = training_spec(entry["arch"], data, train, seed, threads)
        fault = (train.get("inject_fault") or {}).get(f"{doc['subspace']}/{doc['round']}/{slot}")
        if fault:
            spec["inject_fault"] = fault
        result = run_trial(
            spec, outdir, threads, attempts, reuse=train.get("reuse_finished", True), mem_mb=mem_mb
        )
        metrics = (
            base | {k: entry[k] for k in ("sample", "encoding", "arch", "predicted_ms", "proposer")} | result
        )
    atomic_write_json(output, metrics)
    log.info("trial %s/r%d/s%d: %s %s", doc["subspace"], doc["round"], slot, metrics["status"],
             metrics.get("val_top1") if metrics["status"] == "complete" else metrics.get("reason"))  # fmt: skip
    return metrics


def lookup_trial(
    space: str | Path, entry: dict[str, Any], evaluator: dict[str, Any], seed: int
) -> dict[str, Any]:
    """A trial of ``evaluator: table``: the CSV's accuracy of the proposed architecture."""
    ev = cached_evaluator(load_space(space), evaluator)
    row = int(ev.rows_for(np.array([entry["encoding"]]))[0])
    return {"status": "complete", "reason": "", "val_top1": float(ev.accuracy[row]), "val_loss": None,
            "wall_s": 0.0, "params": -1, "macs": -1, "seed": seed, "table_row": row}  # fmt: skip


def record_results(
    proposals: str | Path, metrics: list[str], history: str | Path | None, output: str | Path
) -> pd.DataFrame:
    """Append this round's trials to the history (earlier rows are copied unchanged)."""
    doc = json.loads(Path(proposals).read_text())
    prev = read_history(history)
    rows = []
    for path in metrics:
        m = json.loads(Path(path).read_text())
        if m["status"] == "skipped":
            continue
        if m["status"] == "complete" and not np.isfinite(m.get("val_top1") or np.nan):
            m = {**m, "status": "failed", "reason": "non-finite accuracy"}
        rows.append(
            {
                "subspace": doc["subspace"],
                "round": doc["round"],
                "slot": m["slot"],
                "sample": m["sample"],
                "encoding": encode_key(m["encoding"]),
                "arch": m["arch"],
                "predicted_ms": m["predicted_ms"],
                "proposer": m["proposer"],
                "status": m["status"],
                "reason": m.get("reason", ""),
                "accuracy": m.get("val_top1") if m["status"] == "complete" else np.nan,
                "val_loss": m.get("val_loss") if m["status"] == "complete" else np.nan,
                "params": m.get("params", -1),
                "macs": m.get("macs", -1),
                "wall_s": m.get("wall_s", np.nan),
                "seed": m.get("seed", -1),
                "trial_dir": str(Path(path).parent),
            }
        )
    new = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    if len(prev) and len(new) and new["encoding"].isin(prev["encoding"]).any():
        raise ValueError(f"{proposals}: a proposal repeats an already trained candidate")
    out = pd.concat([prev, new], ignore_index=True) if len(prev) else new
    out = out.astype({"round": int, "slot": int, "sample": int, "params": int, "macs": int, "seed": int})
    write_table(out, {"subspace": doc["subspace"], "rounds": doc["round"] + 1}, output)
    ok = new[new["status"] == "complete"]
    log.info("%s round %d: %d trained, %d failed; best so far %.2f%%", doc["subspace"], doc["round"],
             len(ok), int((new["status"] == "failed").sum()), out["accuracy"].max() if len(out) else float("nan"))  # fmt: skip
    return out
