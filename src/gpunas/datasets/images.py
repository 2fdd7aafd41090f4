"""Images of any encoding, as the networks take them: 8-bit RGB, each value range scaled, never clipped.

Two kinds of input reach a training:

- **image files** (class folders), decoded by Pillow. Modes of 8 bits a channel (``1``, ``L``,
  ``P``, ``RGB``, ``RGBA``, ``LA``, ``PA``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``...) are made RGB by
  Pillow's own conversion (alpha is dropped, palettes expanded, CMYK / YCbCr / LAB / HSV converted).
  Wider modes are scaled from their full range: 16-bit grayscale (``I;16``, ``I;16B``...:
  0..65535 -> 0..255, ``round(v * 255 / 65535)``; a bare ``convert("RGB")`` clips every value
  above 255, so a dark 16-bit image comes out white), 32-bit integer (``I``: read as 16-bit when
  its values lie in 0..65535, refused otherwise) and float (``F``: [0, 1] or [0, 255], refused
  otherwise).
- **arrays** (an ``.npz``): ``uint8`` as is; ``bool`` x 255; ``uint16`` scaled from 0..65535;
  other integers kept when they lie in 0..255; floats in [0, 1] scaled by 255, in [0, 255]
  rounded; anything else (negative values, NaN, integers above 255) refused, naming the range.

Every decision has a name (:data:`DECISIONS`) that the data check counts and logs once.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from gpunas.errors import GpunasError

# Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``), the default of data.max_image_pixels
PILLOW_MAX_PIXELS = 89_478_485
SIXTEEN_BIT = "16-bit range 0..65535 scaled to 0..255"
DECISIONS = {
    "8bit": "8 bits per channel: Pillow's RGB conversion",
    "I;16": SIXTEEN_BIT,
    "I": "32-bit integers in 0..65535: " + SIXTEEN_BIT,
    "F[0,1]": "float in [0, 1] scaled by 255",
    "F[0,255]": "float in [0, 255] rounded",
}


class ImageDecodeError(GpunasError):
    """An image that cannot become 8-bit RGB; ``reason`` says why (the caller names the file)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OversizedImageError(GpunasError):
    """An image above ``data.max_image_pixels``: one line naming the file and its size."""

    def __init__(self, path: Path | str, size: tuple[int, int], limit: int) -> None:
        w, h = size
        super().__init__(
            f"{path}: {w} x {h} = {w * h:,} pixels is over data.max_image_pixels ({limit:,}, Pillow's "
            "decompression-bomb limit); set data.max_image_pixels higher (or null) to allow it"
        )
        self.path, self.size = Path(path), size


@contextmanager
def pixel_limit_off() -> Any:
    """Pillow's own limit switched off while gpunas applies ``data.max_image_pixels`` itself (a
    check that names the file in one line instead of Pillow's warning or traceback)."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def check_pixels(path: Path | str, size: tuple[int, int], limit: int | None) -> None:
    """Raise :class:`OversizedImageError` when ``size`` (W, H) has more than ``limit`` pixels."""
    if limit is not None and size[0] * size[1] > limit:
        raise OversizedImageError(path, size, limit)


def decision_of(mode: str) -> str:
    """The decision name of a Pillow mode before its values are seen (``I`` and ``F`` are refined)."""
    if mode.startswith("I;16"):
        return "I;16"
    return mode if mode in ("I", "F") else "8bit"


def _float_range(values: np.ndarray) -> str:
    """``F[0,1]`` or ``F[0,255]`` for finite values in those ranges; raises naming the range."""
    if values.size == 0:
        return "F[0,1]"
    lo, hi = float(np.min(values)), float(np.max(values))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ImageDecodeError("float values include NaN or infinity")
    if lo >= 0 and hi <= 1:
        return "F[0,1]"
    if lo >= 0 and hi <= 255:
        return "F[0,255]"
    raise ImageDecodeError(f"float values in [{lo:g}, {hi:g}]: expected [0, 1] or [0, 255]")


def to_rgb8(img: Any) -> tuple[Any, str]:
    """(8-bit RGB ``PIL.Image``, decision name) of a Pillow image of any mode.

    Raises :class:`ImageDecodeError` for values outside the ranges above or a mode Pillow cannot
    make RGB.
    """
    from PIL import Image

    decision = decision_of(img.mode)
    if decision == "8bit":
        try:
            return img.convert("RGB"), decision
        except ValueError as exc:
            raise ImageDecodeError(f"mode {img.mode}: {exc}") from None
    values = np.asarray(img)
    if decision == "I;16":
        scaled = values.astype(np.float64) * (255.0 / 65535.0)
    elif decision == "I":
        lo, hi = int(values.min()), int(values.max())
        if lo < 0 or hi > 65535:
            raise ImageDecodeError(f"32-bit integer values in [{lo}, {hi}]: expected 0..65535")
        scaled = values.astype(np.float64) * (255.0 / 65535.0)
    else:  # F
        decision = _float_range(values)
        scaled = values.astype(np.float64) * (255.0 if decision == "F[0,1]" else 1.0)
    grey = Image.fromarray(np.rint(scaled).astype(np.uint8), mode="L")
    return grey.convert("RGB"), decision


def array_to_uint8(images: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """(uint8 array of the same shape, the decision) for an ``.npz``'s ``images`` by dtype.

    Raises :class:`GpunasError` naming ``where``, the dtype and the range for anything else.
    """
    dtype = images.dtype
    if dtype == np.uint8:
        return images, "uint8 as is"
    if dtype == np.bool_:
        return images.astype(np.uint8) * 255, "bool scaled to 0/255"
    if dtype == np.uint16:
        return np.rint(images * (255.0 / 65535.0)).astype(np.uint8), f"uint16: {SIXTEEN_BIT}"
    if np.issubdtype(dtype, np.integer):
        lo, hi = (int(images.min()), int(images.max())) if images.size else (0, 0)
        if lo < 0 or hi > 255:
            raise GpunasError(
                f"{where}: images of dtype {dtype} have values in [{lo}, {hi}]: integer images must lie in "
                "0..255 (uint16: 0..65535)"
            )
        return images.astype(np.uint8), f"{dtype} in 0..255 as is"
    if np.issubdtype(dtype, np.floating):
        try:
            rng = _float_range(images)
        except ImageDecodeError as exc:
            raise GpunasError(f"{where}: images of dtype {dtype}: {exc.reason}") from None
        factor = 255.0 if rng == "F[0,1]" else 1.0
        return np.rint(images * factor).astype(np.uint8), f"{dtype}: {DECISIONS[rng]}"
    raise GpunasError(f"{where}: images of dtype {dtype} are not supported (uint8, uint16, integers, floats)")
