"""Costing baseline variants with the same LUT and correction as the searched candidates, and
picking, per family and budget, the variants inside the budget."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gpunas.arch import Architecture
from gpunas.latency.estimate import Correction, LutIndex
from gpunas.latency.keys import keys_for_arch

log = logging.getLogger(__name__)


def predict(archs: list[str], lut: pd.DataFrame, corr: Correction, classes: int, padding: str) -> np.ndarray:
    """Corrected LUT latency of arbitrary architectures (the same model as the candidates')."""
    index = LutIndex(lut)
    out = []
    for text in archs:
        keys = keys_for_arch(Architecture.from_string(text), classes, padding)
        codes = np.array([k.code() for k in keys], dtype=np.int64)
        out.append(float(corr.apply(index.lookup(codes).sum(), len(keys))))
    return np.array(out)


def pick(var: pd.DataFrame, families: list[str], budgets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each (family, sub-space): the largest variant inside the budget, or why there is none."""
    picks: dict[str, dict[str, Any]] = {}
    for fam in families:
        fv = var[var["family"] == fam]
        for s in budgets:
            inside = fv[fv["predicted_ms"] < s["hi_ms"]]
            key = f"{fam}/{s['id']}"
            if inside.empty:
                picks[key] = {
                    "family": fam,
                    "subspace": s["id"],
                    "skip": True,
                    "reason": f"no {fam} variant is faster than {s['hi_ms']:.3f} ms",
                }
                continue
            best = inside.loc[inside["predicted_ms"].idxmax()]
            picks[key] = {
                "family": fam,
                "subspace": s["id"],
                "skip": False,
                "arch": best["arch"],
                "variant": best["variant"],
                "phi": None if pd.isna(best["phi"]) else float(best["phi"]),
                "predicted_ms": float(best["predicted_ms"]),
            }
    return picks
