"""Headless matplotlib and atomic PNG output for every plot of the workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gpunas.io import atomic_write_with


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (imported lazily)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> None:
    """Write ``fig`` as PNG atomically (complete or absent), then close it."""
    fig.tight_layout()
    atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    pyplot().close(fig)
