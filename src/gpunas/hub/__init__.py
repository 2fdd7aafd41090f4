"""The model hub: the best searched network of each latency tier, with its card and files.

``results/hub/<tier>/`` holds ``card.json`` + ``card.md`` always, and for a tier with a winner
also ``encoding.json``, ``arch.txt``, ``arch.json`` (NVIDIA's layer list), ``weights.pt`` and
``model.onnx`` (checked against PyTorch). :func:`load_model` returns a hub model with its
weights, ready for inference; it needs torch only (no search or workflow packages).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpunas.arch import Architecture
from gpunas.errors import GpunasError


def load_model(hub_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """A hub model with its trained weights (eval mode) and its card."""
    import torch

    from gpunas.models.builder import build_model

    hub_dir = Path(hub_dir)
    card = json.loads((hub_dir / "card.json").read_text())
    if card.get("status") != "ok":
        raise GpunasError(f"{hub_dir}: this tier has no model ({card.get('reason')})")
    arch = Architecture.from_string((hub_dir / "arch.txt").read_text().strip())
    ckpt = torch.load(hub_dir / "weights.pt", map_location="cpu", weights_only=True)
    model = build_model(arch, ckpt["num_classes"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), card
