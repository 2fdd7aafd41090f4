"""The latency lookup table: one Parquet row per layer key, metadata in the Parquet schema.

Rows: ``code`` (int64 packed key), the key's fields, ``key`` (readable name), ``latency_ms``
(median), ``mad_ms``, ``cv``, ``min_ms``, ``repeats`` (rounds, re-measured ones included),
``remeasured``, ``noisy``, ``measured_at`` and ``protocol`` (when and how the row was measured).
Metadata (JSON under the schema key ``gpunas``): the measuring conditions (:data:`CONDITIONS`:
slug, backend, device, hardware, precision, batch, threads, padding, classes, unit, key layout,
protocol, backend options, library versions) and the date. Rows of different conditions are
never mixed: a mismatch is refused, naming the setting.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.latency.keys import KEY_LAYOUT, LayerKey, unpack_codes
from gpunas.tables import read_table

LUT_COLUMNS = ("code", "key", "latency_ms", "mad_ms", "cv", "min_ms", "repeats")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def device_slug(backend: str, device: str, hardware: str, precision: str, batch: int) -> str:
    """``{backend}-{device}-{hardware}-{precision}-b{batch}``, e.g. onnxruntime-cpu-amd-epyc-fp32-b1."""
    hw = slugify(hardware)
    dev = slugify(device)
    parts = [backend, dev] if not hw.startswith(dev) else [backend]
    return "-".join([*parts, hw, precision, f"b{batch}"])


def keys_frame(codes: np.ndarray, batch: int, precision: str) -> pd.DataFrame:
    """A table of keys (code, fields, readable name) from key codes."""
    codes = np.asarray(codes, dtype=np.int64)
    fields = unpack_codes(codes)
    df = pd.DataFrame({"code": codes})
    for name, values in fields.items():
        df[name] = values
    df["key"] = [LayerKey.from_code(int(c)).name(batch, precision) for c in codes]
    return df


def read_lut(path: str | Path, expect_slug: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a LUT; refuse one measured for another device/backend than ``expect_slug``."""
    df, meta = read_table(path, "LUT")
    missing = [c for c in LUT_COLUMNS if c not in df.columns]
    if missing:
        raise GpunasError(f"LUT {path} lacks columns {missing}")
    if meta.get("unit") != "ms":
        raise GpunasError(f"LUT {path}: unit is {meta.get('unit')!r}, expected 'ms'")
    if expect_slug is not None and meta.get("slug") != expect_slug:
        raise GpunasError(
            f"LUT {path} was measured for {meta.get('slug')!r} ({meta.get('backend')} on {meta.get('hardware')}), "
            f"this run targets {expect_slug!r}: refusing to mix devices or backends"
        )
    if meta.get("key_layout", 1) != KEY_LAYOUT:
        raise GpunasError(
            f"LUT {path} uses key layout {meta.get('key_layout', 1)}, this gpunas uses {KEY_LAYOUT}: "
            "its key codes cannot be read; delete it (and the device's cache.parquet) and profile again"
        )
    if not np.isfinite(df["latency_ms"]).all() or (df["latency_ms"] < 0).any():
        raise GpunasError(f"LUT {path}: latency_ms has negative or non-finite entries")
    return df, meta


# What defines a measurement: a LUT, its cache and the network cache hold rows of one set of these.
CONDITIONS = (
    "slug",
    "backend",
    "device",
    "hardware",
    "precision",
    "batch",
    "threads",
    "padding",
    "classes",
    "unit",
    "key_layout",
    "protocol",
    "options",
    "versions",
)


def check_compatible(
    reference: dict[str, Any], new: dict[str, Any], where: str, partial: bool = False
) -> None:
    """Refuse to combine measurements taken under different conditions, naming the first setting
    that differs. ``partial``: compare only the settings ``new`` states (before the backend's
    library versions are known)."""
    for key in CONDITIONS:
        if partial and key not in new:
            continue
        if reference.get(key) != new.get(key):
            raise GpunasError(
                f"{where}: {key} {new.get(key)!r} differs from {reference.get(key)!r} of the measurements there: "
                "refusing to mix measurements (set latency.reuse: false to measure again)"
            )


def lut_metadata(
    backend_info: dict[str, Any], slug: str, classes: int, protocol: dict[str, Any]
) -> dict[str, Any]:
    return {
        "slug": slug,
        **{
            k: backend_info[k]
            for k in ("backend", "device", "hardware", "precision", "batch", "threads", "padding")
        },
        "versions": backend_info["versions"],
        "options": backend_info.get("options", {}),
        "classes": classes,
        "unit": "ms",
        "key_layout": KEY_LAYOUT,
        "protocol": protocol,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def merge(
    needed: pd.DataFrame,
    shards: list[tuple[pd.DataFrame, dict[str, Any]]],
    cache: tuple[pd.DataFrame, dict[str, Any]] | None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Combine cached rows and new shards; return (lut for ``needed``, new cache, metadata)."""
    metas = [m for _, m in shards] + ([cache[1]] if cache else [])
    if not metas:
        raise GpunasError("nothing to merge: no shards and no cache")
    ref = metas[0]
    for i, m in enumerate(metas[1:], start=1):
        check_compatible(ref, m, f"LUT part {i}")
    frames = ([cache[0]] if cache else []) + [df for df, _ in shards]
    # measured rows never change: a key measured again (two LUTs at once) keeps its first row
    allrows = pd.concat(frames, ignore_index=True).drop_duplicates("code", keep="first")
    allrows = allrows.sort_values("code", kind="stable").reset_index(drop=True)
    lut = allrows[allrows["code"].isin(needed["code"])].reset_index(drop=True)
    missing = len(needed) - len(lut)
    if missing:
        example = needed.loc[~needed["code"].isin(lut["code"]), "key"].iloc[0]
        raise GpunasError(f"{missing} needed keys were not profiled (e.g. {example})")
    meta = {**{k: v for k, v in ref.items() if k != "noise"}, "keys": len(lut)}
    return lut, allrows, meta
