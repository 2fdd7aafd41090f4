"""Parquet tables with gpunas metadata: the LUT, key lists, samples and the search history.

Every table is one Parquet file whose schema metadata holds a JSON document under the key
``gpunas`` (what the table is: device, space, protocol, round, ...). Writes are atomic
(:mod:`gpunas.io`); a file without that metadata, or one that cannot be read, is refused with
one line naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gpunas.errors import GpunasError
from gpunas.io import atomic_write_with

META_KEY = b"gpunas"


def write_table(df: pd.DataFrame, meta: dict[str, Any], path: str | Path) -> None:
    """Write ``df`` with ``meta`` in the schema metadata, atomically."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()}
    )
    atomic_write_with(path, lambda tmp: pq.write_table(table, tmp))


def read_table(path: str | Path, what: str = "table") -> tuple[pd.DataFrame, dict[str, Any]]:
    """(rows, metadata) of a table written by :func:`write_table`; ``what`` names it in errors."""
    path = Path(path)
    if not path.is_file():
        raise GpunasError(f"{what} {path} does not exist")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise GpunasError(f"{what} {path} is corrupt or truncated ({str(exc).splitlines()[0]})") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise GpunasError(f"{what} {path} has no gpunas metadata (not written by gpunas, or damaged)")
    return table.to_pandas(), json.loads(raw)
