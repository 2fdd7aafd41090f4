"""Quasi-random candidates: scrambled, seeded Sobol points mapped to canonical integer vectors,
and the samples table (one row per candidate: its fields, then costs added by later rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from gpunas.errors import GpunasError
from gpunas.spaces.base import Space
from gpunas.tables import read_table, write_table


def unit_to_vectors(space: Space, unit: np.ndarray) -> np.ndarray:
    """Map points of [0, 1)^dim to choice indices (each field cut into equal-width bins)."""
    if unit.ndim != 2 or unit.shape[1] != space.dim:
        raise GpunasError(f"unit points must have shape (n, {space.dim}), got {unit.shape}")
    dtype = np.int8 if int(space.sizes.max()) <= 127 else np.int16
    # truncation is floor for points in [0, 1); one float temporary, then small integers
    idx = (unit * space.sizes).astype(dtype)
    np.minimum(idx, (space.sizes - 1).astype(dtype), out=idx)
    return space.canonicalize(idx)


def sobol_vectors(space: Space, *, m: int | None = None, n: int | None = None, seed: int = 0) -> np.ndarray:
    """``2**m`` (balanced) or ``n`` scrambled Sobol points of ``space`` as canonical vectors."""
    if (m is None) == (n is None):
        raise GpunasError("give exactly one of m (2**m points) or n")
    if m is not None and not 0 <= m <= 24:
        raise GpunasError(f"sobol m must be in 0..24 (at most 16.7 M points), got {m}")
    sampler = qmc.Sobol(d=space.dim, scramble=True, seed=seed)
    if m is None:  # draw the enclosing power of two (keeps Sobol's balance), keep the first n
        m = max(0, int(np.ceil(np.log2(max(n, 1)))))
    unit = sampler.random_base2(m)[: n if n is not None else None]
    return unit_to_vectors(space, unit)


def write_samples(
    space: Space, vectors: np.ndarray, extra: dict[str, np.ndarray], meta: dict[str, Any], path: str | Path
) -> None:
    """The samples table: ``sample`` (row id), one column per field, then ``extra`` columns."""
    df = pd.DataFrame(vectors, columns=[f.name for f in space.fields])
    df.insert(0, "sample", np.arange(len(df), dtype=np.int64))
    for name, values in extra.items():
        df[name] = values
    write_table(df, {"space": space.name, **meta}, path)


def read_samples(space: Space, path: str | Path) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """(table, vectors, metadata) of a samples table of ``space``."""
    df, meta = read_table(path, "samples")
    if meta.get("space") != space.name:
        raise GpunasError(f"samples {path} belong to space {meta.get('space')!r}, not {space.name!r}")
    names = [f.name for f in space.fields]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise GpunasError(f"samples {path} lack fields {missing[:3]}")
    return df, df[names].to_numpy(), meta
