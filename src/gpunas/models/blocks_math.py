"""Channel and padding arithmetic shared by the blocks and the analytic counts (no torch)."""

from __future__ import annotations


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Round to the nearest multiple of ``divisor`` (not below it), bumping up when < 90% of v."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def se_channels(mid: int, expansion: int) -> int:
    """Squeeze width of the SE module: round(mid * 0.25 / expansion), about in/4."""
    return max(1, round(mid * 0.25 / expansion))


def bottleneck_channels(out_channels: int, reduction: int) -> int:
    """Inner width of a bottleneck block: out / reduction, a multiple of 8 (ResNet, GENet BL: 4)."""
    return make_divisible(out_channels / reduction)


def conv_padding(kernel: int, stride: int, block: str, padding: str) -> int:
    if padding == "release" and block == "fused_irb" and stride == 2:
        return 0
    if padding not in ("same", "release"):
        raise ValueError(f"padding must be 'same' or 'release', got {padding!r}")
    return (kernel - 1) // 2
