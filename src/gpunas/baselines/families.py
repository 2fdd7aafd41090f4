"""Hand-designed baselines, scaled across the search's latency range and treated like candidates.

A :class:`Family` is data: its stages at ImageNet scale (phi = 0) and a compound-scaling rule
(width, depth and resolution multipliers per unit of phi). Variants of a family at
``phi in phis`` are fitted to a search space: widths are scaled so the stem matches the
space's widest stem, resolutions are snapped into the space's resolution range and step.

- ``efficientnet_b0``: MBConv (``irb`` + SE, swish), EfficientNet's scaling 1.1 / 1.2 / 1.15.
- ``efficientnet_x``: EfficientNet-X-B0: space-to-depth conv 2x2 s2, fused MBConv early, MBConv
  with ReLU late; latency-aware compound scaling (log-ratio depth:width:resolution 1:0.56:0.26).
- ``genet``: GENet-large: XX (``basic``) and BL (``bottleneck``) at high resolution, DW (``irb``
  e3, ReLU, no SE) at low resolution.
- ``resnet``: ResNet-18-style basic blocks.
- ``gpunet``: NVIDIA's seven released GPUNets (0, 1, 2, P0, P1, D1, D2), as released and by their
  names (only when the space is the GPUNet space; not scaled).

Stem and space-to-depth stages (``conv``) keep one layer; every other stage's repeats scale
with depth. The variants are data; costing them (:mod:`gpunas.baselines.costing`) and comparing
them with the search (:mod:`gpunas.baselines.compare`) live beside this module.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from gpunas.arch import Architecture, StageConfig
from gpunas.io import atomic_write_json
from gpunas.models.blocks_math import make_divisible
from gpunas.nvidia import released_models
from gpunas.registry import Registry
from gpunas.spaces.cnn import SearchSpace

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Family:
    """A baseline family: named variants (architectures) offered for a search space."""

    name: str
    label: str
    spaces: tuple[str, ...] = ()  # non-empty: only offered for these spaces

    def variants(self, space: SearchSpace, phis: list[float]) -> list[tuple[str, float, Architecture]]:
        """(variant name, phi, architecture) of every variant for ``space``."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ScaledFamily(Family):
    """A hand-designed network at ImageNet scale (phi = 0) with its compound-scaling rule."""

    resolution: int
    stages: tuple[StageConfig, ...]
    head_width: int
    width: float  # width multiplier per unit of phi
    depth: float  # depth multiplier per unit of phi
    res: float  # resolution multiplier per unit of phi

    def variants(self, space: SearchSpace, phis: list[float]) -> list[tuple[str, float, Architecture]]:
        return [
            (f"{self.name} phi {float(phi):g}", float(phi), scale(self, space, float(phi))) for phi in phis
        ]


@dataclass(frozen=True, kw_only=True)
class ReleasedFamily(Family):
    """NVIDIA's seven released GPUNets as they are (not scaled), by NVIDIA's names."""

    def variants(self, space: SearchSpace, phis: list[float]) -> list[tuple[str, float, Architecture]]:
        return [(name, float("nan"), arch) for name, arch in released_models().items()]


FAMILIES: Registry[Family] = Registry("baseline family")


def register_family(family: Family) -> Family:
    return FAMILIES.add(family.name, family)


def family_names() -> list[str]:
    return FAMILIES.names()


def get_family(name: str) -> Family:
    return FAMILIES.get(name)


def _stages(rows: list[tuple]) -> tuple[StageConfig, ...]:
    """(block, layers, kernel, stride, out, act, expansion, se) rows -> stages 0..n-1."""
    return tuple(
        StageConfig(i, b, n, k, s, c, a, expansion=e, se=bool(se))
        for i, (b, n, k, s, c, a, e, se) in enumerate(rows)
    )


