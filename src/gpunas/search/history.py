"""The search history: an append-only table of every trial of one sub-space, one file per round.

Each round's file (``history_r<round>.parquet``) copies the previous round's rows unchanged and
appends its own; the optimiser is rebuilt from it and the seed, so the history *is* its state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.tables import read_table

HISTORY_COLUMNS = [
    "subspace",
    "round",
    "slot",
    "sample",
    "encoding",
    "arch",
    "predicted_ms",
    "proposer",
    "status",
    "reason",
    "accuracy",
    "val_loss",
    "params",
    "macs",
    "wall_s",
    "seed",
    "trial_dir",
]


def read_history(path: str | Path | None) -> pd.DataFrame:
    """The history of ``path``; an empty table (right columns) for ``None`` (before round 0)."""
    if path is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})
    df, _ = read_table(path, "history")
    return df


def trial_row(
    m: dict[str, Any], subspace: str, round_: int, slot: int, metrics: str | Path
) -> dict[str, Any]:
    """One history row from a training's metrics record ``m`` (read from ``metrics``); a complete
    trial with a non-finite accuracy is recorded as failed."""
    if m["status"] == "complete" and not np.isfinite(m.get("val_top1") or np.nan):
        m = {**m, "status": "failed", "reason": "non-finite accuracy"}
    ok = m["status"] == "complete"
    return {
        "subspace": subspace,
        "round": round_,
        "slot": slot,
        "sample": m["sample"],
        "encoding": ",".join(str(int(v)) for v in m["encoding"]),
        "arch": m["arch"],
        "predicted_ms": m["predicted_ms"],
        "proposer": m["proposer"],
        "status": m["status"],
        "reason": m.get("reason", ""),
        "accuracy": m.get("val_top1") if ok else np.nan,
        "val_loss": m.get("val_loss") if ok else np.nan,
        "params": m.get("params", -1),
        "macs": m.get("macs", -1),
        "wall_s": m.get("wall_s", np.nan),
        "seed": m.get("seed", -1),
        "trial_dir": str(Path(metrics).parent),
    }


def candidate_entry(
    space: Any, vectors: np.ndarray, predicted_ms: np.ndarray, row: int | None, proposer: str, empty: bool
) -> dict[str, Any]:
    """The training entry of a proposal: sample ``row`` of ``vectors`` (its encoding, arch string
    and predicted latency, ms), or a skipped entry saying why when there is none (``row`` None)."""
    if row is None:
        why = "sub-space is empty" if empty else "no untrained candidate left in the sub-space"
        return {"skip": True, "reason": why, "proposer": proposer}
    return {
        "skip": False,
        "sample": int(row),
        "encoding": [int(v) for v in vectors[row]],
        "arch": space.describe(vectors[row]),
        "predicted_ms": float(predicted_ms[row]),
        "proposer": proposer,
    }
