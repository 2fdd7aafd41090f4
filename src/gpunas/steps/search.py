"""The rules of the search (rules/search.smk), one function each, under the rule's name."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.io import atomic_write_json
from gpunas.latency.partition import read_subspace
from gpunas.search.asynchronous import async_history, propose_next, trial_id
from gpunas.search.history import HISTORY_COLUMNS, candidate_entry, read_history, trial_row
from gpunas.search.propose import SearchConfig, propose_for_band
from gpunas.spaces import load_space
from gpunas.spaces.sampling import read_samples
from gpunas.tables import write_table

log = logging.getLogger(__name__)


def propose_candidates(
    space: str,
    samples: str | Path,
    subspaces: str | Path,
    subspace: str,
    round_: int,
    histories: list[str],
    batch: int,
    search: dict[str, Any],
    seed: int,
    output: str | Path,
) -> dict[str, Any]:
    """B proposals for one round of one sub-space, from its members and the histories so far
    (every band's previous round with ``search.surrogate: shared``, the band's own otherwise)."""
    sp = load_space(space)
    df, vectors, _ = read_samples(sp, samples)
    sub = read_subspace(subspaces, subspace)
    members = np.asarray(sub["members"], dtype=np.int64)
    tables = [read_history(h) for h in histories]
    hist = pd.concat(tables, ignore_index=True) if tables else read_history(None)
    cfg = SearchConfig.from_dict(search)
    rows, proposer, info = propose_for_band(
        sp, vectors, members, hist, subspace, round_=round_, batch=batch, cfg=cfg, seed=seed
    )
    predicted = df["predicted_ms"].to_numpy()
    slots = [
        {"slot": slot}
        | candidate_entry(
            sp, vectors, predicted, int(rows[slot]) if slot < len(rows) else None, proposer, sub["empty"]
        )
        for slot in range(batch)
    ]
    doc = {
        "subspace": subspace,
        "round": round_,
        "strategy": cfg.strategy,
        "surrogate": cfg.surrogate,
        "seed": [seed, int(subspace.removeprefix("s")), round_],
        "band_ms": [sub["lo_ms"], sub["hi_ms"]],
        "model": info,
        "slots": slots,
    }
    atomic_write_json(output, doc)
    log.info(
        "%s round %d: %d proposals (%s, learning from %d trials)",
        subspace,
        round_,
        len(rows),
        proposer,
        info.get("trials_seen", 0),
    )
    return doc


def record_results(
    proposals: str | Path, metrics: list[str], history: str | Path | None, output: str | Path
) -> pd.DataFrame:
    """Append this round's trials to the history (earlier rows are copied unchanged)."""
    doc = json.loads(Path(proposals).read_text())
    prev = read_history(history)
    rows = []
    for path in metrics:
        m = json.loads(Path(path).read_text())
        if m["status"] != "skipped":
            rows.append(trial_row(m, doc["subspace"], doc["round"], m["slot"], path))
    new = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    if len(prev) and len(new) and new["encoding"].isin(prev["encoding"]).any():
        raise GpunasError(f"{proposals}: a proposal repeats an already trained candidate")
    out = pd.concat([prev, new], ignore_index=True) if len(prev) else new
    out = out.astype({"round": int, "slot": int, "sample": int, "params": int, "macs": int, "seed": int})
    write_table(out, {"subspace": doc["subspace"], "rounds": doc["round"] + 1}, output)
    ok = new[new["status"] == "complete"]
    log.info(
        "%s round %d: %d trained, %d failed; best so far %.2f%%",
        doc["subspace"],
        doc["round"],
        len(ok),
        int((new["status"] == "failed").sum()),
        out["accuracy"].max() if len(out) else float("nan"),
    )
    return out


def _async_inputs(
    space: str, samples: str | Path, subspaces: str | Path, search: dict[str, Any]
) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]], SearchConfig]:
    """What an asynchronous proposal reads: the space, the samples' vectors and predicted ms, every
    band's record and the search settings."""
    sp = load_space(space)
    df, vectors, _ = read_samples(sp, samples)
    subs = json.loads(Path(subspaces).read_text())["subspaces"]
    return sp, vectors, df["predicted_ms"].to_numpy(), subs, SearchConfig.from_dict(search)


def propose_async(
    space: str,
    samples: str | Path,
    subspaces: str | Path,
    chain: int,
    trial: int,
    budget: int,
    batch: int,
    search: dict[str, Any],
    seed: int,
    output: str | Path,
) -> dict[str, Any]:
    """The next trial of one chain (``search.mode: async``), in the band with the most training
    work left (each band runs at most ``budget`` trials):
    :func:`gpunas.search.asynchronous.propose_next`, reading the trials under the search folder
    of ``output`` (``<root>/k<chain>/t<trial>/proposal.json``)."""
    sp, vectors, predicted_ms, subs, cfg = _async_inputs(space, samples, subspaces, search)
    root = Path(output).parents[2]
    doc = propose_next(sp, vectors, predicted_ms, subs, budget, chain, trial, root, batch, cfg, seed, output)
    entry = doc["slots"][0]
    log.info(
        "%s: %s %s (%s; %d finished, %d in flight, liar %s; %.2f s)",
        trial_id(chain, trial),
        doc["subspace"] or "no band",
        entry.get("arch", entry.get("reason")),
        entry["proposer"],
        len(doc["seen"]),
        len(doc["pending"]),
        doc["liar"],
        doc["seconds"],
    )
    return doc


def propose_async_first(
    space: str,
    samples: str | Path,
    subspaces: str | Path,
    budget: int,
    batch: int,
    search: dict[str, Any],
    seed: int,
    outputs: list[str],
) -> list[dict[str, Any]]:
    """Trial 0 of every chain (``outputs``: ``<root>/k<chain>/t000/proposal.json`` in chain
    order), proposed one after the other in one process, each as :func:`propose_async` would:
    nothing has finished yet, so a job per chain would only repeat the start-up."""
    sp, vectors, predicted_ms, subs, cfg = _async_inputs(space, samples, subspaces, search)
    docs = [
        propose_next(
            sp, vectors, predicted_ms, subs, budget, chain, 0, Path(out).parents[2], batch, cfg, seed, out
        )
        for chain, out in enumerate(outputs)
    ]
    bands = pd.Series([d["subspace"] or "no band" for d in docs]).value_counts().sort_index()
    log.info("first trials of %d chains: %s", len(docs), ", ".join(f"{b} {n}" for b, n in bands.items()))
    return docs


def record_async_results(
    proposals: list[str], metrics: list[str], subspace: str, output: str | Path
) -> pd.DataFrame:
    """A band's history of its asynchronous trials (``proposals`` and ``metrics``: the run's, every
    band's), in the order they were proposed."""
    out = async_history(proposals, metrics, subspace)
    out = out.astype({"round": int, "slot": int, "sample": int, "params": int, "macs": int, "seed": int})
    write_table(out, {"subspace": subspace, "mode": "async", "trials": len(out)}, output)
    log.info(
        "%s: %d asynchronous trials, %d failed; best %.2f%%",
        subspace,
        len(out),
        int((out["status"] == "failed").sum()),
        out["accuracy"].max() if len(out) else float("nan"),
    )
    return out
