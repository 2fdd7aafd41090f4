"""The rules of the final evaluation (rules/final.smk), one function each, under the rule's name."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from gpunas.final import (
    distinct_networks,
    finalists_vs_baselines,
    pick_finalists,
    pick_scaled,
    read_results,
    results_by_slot,
    write,
)
from gpunas.io import atomic_write_json

log = logging.getLogger(__name__)


def select_finalists(
    hubs: list[str],
    baselines: str | Path | None,
    subspaces: str | Path,
    per_family: int,
    output: str | Path,
    scaling: str | Path | None = None,
) -> dict[str, Any]:
    """The finalists by slot (every tier's model and the baselines inside each budget) and the
    distinct networks to train (``networks``: each architecture once, with its slots)."""
    cards = [json.loads((Path(h) / "card.json").read_text()) for h in hubs]
    budgets = {s["id"]: s["hi_ms"] for s in json.loads(Path(subspaces).read_text())["subspaces"]}
    variants = json.loads(Path(baselines).read_text())["variants"] if baselines else []
    finalists = pick_finalists(cards, variants, budgets, per_family)
    design = json.loads(Path(scaling).read_text()) if scaling else {}
    finalists |= pick_scaled(design)
    networks = distinct_networks(finalists)
    doc = {"budgets_ms": budgets, "per_family": per_family, "finalists": finalists, "networks": networks}
    if design.get("costs"):
        doc["route_costs"] = design["costs"]
    atomic_write_json(output, doc)
    log.info(
        "%d finalists of %d slots: %d distinct networks to train",
        sum(not f["skip"] for f in finalists.values()),
        len(finalists),
        len(networks),
    )
    return finalists


def compare_finalists(
    finalists: str | Path,
    metrics: list[str],
    seeds: int,
    final_train: dict[str, Any],
    output_csv: str | Path,
    output_md: str | Path,
    output_png: str | Path,
) -> pd.DataFrame:
    """Per budget: the hub model against the best baseline inside it, test accuracy with 95% intervals."""
    doc = json.loads(Path(finalists).read_text())
    results = results_by_slot(doc["networks"], read_results(metrics))
    table = finalists_vs_baselines(doc["finalists"], results, doc["budgets_ms"])
    schedule = ", ".join(f"{k} {v}" for k, v in final_train.items())
    write(
        table,
        doc["finalists"],
        results,
        seeds,
        schedule,
        output_csv,
        output_md,
        output_png,
        doc.get("route_costs"),
    )
    for r in table.to_dict(orient="records"):
        log.info("%s: %s", r["subspace"], r.get("verdict", "no comparison"))
    return table
