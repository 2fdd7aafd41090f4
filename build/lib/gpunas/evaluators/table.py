"""The ``table`` evaluator: accuracy and latency looked up in a CSV instead of trained and measured."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.evaluators.base import Evaluator, register_evaluator
from gpunas.spaces.base import Space
from gpunas.spaces.table import TableSpace


@dataclass
class Table:
    """Accuracy and latency of every architecture of a CSV, indexed by the space's vectors."""

    space: TableSpace
    vectors: np.ndarray
    accuracy: np.ndarray
    latency: np.ndarray
    keys: list[str]

    @classmethod
    def from_csv(cls, path: str | Path, space: TableSpace, key: str, accuracy: str, latency: str) -> Table:
        path = Path(path)
        if not path.is_file():
            raise GpunasError(f"evaluator.csv: {path} does not exist")
        df = pd.read_csv(path)
        for col in (key, accuracy, latency):
            if col not in df.columns:
                raise GpunasError(f"{path}: no column {col!r} (columns: {', '.join(df.columns[:8])}, ...)")
        vectors = np.array([space.from_string(s) for s in df[key]], dtype=np.int64)
        codes = vectors @ np.cumprod(np.r_[1, space.sizes[:-1]])
        if len(np.unique(codes)) != len(codes):
            raise GpunasError(f"{path}: architecture keys repeat")
        return cls(
            space, vectors, df[accuracy].to_numpy(float), df[latency].to_numpy(float), df[key].tolist()
        )

    def rows_for(self, vectors: np.ndarray) -> np.ndarray:
        """Table rows of ``vectors`` (GpunasError if one is not in the table)."""
        mult = np.cumprod(np.r_[1, self.space.sizes[:-1]])
        table = dict(zip((self.vectors @ mult).tolist(), range(len(self.vectors)), strict=True))
        try:
            return np.array([table[int(c)] for c in np.asarray(vectors) @ mult])
        except KeyError as exc:
            raise GpunasError(f"architecture code {exc} is not in the table") from None


_TABLES: dict[tuple[str, str, str, str, str], Table] = {}


@register_evaluator("table")
class TableEvaluator(Evaluator):
    """Looks each candidate up in ``evaluator.csv`` (columns ``key``, ``accuracy``, ``latency``)."""

    space_kind: ClassVar[str] = "table"
    measures: ClassVar[bool] = False
    trains: ClassVar[bool] = False

    def table(self, space: TableSpace) -> Table:
        """The CSV of this evaluator, read once per process."""
        c = self.cfg
        key = (space.source, c["csv"], c["key"], c["accuracy"], c["latency"])
        if key not in _TABLES:
            _TABLES[key] = Table.from_csv(c["csv"], space, c["key"], c["accuracy"], c["latency"])
        return _TABLES[key]

    def latency(self, space: Space, vectors: np.ndarray) -> np.ndarray:
        table = self.table(space)  # type: ignore[arg-type]
        return table.latency[table.rows_for(vectors)]

    def evaluate(self, space: Space, entry: dict[str, Any], job: Any) -> dict[str, Any]:
        table = self.table(space)  # type: ignore[arg-type]
        row = int(table.rows_for(np.array([entry["encoding"]]))[0])
        return {"status": "complete", "reason": "", "val_top1": float(table.accuracy[row]), "val_loss": None,
                "wall_s": 0.0, "params": -1, "macs": -1, "seed": getattr(job, "seed", -1), "table_row": row}  # fmt: skip
