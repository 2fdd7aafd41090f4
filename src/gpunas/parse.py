"""Turn what a user types for an architecture into an :class:`Architecture`."""

from __future__ import annotations

import json
from pathlib import Path

from gpunas.arch import Architecture
from gpunas.nvidia import load_nvidia
from gpunas.space import SearchSpace


def parse_vector(text: str) -> list[int | float]:
    """``"[1, 2, 3]"`` or ``"1,2,3"`` -> list of numbers (validation is the space's job)."""
    body = text.strip()
    if not body.startswith("["):
        body = f"[{body}]"
    try:
        values = json.loads(body)
    except json.JSONDecodeError:
        raise ValueError(f"cannot read {text!r} as an integer vector (use '[1, 0, 2]' or '1,0,2')") from None
    if not isinstance(values, list):
        raise ValueError(f"{text!r} is not a list of integers")
    return values


def parse_arch(text: str, space: SearchSpace | None) -> Architecture:
    """An integer vector (needs ``space``), an arch string, or a path to NVIDIA JSON."""
    stripped = text.strip()
    if stripped.startswith("res") and not stripped.endswith(".json"):
        return Architecture.from_string(stripped)
    if stripped.endswith(".json") or Path(stripped).is_file():
        return load_nvidia(stripped)
    if stripped[:1] in "[0123456789-":
        if space is None:
            raise ValueError("an integer vector needs a search space (--space NAME)")
        return space.decode(parse_vector(stripped))
    raise ValueError(
        f"cannot read architecture {text!r}: expected an integer vector, an arch string "
        "(res<R>-...-head<W>) or a path to an NVIDIA JSON file"
    )
