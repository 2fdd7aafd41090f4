"""The latency lookup table: one Parquet row per layer key, metadata in the Parquet schema.

Rows: ``code`` (int64 packed key), the key's fields, ``key`` (readable name), ``latency_ms``
(median), ``mad_ms``, ``cv``, ``min_ms``, ``repeats``. Metadata (JSON under the schema key
``gpunas``): slug, backend, device, hardware, precision, batch, threads, padding, classes, unit,
library versions, protocol, date. A table is tied to its slug; mixing tables of different slugs
or hardware is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gpunas.io import atomic_write_with
from gpunas.latency.keys import KEY_LAYOUT, LayerKey, unpack_codes

META_KEY = b"gpunas"
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


def write_table(df: pd.DataFrame, meta: dict[str, Any], path: str | Path) -> None:
    """Write ``df`` with ``meta`` in the schema metadata, atomically."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()}
    )
    atomic_write_with(path, lambda tmp: pq.write_table(table, tmp))


def read_table(path: str | Path, what: str = "LUT") -> tuple[pd.DataFrame, dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {path} does not exist")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{what} {path} is corrupt or truncated ({str(exc).splitlines()[0]})") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise ValueError(f"{what} {path} has no gpunas metadata (not written by gpunas, or damaged)")
    return table.to_pandas(), json.loads(raw)


def read_lut(path: str | Path, expect_slug: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a LUT; refuse one measured for another device/backend than ``expect_slug``."""
    df, meta = read_table(path, "LUT")
    missing = [c for c in LUT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"LUT {path} lacks columns {missing}")
    if meta.get("unit") != "ms":
        raise ValueError(f"LUT {path}: unit is {meta.get('unit')!r}, expected 'ms'")
    if expect_slug is not None and meta.get("slug") != expect_slug:
        raise ValueError(
            f"LUT {path} was measured for {meta.get('slug')!r} ({meta.get('backend')} on {meta.get('hardware')}), "
            f"this run targets {expect_slug!r}: refusing to mix devices or backends"
        )
    if meta.get("key_layout", 1) != KEY_LAYOUT:
        raise ValueError(
            f"LUT {path} uses key layout {meta.get('key_layout', 1)}, this gpunas uses {KEY_LAYOUT}: "
            "its key codes cannot be read; delete it (and the device's cache.parquet) and profile again"
        )
    if not np.isfinite(df["latency_ms"]).all() or (df["latency_ms"] < 0).any():
        raise ValueError(f"LUT {path}: latency_ms has negative or non-finite entries")
    return df, meta


def check_compatible(a: dict[str, Any], b: dict[str, Any], where: str) -> None:
    """Refuse to combine measurements of different slugs, hardware or protocols."""
    for key in (
        "slug",
        "hardware",
        "backend",
        "precision",
        "batch",
        "padding",
        "classes",
        "unit",
        "key_layout",
    ):
        if a.get(key) != b.get(key):
            raise ValueError(
                f"{where}: {key} {b.get(key)!r} differs from {a.get(key)!r}: refusing to mix LUT entries"
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
        raise ValueError("nothing to merge: no shards and no cache")
    ref = metas[0]
    for i, m in enumerate(metas[1:], start=1):
        check_compatible(ref, m, f"LUT part {i}")
    frames = ([cache[0]] if cache else []) + [df for df, _ in shards]
    allrows = pd.concat(frames, ignore_index=True).drop_duplicates("code", keep="last")
    allrows = allrows.sort_values("code", kind="stable").reset_index(drop=True)
    lut = allrows[allrows["code"].isin(needed["code"])].reset_index(drop=True)
    missing = len(needed) - len(lut)
    if missing:
        example = needed.loc[~needed["code"].isin(lut["code"]), "key"].iloc[0]
        raise ValueError(f"{missing} needed keys were not profiled (e.g. {example})")
    meta = {**ref, "keys": len(lut)}
    return lut, allrows, meta
