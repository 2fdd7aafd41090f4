"""Turn what a user types for an architecture into an :class:`Architecture`."""

from __future__ import annotations

import json
from pathlib import Path

from gpunas.arch import Architecture
from gpunas.errors import GpunasError
from gpunas.nvidia import RELEASED, load_nvidia, released_path
from gpunas.spaces.cnn import SearchSpace


def parse_vector(text: str) -> list[int | float]:
    """``"[1, 2, 3]"`` or ``"1,2,3"`` -> list of numbers (validation is the space's job)."""
    body = text.strip()
    if not body.startswith("["):
        body = f"[{body}]"
    try:
        values = json.loads(body)
    except json.JSONDecodeError:
        raise GpunasError(f"cannot read {text!r} as an integer vector (use '[1, 0, 2]' or '1,0,2')") from None
    if not isinstance(values, list):
        raise GpunasError(f"{text!r} is not a list of integers")
    return values


def nvidia_source(text: str) -> Path | None:
    """The NVIDIA JSON file ``text`` names: a path, or a released model's name (``GPUNet-D2``, ``0.65ms``)."""
    stripped = text.strip()
    if stripped.startswith(("res", "[")) and not stripped.endswith(".json"):
        return None  # an arch string or a vector
    try:
        is_file = Path(stripped).is_file()
    except OSError:  # e.g. a name too long for the file system
        return None
    names = {n.lower() for n in (*RELEASED, *RELEASED.values())}
    if stripped.lower().removesuffix(".json") in names and not is_file:
        return released_path(stripped)
    if stripped.endswith(".json") or is_file:
        return Path(stripped)
    return None


def parse_arch(text: str, space: SearchSpace | None) -> Architecture:
    """An integer vector (needs ``space``), an arch string, a path to NVIDIA JSON, or the name of
    one of NVIDIA's released GPUNets (``GPUNet-0`` ... ``GPUNet-D2``)."""
    stripped = text.strip()
    if stripped.startswith("res") and not stripped.endswith(".json"):
        return Architecture.from_string(stripped)
    if (path := nvidia_source(stripped)) is not None:
        return load_nvidia(path)
    if stripped[:1] in "[0123456789-":
        if space is None:
            raise GpunasError("an integer vector needs a search space (--space NAME)")
        return space.decode(parse_vector(stripped))
    raise GpunasError(
        f"cannot read architecture {text!r}: expected an integer vector, an arch string "
        f"(res<R>-...-head<W>), a path to an NVIDIA JSON file or a released GPUNet ({', '.join(RELEASED.values())})"
    )
