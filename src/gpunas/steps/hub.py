"""The rules of the model hub (rules/hub.smk), one function each, under the rule's name."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from gpunas.evaluators import create_evaluator
from gpunas.hub.select import pick_winner, write_tier
from gpunas.hub.summary import summarize
from gpunas.latency.partition import read_subspace
from gpunas.search.history import read_history
from gpunas.training.trial import JOB_KEYS, dataset_summary

log = logging.getLogger(__name__)


def select_hub(
    histories: list[str],
    subspaces: str | Path,
    subspace: str,
    weights: list[str],
    dataset: str | Path | None,
    train: dict[str, Any],
    seed: int,
    evaluator: dict[str, Any],
    outdir: str | Path,
) -> dict[str, Any]:
    """The tier of ``subspace``: the most accurate trial whose predicted latency is under the tier's
    budget, from whichever band it came, with weights, ONNX and card.

    ``histories``: every band's history; ``weights``: the declared weights files of the trials
    (the winner's is copied). Accuracy therefore never decreases as the budget grows.
    """
    sub = read_subspace(subspaces, subspace)
    hist = pd.concat([read_history(h) for h in histories], ignore_index=True)
    under = hist[hist["predicted_ms"] < sub["hi_ms"]]
    ev = create_evaluator(evaluator)
    card: dict[str, Any] = {
        "subspace": subspace,
        "name": sub["name"],
        "budget_ms": sub["hi_ms"],
        "band_ms": [sub["lo_ms"], sub["hi_ms"]],
        "trials": len(under),
        "trials_in_band": int((under["subspace"] == subspace).sum()),
        "failed": int((under["status"] == "failed").sum()),
        "training": {k: v for k, v in train.items() if k not in JOB_KEYS},
        "data": dataset_summary(dataset),
        "seed": seed,
    }
    if not ev.trains:
        card["evaluator"] = evaluator
    best = pick_winner(under, 0.0, sub["hi_ms"])
    if best is None and under.empty:
        card |= {
            "status": "empty",
            "reason": "no trained candidate has a predicted latency under this budget",
        }
    elif best is None:
        reasons = sorted(set(under.loc[under["status"] == "failed", "reason"]))
        card |= {
            "status": "all_failed",
            "reason": "every trial under this budget failed",
            "failures": reasons[:10],
        }
    if best is not None:
        card |= {
            "band": best["subspace"],
            "from_lower_band": best["subspace"] != subspace,
            "budget_used": float(best["predicted_ms"]) / sub["hi_ms"],
        }
        if card["from_lower_band"]:
            card["note"] = (
                f"the best model under this budget comes from the lower band {best['subspace']}: no "
                f"trial of band {subspace} was more accurate"
            )
    by_dir = {str(Path(w).parent): Path(w) for w in weights}
    winner = by_dir.get(str(best["trial_dir"])) if best is not None else None
    doc = json.loads(Path(dataset).read_text()) if dataset else {}
    return write_tier(
        Path(outdir),
        card,
        best,
        winner,
        with_model=ev.trains,
        decode_size=(doc.get("shape") or [None])[-1],
        class_names=doc.get("class_names"),
    )


def summarize_search(
    histories: list[str],
    cards: list[str],
    subspaces: str | Path,
    out_json: str | Path,
    out_pareto: str | Path,
    out_scatter: str | Path,
    out_progress: str | Path,
) -> dict[str, Any]:
    """The Pareto front of all trials, the hub summary and the search plots."""
    hist = [read_history(h) for h in histories]
    tiers = [json.loads(Path(c).read_text()) for c in cards]
    bands = json.loads(Path(subspaces).read_text())["subspaces"]
    return summarize(
        histories=hist,
        tiers=tiers,
        bands=bands,
        out_json=out_json,
        out_pareto=out_pareto,
        out_scatter=out_scatter,
        out_progress=out_progress,
    )
