"""The rules of the final validation (rules/validation.smk), one function each, under the rule's name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from gpunas.validation import validate


def validate_hub(
    hub_dirs: list[str],
    lut: str | Path,
    latency: dict[str, Any],
    validation: dict[str, Any],
    slug: str,
    seed: int,
    output_csv: str | Path,
    output_png: str | Path,
    cache: str | Path | None = None,
) -> pd.DataFrame:
    """Every hub model measured end to end, as it ships, on the target runtime, against its prediction."""
    return validate(hub_dirs, lut, latency, validation, slug, seed, output_csv, output_png, cache)
