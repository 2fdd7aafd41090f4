"""The LUT cache: every layer key ever measured for one device, ``results/lut/<device>/cache.parquet``.

Lifecycle (this module is its only reader and writer):

- created by the first ``merge_lut`` of a device, with the LUT's metadata;
- grown by every later ``merge_lut``: newly measured rows are added, rows already there never
  change, so a key is measured once per device;
- read by ``enumerate_layers``: with ``latency.reuse: true`` only keys missing from it are
  profiled; a cache of another device, backend or measuring convention is refused, not mixed;
- never deleted by the workflow: delete it (with the device's folder) to measure everything again.

It lives outside the DAG on purpose (it is both read before and written after profiling), so
rules receive its path as a parameter and call only the functions below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.latency.lut import check_compatible, read_lut
from gpunas.tables import write_table


def cache_path(lut_dir: str | Path) -> Path:
    return Path(lut_dir) / "cache.parquet"


def read_cache(path: str | Path, slug: str) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The cached rows and metadata of device ``slug`` (None before the first merge)."""
    return read_lut(path, expect_slug=slug) if Path(path).exists() else None


def missing_codes(path: str | Path, slug: str, codes: np.ndarray, expect: dict[str, Any]) -> np.ndarray:
    """The codes of ``codes`` not yet in the cache; ``expect`` holds settings the cache must share."""
    cached = read_cache(path, slug)
    if cached is None:
        return np.asarray(codes)
    rows, meta = cached
    check_compatible({**meta, **expect}, meta, f"LUT cache {path}")
    return np.asarray(codes)[~np.isin(codes, rows["code"].to_numpy())]


def grow(path: str | Path, rows: pd.DataFrame, meta: dict[str, Any]) -> None:
    """Replace the cache by ``rows`` (the old rows plus the new ones, as :func:`~gpunas.latency.lut.merge` gives)."""
    write_table(rows, {**meta, "keys": len(rows)}, path)
