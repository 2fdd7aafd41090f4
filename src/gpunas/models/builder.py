"""One builder for every architecture: threads channels, strides and the drop-path schedule."""

from __future__ import annotations

import torch
from torch import nn

from gpunas.arch import Architecture
from gpunas.errors import GpunasError
from gpunas.models.blocks import Head, create_block


class GPUNetModel(nn.Module):
    """Stages of registered blocks followed by the classification head."""

    def __init__(
        self,
        arch: Architecture,
        num_classes: int = 1000,
        *,
        drop_path_rate: float = 0.0,
        dropout: float = 0.2,
        padding: str = "same",
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise GpunasError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= drop_path_rate < 1.0:
            raise GpunasError(f"drop_path_rate must be in [0, 1), got {drop_path_rate}")
        self.arch = arch
        layers = arch.layers()
        blocks = []
        for i, layer in enumerate(layers):
            blocks.append(
                create_block(
                    layer.block,
                    layer.in_channels,
                    layer.out_channels,
                    kernel=layer.kernel,
                    stride=layer.stride,
                    expansion=layer.expansion,
                    act=layer.act,
                    se=layer.se,
                    drop_path=drop_path_rate * i / max(1, len(layers) - 1),
                    padding=padding,
                    distill=layer.distill,
                )
            )
        self.features = nn.Sequential(*blocks)
        self.head = Head(arch.num_features, arch.head_width, num_classes, dropout, distill=arch.distill)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_model(arch: Architecture, num_classes: int = 1000, **kwargs: object) -> GPUNetModel:
    """Build the PyTorch module of ``arch`` (any input resolution works)."""
    return GPUNetModel(arch, num_classes, **kwargs)


def module_macs(model: nn.Module, resolution: int, in_channels: int = 3) -> int:
    """MACs of convolutions and linear layers, measured with forward hooks on a real pass."""
    total = 0

    def conv_hook(mod: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        total += kh * kw * (mod.in_channels // mod.groups) * mod.out_channels * out.shape[2] * out.shape[3]

    def linear_hook(mod: nn.Linear, _inp: tuple, _out: torch.Tensor) -> None:
        nonlocal total
        total += mod.in_features * mod.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_channels, resolution, resolution))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
