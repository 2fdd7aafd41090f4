"""Blocks of GPUNet-style networks, dispatched through a registry.

Every block takes one keyword signature::

    Block(in_channels, out_channels, *, kernel, stride, expansion, act, se, drop_path, padding, distill)

so the builder never branches on block type. ``padding`` is ``"same"`` (correct "same" padding) or
``"release"`` (NVIDIA's released models: stride-2 fused-IRB convs without padding). ``distill``
selects NVIDIA's distilled block set (GPUNet-D1/D2): inverted residuals expand to exactly
``in * expansion`` channels and BatchNorm keeps PyTorch's default eps, as ``gpunet_modules.py``'s
distilled modules do. Global pooling is ``adaptive_avg_pool2d`` (ONNX ``GlobalAveragePool``, the
operator the timed layer graphs use).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gpunas.errors import GpunasError
from gpunas.models.blocks_math import (
    DISTILL_HEAD_HIDDEN,
    bottleneck_channels,
    conv_padding,
    expanded_channels,
    se_channels,
)
from gpunas.registry import Registry

BN_EPS = 1e-3  # NVIDIA's released modules
BN_EPS_DISTILL = 1e-5  # the distilled modules (PyTorch's default), except fused-IRB
BLOCKS: Registry[type[nn.Module]] = Registry("block type")
_ACTS: dict[str, Callable[[], nn.Module]] = {"relu": lambda: nn.ReLU(inplace=True), "swish": nn.SiLU}


def global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling, N x C x 1 x 1: ``adaptive_avg_pool2d`` (ONNX GlobalAveragePool, as
    the timed graphs); under PyTorch's deterministic algorithms on CUDA, where that op's backward
    has no deterministic kernel, the same mean computed with ``mean``."""
    if x.is_cuda and torch.are_deterministic_algorithms_enabled():
        return x.mean((2, 3), keepdim=True)
    return F.adaptive_avg_pool2d(x, 1)


register_block = BLOCKS.register


def block_names() -> list[str]:
    return BLOCKS.names()


def create_block(name: str, in_channels: int, out_channels: int, **kwargs: object) -> nn.Module:
    """The block ``name`` (one keyword signature for all); an unknown name is refused in one line."""
    return BLOCKS.get(name)(in_channels, out_channels, **kwargs)


def make_act(name: str) -> nn.Module:
    try:
        return _ACTS[name]()
    except KeyError:
        raise GpunasError(f"unknown activation {name!r}; allowed: {sorted(_ACTS)}") from None


class DropPath(nn.Module):
    """Stochastic depth on the residual branch (per sample)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int, act: str) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1, bias=True)
        self.act = make_act(act)
        self.expand = nn.Conv2d(reduced, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = global_avg_pool(x)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


def conv_bn(
    cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, groups: int = 1, eps: float = BN_EPS
) -> list:
    return [
        nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=eps),
    ]


class _Residual(nn.Module):
    """Shared forward: body, then identity shortcut with drop-path when allowed."""

    body: nn.Sequential

    def __init__(self, use_residual: bool, drop_path: float) -> None:
        super().__init__()
        self.use_residual = use_residual
        self.drop_path = DropPath(drop_path) if use_residual else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + self.drop_path(y) if self.use_residual else y


@register_block("conv")
class ConvBlock(_Residual):
    """conv kxk -> BN -> act; no residual (GPUNet's stem and stage-1 layers)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int,
        act: str,
        expansion: float = 1,
        se: bool = False,
        drop_path: float = 0.0,
        padding: str = "same",
        distill: bool = False,
    ) -> None:
        super().__init__(use_residual=False, drop_path=0.0)
        pad = conv_padding(kernel, stride, "conv", padding, distill)
        eps = BN_EPS_DISTILL if distill else BN_EPS
        self.body = nn.Sequential(
            *conv_bn(in_channels, out_channels, kernel, stride, pad, eps=eps), make_act(act)
        )


@register_block("large_stem")
class LargeStem(_Residual):
    """Three conv kxk -> BN -> act, the first strided; no residual (GPUNet-D2's ``head_large``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int,
        act: str,
        expansion: float = 1,
        se: bool = False,
        drop_path: float = 0.0,
        padding: str = "same",
        distill: bool = False,
    ) -> None:
        super().__init__(use_residual=False, drop_path=0.0)
        pad = conv_padding(kernel, stride, "large_stem", padding, distill)
        eps = BN_EPS_DISTILL if distill else BN_EPS
        layers = []
        for i, cin in enumerate((in_channels, out_channels, out_channels)):
            s = stride if i == 0 else 1
            layers += [*conv_bn(cin, out_channels, kernel, s, pad if i == 0 else (kernel - 1) // 2, eps=eps)]
            layers.append(make_act(act))
        self.body = nn.Sequential(*layers)


@register_block("fused_irb")
class FusedIRB(_Residual):
    """conv kxk in->mid -> BN -> act -> [SE] -> conv1x1 mid->out -> BN (+ identity)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int,
        act: str,
        expansion: float = 1,
        se: bool = False,
        drop_path: float = 0.0,
        padding: str = "same",
        distill: bool = False,
    ) -> None:
        super().__init__(stride == 1 and in_channels == out_channels, drop_path)
        mid = expanded_channels(in_channels, expansion, distill)
        pad = conv_padding(kernel, stride, "fused_irb", padding, distill)
        layers = [*conv_bn(in_channels, mid, kernel, stride, pad), make_act(act)]
        if se:
            layers.append(SqueezeExcite(mid, se_channels(mid, expansion), act))
        layers += conv_bn(mid, out_channels, 1)
        self.body = nn.Sequential(*layers)


