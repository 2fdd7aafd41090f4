"""Compound scaling (EfficientNet) and latency-aware compound scaling (LACS, EfficientNet-X).

EfficientNet (Tan and Le 2019, arXiv 1905.11946, section 3.3): a base network is scaled by
depth ``d = alpha**phi``, width ``w = beta**phi`` and resolution ``r = gamma**phi``, with the
coefficients chosen once, at ``phi = 1``, by a small grid search under
``alpha * beta**2 * gamma**2 ~ 2`` (FLOPs grow by about ``2**phi``): the most accurate point at
that FLOPs budget wins.

EfficientNet-X (Li et al. 2021, arXiv 2102.05610, section 4): latency-aware compound scaling keeps
the same FLOPs budget per step but ranks the grid by a reward of accuracy *and* latency on the
target accelerator; MnasNet's (Tan et al. 2019, arXiv 1807.11626, eq. 2) soft-constraint reward
``ACC * (LAT / T)**w`` with ``w < 0`` (``-0.07`` there) is the multi-objective form used here.
On accelerators it found depth should grow much faster than width and resolution (the released
GPU family fits ``d = 1.300**phi``, ``w = 1.158**phi``, ``r = 1.071**phi``).

Rounding (to keep a member inside the space's grammar): each stage's repeats are rounded up
(``ceil(layers * d)``; the stem keeps its one layer), each stage's width to the space's channel
step for that stage (:func:`gpunas.models.blocks_math.make_divisible`: nearest multiple, never
below 90% of the exact width), the head width likewise to 8, and the resolution to the space's
resolution step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gpunas.arch import Architecture
from gpunas.errors import GpunasError
from gpunas.models.blocks_math import make_divisible

# MnasNet's soft-constraint exponent (arXiv 1807.11626, section 3): reward = ACC * (LAT / T) ** w
MNASNET_W = -0.07


@dataclass(frozen=True)
class Coefficients:
    """Per-step multipliers of depth (``alpha``), width (``beta``) and resolution (``gamma``)."""

    alpha: float
    beta: float
    gamma: float

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            if not getattr(self, name) >= 1.0:
                raise GpunasError(f"compound scaling: {name} must be >= 1, got {getattr(self, name)!r}")

    @property
    def flops_factor(self) -> float:
        """FLOPs growth per step, ``alpha * beta**2 * gamma**2`` (dimensionless)."""
        return self.alpha * self.beta**2 * self.gamma**2

    @property
    def log_ratio(self) -> tuple[float, float, float]:
        """(1, log beta / log alpha, log gamma / log alpha): how width and resolution grow relative to
        depth (EfficientNet-X's GPU family: about 1 : 0.56 : 0.26); nan without depth growth."""
        la = math.log(self.alpha)
        if la == 0:
            return (float("nan"),) * 3
        return 1.0, math.log(self.beta) / la, math.log(self.gamma) / la

    def as_dict(self) -> dict[str, float]:
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "flops_factor": self.flops_factor,
        }


def coefficient_grid(
    step: float = 0.05,
    target: float = 2.0,
    band: float = 0.1,
    max_width: float = 1.5,
    max_resolution: float = 1.5,
) -> list[Coefficients]:
    """Every (alpha, beta, gamma) on a grid of ``step`` with ``alpha * beta**2 * gamma**2`` within
    ``band`` (a fraction) of ``target``: beta in [1, max_width], gamma in [1, max_resolution], and
    alpha in [1, target / (beta * gamma)**2 * (1 + band)]. Sorted by (alpha, beta, gamma).

    Raises:
        GpunasError: a non-positive step, band or target below 1.
    """
    if step <= 0 or band < 0 or target < 1:
        raise GpunasError(
            f"coefficient grid: step > 0, band >= 0, target >= 1 needed, got {step}, {band}, {target}"
        )

    def axis(hi: float) -> np.ndarray:
        return np.round(np.arange(1.0, hi + step / 2, step), 6)

    out = []
    for beta, gamma in itertools.product(axis(max_width), axis(max_resolution)):
        for alpha in axis(target * (1 + band) / (beta * gamma) ** 2):
            c = Coefficients(float(alpha), float(beta), float(gamma))
            if abs(c.flops_factor / target - 1) <= band:
                out.append(c)
    return sorted(out, key=lambda c: (c.alpha, c.beta, c.gamma))


