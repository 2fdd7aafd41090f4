"""The ``table`` evaluator: accuracy and latency looked up in a CSV instead of trained and measured.

The CSV may cover all of the space (NAS-Bench-201's 15,625 cells) or only part of it (a measured
subset, a benchmark sampled from a huge space): the candidates of the search are the table's rows
(:meth:`TableEvaluator.candidates`), so a *sparse* table needs no special handling downstream.
Every value is checked where it is read: a key that does not parse, a duplicated architecture, a
missing, non-numeric, infinite or negative latency, or a non-numeric accuracy stops with one line
naming the file, the line and the column. A *blank* accuracy is allowed: that row's trial fails
("no accuracy in the table"), as a training that failed would.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.evaluators.base import Evaluator, register_evaluator
from gpunas.spaces.base import Space
from gpunas.spaces.sampling import sobol_vectors
from gpunas.spaces.table import TableSpace


def _line(row: int) -> str:
    """The CSV line of data row ``row`` (0-based; line 1 is the header)."""
    return f"line {row + 2}"


def _numbers(df: pd.DataFrame, col: str, path: Path, *, blank_ok: bool) -> np.ndarray:
    """Column ``col`` as floats; GpunasError naming the first bad cell."""
    raw = df[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, copy=True)
    blank = raw.isna().to_numpy() | raw.astype(str).str.strip().eq("").to_numpy()
    bad = np.flatnonzero(np.isnan(values) & ~blank)
    if len(bad):
        raise GpunasError(
            f"{path}: {_line(bad[0])}, column {col!r}: {str(raw.iloc[bad[0]])!r} is not a number"
        )
    if not blank_ok and blank.any():
        raise GpunasError(f"{path}: {_line(np.flatnonzero(blank)[0])}, column {col!r}: the value is missing")
    values[blank] = np.nan
    inf = np.flatnonzero(np.isinf(values))
    if len(inf):
        raise GpunasError(f"{path}: {_line(inf[0])}, column {col!r}: {str(raw.iloc[inf[0]])!r} is not finite")
    neg = np.flatnonzero(values < 0)
    if len(neg):
        raise GpunasError(f"{path}: {_line(neg[0])}, column {col!r}: {values[neg[0]]:g} is negative")
    return values


@dataclass
class Table:
    """Accuracy (percent; NaN where blank) and latency (ms) of every row of a CSV, with the rows'
    vectors in the table space (shape (rows, dim)) and their architecture keys."""

    space: TableSpace
    vectors: np.ndarray
    accuracy: np.ndarray
    latency: np.ndarray
    keys: list[str]
    path: Path

    @classmethod
    def from_csv(cls, path: str | Path, space: TableSpace, key: str, accuracy: str, latency: str) -> Table:
        path = Path(path)
        if not path.is_file():
            raise GpunasError(f"evaluator.csv: {path} does not exist")
        try:
            df = pd.read_csv(path, dtype={key: str}, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise GpunasError(f"{path}: not a readable CSV: {exc}".splitlines()[0]) from None
        for col in (key, accuracy, latency):
            if col not in df.columns:
                raise GpunasError(f"{path}: no column {col!r} (columns: {', '.join(df.columns[:8])}, ...)")
        if df.empty:
            raise GpunasError(f"{path}: no rows")
        vectors = np.empty((len(df), space.dim), dtype=np.int64)
        for i, text in enumerate(df[key]):
            if pd.isna(text) or not str(text).strip():
                raise GpunasError(f"{path}: {_line(i)}, column {key!r}: the architecture key is missing")
            try:
                vectors[i] = space.from_string(str(text))
            except GpunasError as exc:
                raise GpunasError(f"{path}: {_line(i)}, column {key!r}: {exc}") from None
        codes = vectors @ _radix(space)
        _, first, counts = np.unique(codes, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup = np.flatnonzero(codes == codes[first[counts > 1].min()])
            raise GpunasError(
                f"{path}: {_line(dup[1])}, column {key!r}: architecture {df[key].iloc[dup[1]]!r} "
                f"repeats {_line(dup[0])}"
            )
        lat = _numbers(df, latency, path, blank_ok=False)
        acc = _numbers(df, accuracy, path, blank_ok=True)
        return cls(space, vectors, acc, lat, df[key].astype(str).tolist(), path)

    def rows_for(self, vectors: np.ndarray) -> np.ndarray:
        """Table rows of ``vectors`` (shape (n, dim)); GpunasError naming the first one not in it."""
        mult = _radix(self.space)
        table = dict(zip((self.vectors @ mult).tolist(), range(len(self.vectors)), strict=True))
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.int64))
        rows = np.array([table.get(int(c), -1) for c in vectors @ mult], dtype=np.int64)
        if (rows < 0).any():
            miss = vectors[int(np.flatnonzero(rows < 0)[0])]
            raise GpunasError(
                f"{self.path}: architecture {self.space.describe(miss)!r} is not in the table "
                f"({(rows < 0).sum()} of {len(rows)} asked for are missing)"
            )
        return rows

    def sobol_order(self, seed: int, m: int | None = None) -> np.ndarray:
        """Row indices in scrambled-Sobol order: rows a Sobol sequence over the space hits first (in
        the order it hits them), then the rest in a seeded random order. At most ``2**m`` rows."""
        draw = int(np.clip(np.ceil(np.log2(max(len(self.vectors), 2))) + 1, 1, 18))
        points = sobol_vectors(self.space, m=draw, seed=seed)
        mult = _radix(self.space)
        index = dict(zip((self.vectors @ mult).tolist(), range(len(self.vectors)), strict=True))
        hits = [index[c] for c in (points.astype(np.int64) @ mult).tolist() if c in index]
        seen = list(dict.fromkeys(hits))
        rest = np.setdiff1d(np.arange(len(self.vectors)), seen)
        order = np.concatenate(
            [np.array(seen, dtype=np.int64), np.random.default_rng(seed).permutation(rest)]
        )
        return order if m is None else order[: 2**m]


def _radix(space: Space) -> np.ndarray:
    return np.cumprod(np.r_[1, space.sizes[:-1]]).astype(np.int64)


_TABLES: dict[tuple[str, ...], Table] = {}


@register_evaluator("table")
class TableEvaluator(Evaluator):
    """Looks each candidate up in ``evaluator.csv`` (columns ``key``, ``accuracy``, ``latency``)."""

    space_kind: ClassVar[str] = "table"
    measures: ClassVar[bool] = False
    trains: ClassVar[bool] = False

    def table(self, space: Space) -> Table:
        """The CSV of this evaluator, read (and checked) once per process."""
        if not isinstance(space, TableSpace):
            self.check_space(space)
        c = self.cfg
        key = (space.source, c["csv"], c["key"], c["accuracy"], c["latency"])
        if key not in _TABLES:
            _TABLES[key] = Table.from_csv(c["csv"], space, c["key"], c["accuracy"], c["latency"])  # type: ignore[arg-type]
        return _TABLES[key]

    def candidates(self, space: Space, m: int, seed: int) -> np.ndarray:
        """The table's rows (at most ``2**m``) in Sobol order: the search never leaves the table."""
        table = self.table(space)
        return table.vectors[table.sobol_order(seed, m)]

    def latency(self, space: Space, vectors: np.ndarray) -> np.ndarray:
        table = self.table(space)
        return table.latency[table.rows_for(vectors)]

    def evaluate(self, space: Space, entry: dict[str, Any], job: Any) -> dict[str, Any]:
        """The row's accuracy; with ``evaluator.seconds_per_ms`` > 0 the lookup lasts that many
        seconds per ms of the row's latency first (a simulated training: its time proportional to
        the candidate's cost), and the record says which GPUs the job was given
        (``cuda_visible_devices``, ``None`` when unset)."""
        table = self.table(space)
        row = int(table.rows_for(np.array([entry["encoding"]]))[0])
        seed = getattr(job, "seed", -1)
        simulated = float(self.cfg.get("seconds_per_ms", 0)) * float(table.latency[row])
        if simulated > 0:
            time.sleep(simulated)
        job_info = {"simulated_s": simulated, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
        if not np.isfinite(table.accuracy[row]):
            return {
                "status": "failed",
                "reason": f"no accuracy in the table ({_line(row)})",
                "val_top1": None,
                "seed": seed,
                "table_row": row,
                **job_info,
            }
        return {
            "status": "complete",
            "reason": "",
            "val_top1": float(table.accuracy[row]),
            "val_loss": None,
            "wall_s": simulated,
            "params": -1,
            "macs": -1,
            "seed": seed,
            "table_row": row,
            **job_info,
        }