# EfficientNet-B0 (Tan & Le 2019): MBConv stages, SE 0.25, swish.
register_family(
    ScaledFamily(
        name="efficientnet_b0",
        label="EfficientNet-B0 (MBConv)",
        resolution=224,
        stages=_stages(
            [
                ("conv", 1, 3, 2, 32, "swish", 1, 0),
                ("irb", 1, 3, 1, 16, "swish", 1, 1),
                ("irb", 2, 3, 2, 24, "swish", 6, 1),
                ("irb", 2, 5, 2, 40, "swish", 6, 1),
                ("irb", 3, 3, 2, 80, "swish", 6, 1),
                ("irb", 3, 5, 1, 112, "swish", 6, 1),
                ("irb", 4, 5, 2, 192, "swish", 6, 1),
                ("irb", 1, 3, 1, 320, "swish", 6, 1),
            ]
        ),
        head_width=1280,
        width=1.1,
        depth=1.2,
        res=1.15,
    )
)
# EfficientNet-X-B0 (Li et al. 2021, GPUNET.md section 6): space-to-depth, fused early, ReLU late.
register_family(
    ScaledFamily(
        name="efficientnet_x",
        label="EfficientNet-X-B0 (fused + space-to-depth)",
        resolution=224,
        stages=_stages(
            [
                ("conv", 1, 3, 2, 32, "swish", 1, 0),
                ("conv", 1, 2, 2, 64, "relu", 1, 0),
                ("irb", 1, 3, 1, 16, "relu", 1, 1),
                ("fused_irb", 2, 3, 1, 24, "swish", 6, 1),
                ("fused_irb", 2, 5, 2, 40, "swish", 6, 1),
                ("irb", 3, 3, 2, 80, "relu", 6, 1),
                ("irb", 3, 5, 1, 112, "relu", 6, 1),
                ("irb", 4, 5, 2, 192, "relu", 6, 1),
                ("irb", 1, 3, 1, 320, "relu", 6, 1),
            ]
        ),
        head_width=1280,
        width=1.2**0.56,
        depth=1.2,
        res=1.2**0.26,
    )
)
# GENet-large (Lin et al. 2020, GPUNET.md section 5): XX, BL early (full convs), DW late.
register_family(
    ScaledFamily(
        name="genet",
        label="GENet (XX / BL / DW)",
        resolution=256,
        stages=_stages(
            [
                ("conv", 1, 3, 2, 32, "relu", 1, 0),
                ("basic", 1, 3, 2, 128, "relu", 1, 0),
                ("basic", 2, 3, 2, 192, "relu", 1, 0),
                ("bottleneck", 6, 3, 2, 640, "relu", 4, 0),
                ("irb", 5, 3, 2, 640, "relu", 3, 0),
                ("irb", 4, 3, 1, 640, "relu", 3, 0),
            ]
        ),
        head_width=2560,
        width=1.1,
        depth=1.2,
        res=1.15,
    )
)
# ResNet-18 style: basic blocks; a stride-2 conv replaces the max-pool.
register_family(
    ScaledFamily(
        name="resnet",
        label="ResNet-18 style (basic blocks)",
        resolution=224,
        stages=_stages(
            [
                ("conv", 1, 3, 2, 32, "relu", 1, 0),
                ("conv", 1, 3, 2, 64, "relu", 1, 0),
                ("basic", 2, 3, 1, 64, "relu", 1, 0),
                ("basic", 2, 3, 2, 128, "relu", 1, 0),
                ("basic", 2, 3, 2, 256, "relu", 1, 0),
                ("basic", 2, 3, 2, 512, "relu", 1, 0),
            ]
        ),
        head_width=512,
        width=1.1,
        depth=1.2,
        res=1.15,
    )
)
# NVIDIA's seven released GPUNets (gpunas/data/gpunet_release), offered when searching the GPUNet space.
register_family(ReleasedFamily(name="gpunet", label="GPUNet (NVIDIA's released models)", spaces=("gpunet",)))


def families_for(space: SearchSpace, names: list[str]) -> list[Family]:
    """The requested families that apply to ``space`` (``gpunet`` only for the GPUNet space)."""
    return [f for f in map(get_family, names) if not f.spaces or space.name in f.spaces]


def _snap_resolution(space: SearchSpace, value: float) -> int:
    choices = np.array([int(r) for r in space.choices_of("resolution")])
    return int(choices[np.argmin(np.abs(choices - value))])


def scale(family: ScaledFamily, space: SearchSpace, phi: float) -> Architecture:
    """The family's variant at ``phi``, fitted to the space's stem width and resolution range."""
    stem_max = max(int(v) for v in space.choices_of("stage0.filters"))
    w = family.width**phi * stem_max / family.stages[0].out_channels
    d = family.depth**phi
    res_min = min(int(r) for r in space.choices_of("resolution"))
    resolution = _snap_resolution(space, res_min * family.res**phi)
    stages = tuple(
        replace(
            st,
            out_channels=make_divisible(st.out_channels * w),
            layers=st.layers if st.block == "conv" else max(1, math.ceil(st.layers * d)),
        )
        for st in family.stages
    )
    return Architecture(resolution, stages, make_divisible(family.head_width * min(w, 1.0)))


def variants(space: SearchSpace, names: list[str], phis: list[float]) -> pd.DataFrame:
    """One row per distinct (family, architecture): family, variant name, phi, arch string, and its
    finalist slot (``baselines/<family>/v<NN>``, in the family's order)."""
    rows, seen = [], set()
    for fam in families_for(space, names):
        index = 0
        for name, phi, arch in fam.variants(space, phis):
            text = arch.to_string()
            if (fam.name, text) not in seen:
                seen.add((fam.name, text))
                rows.append(
                    {
                        "family": fam.name,
                        "variant": name,
                        "phi": phi,
                        "arch": text,
                        "slot": f"baselines/{fam.name}/v{index:02d}",
                    }
                )
                index += 1
    return pd.DataFrame(rows, columns=["family", "variant", "phi", "arch", "slot"])


def variants_table(path: str | Path) -> pd.DataFrame:
    """The variants written by :func:`write_variants` (family, variant, phi, arch)."""
    return pd.DataFrame(json.loads(Path(path).read_text())["variants"])


def write_variants(table: pd.DataFrame, labels: dict[str, str], path: str | Path) -> None:
    """The variants as JSON: what the latency phase costs besides the samples, and what is compared."""
    rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    atomic_write_json(path, {"families": labels, "variants": rows})
