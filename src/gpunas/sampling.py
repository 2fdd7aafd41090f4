"""Quasi-random candidates: scrambled, seeded Sobol points mapped to canonical integer vectors."""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from gpunas.space import SearchSpace


def unit_to_vectors(space: SearchSpace, unit: np.ndarray) -> np.ndarray:
    """Map points of [0, 1)^dim to choice indices (each field cut into equal-width bins)."""
    if unit.ndim != 2 or unit.shape[1] != space.dim:
        raise ValueError(f"unit points must have shape (n, {space.dim}), got {unit.shape}")
    dtype = np.int8 if int(space.sizes.max()) <= 127 else np.int16
    # truncation is floor for points in [0, 1); one float temporary, then small integers
    idx = (unit * space.sizes).astype(dtype)
    np.minimum(idx, (space.sizes - 1).astype(dtype), out=idx)
    return space.canonicalize(idx)


def sobol_vectors(
    space: SearchSpace, *, m: int | None = None, n: int | None = None, seed: int = 0
) -> np.ndarray:
    """``2**m`` (balanced) or ``n`` scrambled Sobol points of ``space`` as canonical vectors."""
    if (m is None) == (n is None):
        raise ValueError("give exactly one of m (2**m points) or n")
    if m is not None and not 0 <= m <= 24:
        raise ValueError(f"sobol m must be in 0..24 (at most 16.7 M points), got {m}")
    sampler = qmc.Sobol(d=space.dim, scramble=True, seed=seed)
    if m is None:  # draw the enclosing power of two (keeps Sobol's balance), keep the first n
        m = max(0, int(np.ceil(np.log2(max(n, 1)))))
    unit = sampler.random_base2(m)[: n if n is not None else None]
    return unit_to_vectors(space, unit)
