"""The rules of the baselines (rules/baselines.smk), one function each, under the rule's name."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from gpunas.baselines.compare import search_vs_baselines
from gpunas.baselines.costing import pick, predict
from gpunas.baselines.families import families_for, variants, variants_table, write_variants
from gpunas.io import atomic_write_json
from gpunas.latency.estimate import Correction
from gpunas.latency.lut import read_lut
from gpunas.spaces import load_space

log = logging.getLogger(__name__)


def list_baselines(space: str, families: list[str], phis: list[float], output: str | Path) -> pd.DataFrame:
    """Every variant of the baseline families for ``space``: the architectures the LUT must also cost."""
    sp = load_space(space)
    table = variants(sp, families, phis)
    write_variants(table, {f.name: f.label for f in families_for(sp, families)}, output)
    log.info("%d baseline variants of %s -> %s", len(table), ", ".join(families), output)
    return table


def design_baselines(
    variants: str | Path,
    lut: str | Path,
    fidelity: str | Path,
    subspaces: str | Path,
    slug: str,
    output: str | Path,
) -> dict[str, Any]:
    """Cost every variant with the LUT and correction; per family and budget, pick inside the budget."""
    labels = json.loads(Path(variants).read_text())["families"]
    var = variants_table(variants)
    table, meta = read_lut(lut, expect_slug=slug)
    var["predicted_ms"] = predict(
        list(var["arch"]), table, Correction.read(fidelity), meta["classes"], meta["padding"]
    )
    subs = json.loads(Path(subspaces).read_text())["subspaces"]
    picks = pick(var, list(labels), subs)
    doc = {
        "slug": slug,
        "families": labels,
        "budgets_ms": {s["id"]: s["hi_ms"] for s in subs},
        "variants": var.astype(object).where(var.notna(), None).to_dict(orient="records"),
        "picks": picks,
    }
    atomic_write_json(output, doc)
    log.info(
        "%d baseline variants costed; %d of %d (family, sub-space) pairs have one inside the budget",
        len(var),
        sum(not p["skip"] for p in picks.values()),
        len(picks),
    )
    return doc


def compare_baselines(
    baselines: str | Path,
    metrics: list[str],
    histories: list[str],
    hubs: list[str],
    output_csv: str | Path,
    output_md: str | Path,
    output_png: str | Path,
) -> pd.DataFrame:
    """Per budget: the search against the best baseline inside it; table, Markdown and Pareto plot."""
    cards = [str(Path(h) / "card.json") for h in hubs]
    return search_vs_baselines(
        baselines=baselines,
        metrics=metrics,
        histories=histories,
        hub_cards=cards,
        output_csv=output_csv,
        output_md=output_md,
        output_png=output_png,
    )
