"""One builder for every architecture: threads channels, strides and the drop-path schedule.

A built model takes what a deployment has: RGB images scaled to [0, 1], N x 3 x H x W. Its first
module, :class:`Normalize`, subtracts the training data's per-channel mean and divides by its
standard deviation (buffers saved with the weights; a runtime such as TensorRT folds them into the
first convolution), so neither the hub's PyTorch module nor its ONNX graph needs a
preprocessing step the user must know about. The latency LUT's stem keys include it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gpunas.arch import Architecture
from gpunas.errors import GpunasError
from gpunas.models.blocks import Head, create_block


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel: x is RGB in [0, 1], N x C x H x W; mean and std (C values
    each, in [0, 1] units) are buffers, saved in the state dict. Identity by default."""

    def __init__(
        self, channels: int = 3, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("std", torch.ones(1, channels, 1, 1))
        if mean is not None or std is not None:
            self.set(
                mean if mean is not None else [0.0] * channels, std if std is not None else [1.0] * channels
            )

    def set(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Use these statistics (C values each; std > 0)."""
        mean_t = torch.as_tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        std_t = torch.as_tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
        if mean_t.shape != self.mean.shape or std_t.shape != self.std.shape:
            raise GpunasError(
                f"normalisation needs {self.mean.shape[1]} means and stds, got {list(mean)}, {list(std)}"
            )
        if not bool((std_t > 0).all()):
            raise GpunasError(f"normalisation std must be > 0, got {list(std)}")
        with torch.no_grad():
            self.mean.copy_(mean_t.to(self.mean.device))
            self.std.copy_(std_t.to(self.std.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class GPUNetModel(nn.Module):
    """Input normalisation, stages of registered blocks, the classification head."""

    def __init__(
        self,
        arch: Architecture,
        num_classes: int = 1000,
        *,
        drop_path_rate: float = 0.0,
        dropout: float = 0.2,
        padding: str = "same",
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise GpunasError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= drop_path_rate < 1.0:
            raise GpunasError(f"drop_path_rate must be in [0, 1), got {drop_path_rate}")
        self.arch = arch
        self.normalize = Normalize(arch.in_channels, mean, std)
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
        return self.head(self.features(self.normalize(x)))


def build_model(arch: Architecture, num_classes: int = 1000, **kwargs: object) -> GPUNetModel:
    """Build the PyTorch module of ``arch`` (any input resolution works; input RGB in [0, 1],
    normalised inside by ``mean`` / ``std`` when given)."""
    return GPUNetModel(arch, num_classes, **kwargs)


def load_weights(model: GPUNetModel, ckpt: dict) -> GPUNetModel:
    """Load a gpunas weights file (``torch.load`` of ``weights.pt``) into ``model``.

    Files written before the normalisation moved into the model keep it beside the weights
    (``ckpt["norm"]``); it is set on the model's :class:`Normalize` then.
    """
    state = dict(ckpt["state_dict"])
    if "normalize.mean" not in state:
        norm = ckpt.get("norm") or {}
        state["normalize.mean"] = torch.tensor(norm.get("mean", [0.0] * model.normalize.mean.shape[1])).view(
            1, -1, 1, 1
        )
        state["normalize.std"] = torch.tensor(norm.get("std", [1.0] * model.normalize.std.shape[1])).view(
            1, -1, 1, 1
        )
    model.load_state_dict(state)
    return model


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