@register_block("irb")
class IRB(_Residual):
    """conv1x1 -> BN -> act -> depthwise kxk -> BN -> act -> [SE] -> conv1x1 -> BN (+ identity)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int,
        act: str,
        expansion: float = 1,
        se: bool = False,
        drop_path: float = 0.0,
        padding: str = "same",
        distill: bool = False,
    ) -> None:
        super().__init__(stride == 1 and in_channels == out_channels, drop_path)
        mid = expanded_channels(in_channels, expansion, distill)
        pad = conv_padding(kernel, stride, "irb", padding, distill)
        eps = BN_EPS_DISTILL if distill else BN_EPS
        layers = [*conv_bn(in_channels, mid, 1, eps=eps), make_act(act)]
        layers += [*conv_bn(mid, mid, kernel, stride, pad, groups=mid, eps=eps), make_act(act)]
        if se:
            layers.append(SqueezeExcite(mid, se_channels(mid, expansion), act))
        layers += conv_bn(mid, out_channels, 1, eps=eps)
        self.body = nn.Sequential(*layers)


class _PostActResidual(nn.Module):
    """Residual blocks of hand-designed networks: act(body(x) + shortcut(x)).

    The shortcut is the identity when stride 1 and in == out, otherwise a projection
    (conv1x1 with the stride -> BN), as in ResNet and GENet.
    """

    body: nn.Sequential

    def __init__(self, in_channels: int, out_channels: int, stride: int, act: str, drop_path: float) -> None:
        super().__init__()
        self.identity = stride == 1 and in_channels == out_channels
        self.shortcut = (
            nn.Identity() if self.identity else nn.Sequential(*conv_bn(in_channels, out_channels, 1, stride))
        )
        self.drop_path = DropPath(drop_path)
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shortcut(x) + self.drop_path(self.body(x)))


@register_block("basic")
class BasicBlock(_PostActResidual):
    """GENet XX / ResNet basic block: conv kxk (stride) -> BN -> act -> conv kxk -> BN, + shortcut, act."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int,
        act: str,
        expansion: float = 1,
        se: bool = False,
        drop_path: float = 0.0,
        padding: str = "same",
        distill: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, stride, act, drop_path)
        pad = conv_padding(kernel, stride, "basic", padding, distill)
        self.body = nn.Sequential(
            *conv_bn(in_channels, out_channels, kernel, stride, pad),
            make_act(act),
            *conv_bn(out_channels, out_channels, kernel, 1, (kernel - 1) // 2),
        )


@register_block("bottleneck")
class Bottleneck(_PostActResidual):
    """GENet BL / ResNet bottleneck: 1x1 -> kxk (stride) -> 1x1, mid = out / expansion, + shortcut, act."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: int,
        stride: int,
        act: str,
        expansion: float = 4,
        se: bool = False,
        drop_path: float = 0.0,
        padding: str = "same",
        distill: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, stride, act, drop_path)
        mid = bottleneck_channels(out_channels, expansion)
        pad = conv_padding(kernel, stride, "bottleneck", padding, distill)
        layers = [*conv_bn(in_channels, mid, 1), make_act(act)]
        layers += [*conv_bn(mid, mid, kernel, stride, pad), make_act(act)]
        if se:
            raise GpunasError("bottleneck blocks take no SE")
        layers += conv_bn(mid, out_channels, 1)
        self.body = nn.Sequential(*layers)


class Head(nn.Module):
    """conv1x1 -> BN -> ReLU -> global average pool -> dropout -> Linear (NVIDIA's Epilogue).

    ``distill``: conv1x1 -> 1152 -> BN -> ReLU -> pool -> conv1x1 -> ``width`` -> ReLU -> dropout
    -> Linear (NVIDIA's EpilogueD, the distilled GPUNets' classifier).
    """

    def __init__(
        self, in_channels: int, width: int, num_classes: int, dropout: float = 0.2, distill: bool = False
    ) -> None:
        super().__init__()
        hidden = DISTILL_HEAD_HIDDEN if distill else width
        eps = BN_EPS_DISTILL if distill else BN_EPS
        self.conv = nn.Sequential(*conv_bn(in_channels, hidden, 1, eps=eps), nn.ReLU(inplace=True))
        self.post = (
            nn.Sequential(nn.Conv2d(hidden, width, 1, bias=False), nn.ReLU(inplace=True))
            if distill
            else nn.Identity()
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.post(global_avg_pool(self.conv(x))).flatten(1)
        return self.fc(self.dropout(x))
