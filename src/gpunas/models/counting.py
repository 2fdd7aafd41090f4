"""Analytic parameter and MAC counts (no torch): per layer, and for a whole architecture.

MACs count the multiply-accumulates of convolutions (SE included) and of the classifier;
BatchNorm, activations and pooling are not counted. Parameters include BN affine weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from gpunas.arch import Architecture, LayerConfig
from gpunas.errors import GpunasError
from gpunas.models.blocks_math import (
    DISTILL_HEAD_HIDDEN,
    bottleneck_channels,
    expanded_channels,
    layer_output_size,
    se_channels,
)


@dataclass(frozen=True)
class LayerStats:
    name: str
    block: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    expansion: float
    act: str
    se: bool
    stage: int
    in_hw: int
    out_hw: int
    params: int
    macs: int

    def row(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, k: int, hw_out: int, groups: int = 1, bias: bool = False) -> tuple[int, int]:
    weights = k * k * (cin // groups) * cout
    return weights + (cout if bias else 0), weights * hw_out * hw_out


def _inverted(
    cin: int, cout: int, k: int, e: float, se: bool, hw: int, oh: int, fused: bool, distill: bool
) -> list:
    mid = expanded_channels(cin, e, distill)
    if fused:
        parts = [_conv(cin, mid, k, oh), (2 * mid, 0)]
    else:
        parts = [_conv(cin, mid, 1, hw), (2 * mid, 0), _conv(mid, mid, k, oh, groups=mid), (2 * mid, 0)]
    if se:
        rd = se_channels(mid, e)
        parts += [_conv(mid, rd, 1, 1, bias=True), _conv(rd, mid, 1, 1, bias=True)]
    return [*parts, _conv(mid, cout, 1, oh), (2 * cout, 0)]


def _shortcut(cin: int, cout: int, stride: int, oh: int) -> list:
    """Projection shortcut of the post-activation residual blocks (none when identity)."""
    return [] if stride == 1 and cin == cout else [_conv(cin, cout, 1, oh), (2 * cout, 0)]


def layer_cost(layer: LayerConfig, hw: int, padding: str = "same") -> tuple[int, int, int]:
    """(params, macs, output size) of one layer at input size ``hw`` (square)."""
    cin, cout, k, s, e = layer.in_channels, layer.out_channels, layer.kernel, layer.stride, layer.expansion
    oh = layer_output_size(hw, k, s, layer.block, padding, layer.distill)
    d = layer.distill
    parts: dict[str, Callable[[], list]] = {
        "conv": lambda: [_conv(cin, cout, k, oh), (2 * cout, 0)],
        "large_stem": lambda: [
            _conv(cin, cout, k, oh),
            (2 * cout, 0),
            *[_conv(cout, cout, k, oh), (2 * cout, 0)] * 2,
        ],
        "fused_irb": lambda: _inverted(cin, cout, k, e, layer.se, hw, oh, fused=True, distill=d),
        "irb": lambda: _inverted(cin, cout, k, e, layer.se, hw, oh, fused=False, distill=d),
        "basic": lambda: [
            _conv(cin, cout, k, oh),
            (2 * cout, 0),
            _conv(cout, cout, k, oh),
            (2 * cout, 0),
            *_shortcut(cin, cout, s, oh),
        ],
        "bottleneck": lambda: [
            _conv(cin, (m := bottleneck_channels(cout, e)), 1, hw),
            (2 * m, 0),
            _conv(m, m, k, oh),
            (2 * m, 0),
            _conv(m, cout, 1, oh),
            (2 * cout, 0),
            *_shortcut(cin, cout, s, oh),
        ],
    }
    if layer.block not in parts:
        raise GpunasError(f"no cost model for block {layer.block!r}; known: {sorted(parts)}")
    rows = parts[layer.block]()
    return sum(p for p, _ in rows), sum(m for _, m in rows), oh


def head_cost(cin: int, width: int, num_classes: int, hw: int, distill: bool = False) -> tuple[int, int]:
    """(params, macs) of the classifier: conv1x1 + BN (+ the distilled head's second conv) + FC."""
    hidden = DISTILL_HEAD_HIDDEN if distill else width
    conv_p, conv_m = _conv(cin, hidden, 1, hw)
    post_p, post_m = _conv(hidden, width, 1, 1) if distill else (0, 0)
    fc = width * num_classes
    return conv_p + 2 * hidden + post_p + fc + num_classes, conv_m + post_m + fc


def arch_stats(arch: Architecture, num_classes: int = 1000, padding: str = "same") -> list[LayerStats]:
    """Per-layer rows for ``arch``; the last row is the head (conv1x1 + pool + FC)."""
    rows = []
    hw = arch.resolution
    stage_pos: dict[int, int] = {}
    for layer in arch.layers():
        params, macs, oh = layer_cost(layer, hw, padding)
        pos = stage_pos.get(layer.stage, 0)
        stage_pos[layer.stage] = pos + 1
        rows.append(
            LayerStats(
                f"stage{layer.stage}.{pos}",
                in_hw=hw,
                out_hw=oh,
                params=params,
                macs=macs,
                **{
                    k: getattr(layer, k)
                    for k in (
                        "block",
                        "in_channels",
                        "out_channels",
                        "kernel",
                        "stride",
                        "expansion",
                        "act",
                        "se",
                        "stage",
                    )
                },
            )
        )
        hw = oh
    params, macs = head_cost(arch.num_features, arch.head_width, num_classes, hw, arch.distill)
    rows.append(
        LayerStats(
            name="head",
            block="head",
            in_channels=arch.num_features,
            out_channels=num_classes,
            kernel=1,
            stride=1,
            expansion=1,
            act="relu",
            se=False,
            stage=arch.stages[-1].index + 1,
            in_hw=hw,
            out_hw=1,
            params=params,
            macs=macs,
        )
    )
    return rows


def count(arch: Architecture, num_classes: int = 1000, padding: str = "same") -> tuple[int, int]:
    """Total (params, macs) of ``arch``."""
    rows = arch_stats(arch, num_classes, padding)
    return sum(r.params for r in rows), sum(r.macs for r in rows)
