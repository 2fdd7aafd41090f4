"""Channel, padding and output-size arithmetic shared by every model view (no torch).

The PyTorch blocks, the analytic counts, the LUT layer keys and the ONNX layer graphs all take
their widths, paddings and output sizes from here, so the four views of a block cannot drift.
Formulas follow NVIDIA's GPUNet release (``models/gpunet_modules.py``, timm's helpers).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from gpunas.errors import GpunasError

Size = TypeVar("Size", int, np.ndarray)

# The distilled GPUNets' classifier (NVIDIA's EpilogueD): conv1x1 to this fixed width first.
DISTILL_HEAD_HIDDEN = 1152


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Round to the nearest multiple of ``divisor`` (not below it), bumping up when < 90% of v (timm)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def expanded_channels(in_channels: int, expansion: float, distill: bool = False) -> int:
    """Inner width of an inverted residual: ``make_divisible(in * e)``; the distilled GPUNets use
    ``in * e`` exactly (NVIDIA's ``Inverted_Residual_Block``), which must then be an integer."""
    if distill:
        mid = in_channels * expansion
        if abs(mid - round(mid)) > 1e-9:
            raise GpunasError(
                f"distilled blocks use in_channels * expansion as their width: {in_channels} * {expansion} "
                "is not an integer"
            )
        return round(mid)
    return make_divisible(in_channels * expansion)


def se_channels(mid: int, expansion: float) -> int:
    """Squeeze width of the SE module: ``round(mid * 0.25 / expansion)`` (Python's round), about in/4."""
    return max(1, round(mid * (0.25 / expansion)))


def bottleneck_channels(out_channels: int, reduction: float) -> int:
    """Inner width of a bottleneck block: out / reduction, a multiple of 8 (ResNet, GENet BL: 4)."""
    return make_divisible(out_channels / reduction)


def conv_padding(kernel: int, stride: int, block: str, padding: str, distill: bool = False) -> int:
    """Padding of a block's spatial convolution.

    ``same``: (k - 1) // 2 everywhere. ``release``: as NVIDIA's released models, whose stride-2
    fused-IRB convolutions are unpadded (timm's dynamic 'same' padding falls back to 0 there);
    the distilled builder pads k // 2 everywhere.
    """
    return 0 if _unpadded(stride, block, padding, distill) else (kernel - 1) // 2


def _unpadded(stride: int, block: str, padding: str, distill: bool) -> bool:
    if padding not in ("same", "release"):
        raise GpunasError(f"padding must be 'same' or 'release', got {padding!r}")
    return padding == "release" and block == "fused_irb" and stride == 2 and not distill


def output_size(
    size: Size, kernel: int | np.ndarray, stride: int | np.ndarray, pad: int | np.ndarray
) -> Size:
    """Spatial output size of a convolution (PyTorch's and ONNX's floor formula); ints or arrays."""
    return (size + 2 * pad - kernel) // stride + 1


def layer_output_size(
    size: Size, kernel: int | np.ndarray, stride: int, block: str, padding: str, distill: bool = False
) -> Size:
    """Output size of one block: its strided convolution decides (the other convs keep the size)."""
    pad = 0 * kernel if _unpadded(stride, block, padding, distill) else (kernel - 1) // 2
    return output_size(size, kernel, stride, pad)
