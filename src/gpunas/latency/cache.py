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

import fcntl
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.latency.lut import check_compatible, merge, read_lut
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
    check_compatible(meta, expect, f"LUT cache {path}", partial=True)
    return np.asarray(codes)[~np.isin(codes, rows["code"].to_numpy())]


def grow(
    path: str | Path, slug: str, needed: pd.DataFrame, shards: list[tuple[pd.DataFrame, dict[str, Any]]]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add the shards' rows to the cache (under a file lock: the two LUTs of a device merge into
    one cache) and return the LUT of the ``needed`` keys with its metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lut, rows, meta = merge(needed, shards, read_cache(path, slug))
        write_table(rows, {**meta, "keys": len(rows)}, path)
    return lut, {**meta, "keys": len(lut)}


class NetworkCache:
    """Whole networks measured on one device, ``results/lut/<device>/networks.parquet``.

    Lifecycle (this class is its only reader and writer): created by the first job that measures
    whole networks (``check_lut_fidelity``; the validation measures afresh and does not use it); each later measurement of a
    network under the same conditions (backend settings, protocol, classes, the graph form) is
    read from it instead of measured again, so a rerun reproduces the same fidelity and
    correction; rows are added, never changed; conditions that differ are refused, not mixed;
    delete the file to measure again. A row's key is the architecture string, the graph form
    (``exported``: the ONNX that ships) and the number of classes; its latency does not depend
    on the weights.
    """

    def __init__(self, path: str | Path, conditions: dict[str, Any]) -> None:
        self.path = Path(path)
        self.conditions = conditions
        self.rows = pd.DataFrame()
        if self.path.exists():
            from gpunas.tables import read_table

            self.rows, meta = read_table(self.path, "network cache")
            check_compatible(meta, conditions, f"network cache {self.path}")

    def lookup(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        if self.rows.empty:
            return {}
        found = self.rows[self.rows["key"].isin(keys)].drop_duplicates("key", keep="first")
        return {r["key"]: r for r in found.to_dict(orient="records")}

    def add(self, rows: pd.DataFrame) -> None:
        new = rows[~rows["key"].isin(self.rows["key"])] if not self.rows.empty else rows
        self.rows = pd.concat([self.rows, new], ignore_index=True) if not self.rows.empty else new
        write_table(self.rows, self.conditions, self.path)


def network_key(arch: str, classes: int, form: str = "exported") -> str:
    return f"{arch}|n{classes}|{form}"
