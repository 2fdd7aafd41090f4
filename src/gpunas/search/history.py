"""The search history: an append-only table of every trial of one sub-space, one file per round.

Each round's file (``history_r<round>.parquet``) copies the previous round's rows unchanged and
appends its own; the optimiser is rebuilt from it and the seed, so the history *is* its state.
"""

from __future__ import annotations

from pathlib import Path

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
