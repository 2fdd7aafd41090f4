"""Latency of candidates = sum of their LUT entries (vectorised), with the fitted correction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.latency.keys import LayerKey, keys_for_arch, layer_codes
from gpunas.spaces.cnn import SearchSpace


@dataclass(frozen=True)
class Correction:
    """measured ~= a * lut_sum + b * layers + c (identity when a=1, b=c=0)."""

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0

    def apply(self, lut_sum: np.ndarray, layers: np.ndarray) -> np.ndarray:
        return self.a * lut_sum + self.b * layers + self.c

    @classmethod
    def read(cls, path: str | Path) -> Correction:
        """The correction of a fidelity report (``check_lut_fidelity``'s JSON)."""
        try:
            doc = json.loads(Path(path).read_text())
            c = doc["correction"]
            return cls(float(c["a"]), float(c["b"]), float(c["c"]))
        except (OSError, ValueError, KeyError) as exc:
            raise GpunasError(f"fidelity report {path} is unreadable or lacks 'correction' ({exc})") from None

    @classmethod
    def fit(cls, lut_sum: np.ndarray, layers: np.ndarray, measured: np.ndarray) -> Correction:
        design = np.column_stack([lut_sum, layers, np.ones_like(lut_sum)])
        coef, *_ = np.linalg.lstsq(design, measured, rcond=None)
        return cls(*map(float, coef))


class LutIndex:
    """Sorted key codes and latencies for ``searchsorted`` lookups."""

    def __init__(self, lut: pd.DataFrame) -> None:
        order = np.argsort(lut["code"].to_numpy())
        self.codes = lut["code"].to_numpy()[order]
        self.ms = lut["latency_ms"].to_numpy(dtype=np.float64)[order]

    def lookup(self, codes: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        pos = np.searchsorted(self.codes, codes)
        pos = np.minimum(pos, len(self.codes) - 1)
        found = self.codes[pos] == codes
        if mask is not None:
            found |= ~mask
        if not found.all():
            bad = int(np.asarray(codes)[~found].flat[0])
            raise GpunasError(
                f"{int((~found).sum())} layer keys are not in the LUT (e.g. {LayerKey.from_code(bad).name(0, '?')}); "
                "profile them first (rules enumerate_layers, profile_layers, merge_lut)"
            )
        return self.ms[pos]


def lut_sums(
    space: SearchSpace, vectors: np.ndarray, lut: pd.DataFrame, num_classes: int, padding: str = "same"
) -> tuple[np.ndarray, np.ndarray]:
    """(sum of LUT latencies, number of layers incl. head) per candidate, no Python loop."""
    codes, counts = layer_codes(space, vectors, num_classes, padding)
    ms = LutIndex(lut).lookup(codes, counts > 0)
    return (ms * counts).sum(axis=1), counts.sum(axis=1)


def lut_sums_reference(
    space: SearchSpace, vectors: np.ndarray, lut: pd.DataFrame, num_classes: int, padding: str = "same"
) -> np.ndarray:
    """The obvious per-candidate loop (for tests of :func:`lut_sums`)."""
    table = dict(zip(lut["code"].tolist(), lut["latency_ms"].tolist(), strict=True))
    return np.array(
        [sum(table[k.code()] for k in keys_for_arch(space.decode(v), num_classes, padding)) for v in vectors]
    )
