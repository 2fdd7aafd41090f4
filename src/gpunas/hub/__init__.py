"""The model hub: the best searched network of each latency tier, with its card and files.

``results/hub/<tier>/`` holds ``card.json`` + ``card.md`` always, and for a tier with a winner
also ``encoding.json``, ``arch.txt``, ``arch.json`` (NVIDIA's layer list), ``weights.pt`` and
``model.onnx`` (checked against PyTorch). :func:`load_model` returns a hub model with its
weights, ready for inference; it needs torch only (no search or workflow packages).

What a hub model takes (the card's ``preprocessing``, also in the ONNX file's metadata): RGB
images scaled to [0, 1], float32, N x 3 x R x R (NCHW) at the card's resolution R, resized
bilinearly as the training resized them. The training data's per-channel mean and std are applied
*inside* the model (its first module; ONNX ``Sub`` / ``Div`` nodes that TensorRT folds into the
first convolution): do not normalise again. :func:`read_image` prepares an image file exactly as
the training saw it; :func:`classify` runs the whole path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpunas.arch import Architecture
from gpunas.errors import GpunasError


def read_card(hub_dir: str | Path) -> dict[str, Any]:
    """The card of a tier that has a model (refused in one line otherwise)."""
    hub_dir = Path(hub_dir)
    if not (hub_dir / "card.json").exists():
        raise GpunasError(f"{hub_dir}: no card.json (not a hub tier folder: results/hub/<tier>)")
    card = json.loads((hub_dir / "card.json").read_text())
    if card.get("status") != "ok":
        raise GpunasError(f"{hub_dir}: this tier has no model ({card.get('reason')})")
    if not (hub_dir / "weights.pt").exists():
        raise GpunasError(f"{hub_dir}: no weights.pt (a table-lookup tier has an architecture, not a model)")
    return card


def load_model(hub_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """A hub model with its trained weights (eval mode) and its card.

    The model takes RGB in [0, 1], float32, N x 3 x R x R (``card["resolution"]``) and returns
    N x classes logits; it normalises its input itself (:class:`gpunas.models.builder.Normalize`).
    """
    import torch

    from gpunas.models.builder import build_model, load_weights

    hub_dir = Path(hub_dir)
    card = read_card(hub_dir)
    arch = Architecture.from_string((hub_dir / "arch.txt").read_text().strip())
    ckpt = torch.load(hub_dir / "weights.pt", map_location="cpu", weights_only=True)
    model = load_weights(build_model(arch, ckpt["num_classes"]), ckpt)
    return model.eval(), card


def read_image(path: str | Path, card: dict[str, Any]) -> Any:
    """An image file as the training saw it: float32 tensor 1 x 3 x R x R, RGB in [0, 1].

    Any mode and bit depth becomes 8-bit RGB (:mod:`gpunas.datasets.images`), resized bilinearly
    (Pillow) to the data's stored size (``preprocessing.decode_size``), then bilinearly (PyTorch,
    ``align_corners=False``) to the model's resolution: the two steps of the training pipeline.
    Feed ``.numpy()`` of it to the ONNX file.
    """
    import torch
    import torch.nn.functional as F

    from gpunas.datasets.loader import decode_file

    prep = card["preprocessing"]
    size = prep["decode_size"]
    x = torch.from_numpy(decode_file(Path(path), size)).float().div_(255.0)[None]
    res = card["resolution"]
    if size != res:
        x = F.interpolate(x, size=(res, res), mode="bilinear", align_corners=False)
    return x.contiguous()


def classify(hub_dir: str | Path, paths: list[str | Path], top: int = 1) -> list[list[tuple[str, float]]]:
    """The ``top`` (class name, probability) of each image file, by the tier's PyTorch model."""
    import torch

    model, card = load_model(hub_dir)
    names = card.get("class_names") or [str(i) for i in range(card["num_classes"])]
    out = []
    with torch.inference_mode():
        for path in paths:
            prob = model(read_image(path, card)).softmax(1)[0]
            values, idx = prob.topk(min(top, len(names)))
            out.append([(names[int(i)], float(v)) for v, i in zip(values, idx, strict=True)])
    return out