def stage_steps(space: Any | None, arch: Architecture) -> dict[int, int]:
    """The channel step of each stage of ``arch``: the step of ``stage<i>.filters`` in ``space``
    (the difference of its choices; 8 when it has one choice, the stage is not in the space or
    there is no space)."""
    steps = {}
    for st in arch.stages:
        step = 8
        if space is not None:
            try:
                choices = sorted(int(v) for v in space.choices_of(f"stage{st.index}.filters"))
            except (GpunasError, KeyError, ValueError):
                choices = []
            if len(choices) > 1:
                step = min(b - a for a, b in itertools.pairwise(choices))
        steps[st.index] = step
    return steps


def resolution_step(space: Any | None) -> int:
    """The space's resolution step (the difference of its resolution choices; 8 without them)."""
    if space is None:
        return 8
    choices = sorted(int(r) for r in space.choices_of("resolution"))
    return min((b - a for a, b in itertools.pairwise(choices)), default=8)


def scale_architecture(
    arch: Architecture,
    coefs: Coefficients,
    phi: float,
    steps: dict[int, int] | None = None,
    res_step: int = 8,
) -> Architecture:
    """``arch`` grown ``phi`` steps: repeats ``ceil(layers * alpha**phi)`` per stage (the stem, stage
    0, keeps its layers), widths ``beta**phi`` rounded to each stage's channel step (``steps``, by
    stage index; 8 where missing), the head width likewise to 8, resolution ``gamma**phi`` rounded
    to ``res_step`` (at least one step). ``phi = 0`` returns ``arch`` unchanged.

    Raises:
        GpunasError: ``phi < 0`` (scaling grows a network; a smaller one is another search).
    """
    if phi < 0:
        raise GpunasError(f"compound scaling: phi must be >= 0, got {phi}")
    if phi == 0:
        return arch
    d, w, r = coefs.alpha**phi, coefs.beta**phi, coefs.gamma**phi
    steps = steps or {}
    stages = tuple(
        replace(
            st,
            layers=st.layers if st.index == 0 else max(1, math.ceil(st.layers * d - 1e-9)),
            out_channels=make_divisible(st.out_channels * w, steps.get(st.index, 8)),
        )
        for st in arch.stages
    )
    resolution = max(res_step, round(arch.resolution * r / res_step) * res_step)
    return replace(arch, resolution=resolution, stages=stages, head_width=make_divisible(arch.head_width * w))


def family(
    arch: Architecture,
    coefs: Coefficients,
    members: int,
    steps: dict[int, int] | None = None,
    res_step: int = 8,
) -> list[tuple[int, Architecture]]:
    """(phi, architecture) for phi = 1..``members``: the base network grown step by step."""
    return [(phi, scale_architecture(arch, coefs, phi, steps, res_step)) for phi in range(1, members + 1)]


def latency_reward(accuracy: float, latency_ms: float, target_ms: float, w: float = MNASNET_W) -> float:
    """MnasNet's soft-constraint reward ``ACC * (LAT / T)**w`` (accuracy in %, latencies in ms;
    ``w < 0`` rewards speed: with w = -0.07, twice the latency must buy ~5% more accuracy).

    Raises:
        GpunasError: a non-positive latency or target.
    """
    if latency_ms <= 0 or target_ms <= 0:
        raise GpunasError(f"latency reward: latency and target must be > 0 ms, got {latency_ms}, {target_ms}")
    return float(accuracy * (latency_ms / target_ms) ** w)


def choose(
    points: Sequence[dict[str, Any]], rule: str, target_ms: float | None = None, w: float = MNASNET_W
) -> dict[str, Any]:
    """The chosen grid point of ``points`` (dicts with ``coefficients``, ``accuracy`` and, for
    ``lacs``, ``latency_ms``): ``rule = "lacs"`` maximises :func:`latency_reward` (EfficientNet-X),
    ``"flops"`` the accuracy alone at the grid's equal FLOPs (EfficientNet). Ties go to the first.

    Raises:
        GpunasError: no point with an accuracy, an unknown rule, or ``lacs`` without a target.
    """
    scored = [p for p in points if p.get("accuracy") is not None and np.isfinite(p["accuracy"])]
    if not scored:
        raise GpunasError("compound scaling: no grid point has an accuracy to choose by")
    if rule == "flops":
        return max(scored, key=lambda p: p["accuracy"])
    if rule != "lacs":
        raise GpunasError(f"compound scaling: rule must be 'lacs' or 'flops', got {rule!r}")
    if target_ms is None:
        raise GpunasError("compound scaling: the lacs rule needs a latency target (ms)")
    return max(scored, key=lambda p: latency_reward(p["accuracy"], p["latency_ms"], target_ms, w))
