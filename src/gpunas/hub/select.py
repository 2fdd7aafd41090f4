"""Choosing a tier's model and writing its files: weights, ONNX export (checked), NVIDIA JSON, card."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.arch import Architecture
from gpunas.hub.cards import card_markdown
from gpunas.io import atomic_path, atomic_write_json, atomic_write_text, atomic_write_with
from gpunas.nvidia import to_nvidia

log = logging.getLogger(__name__)
ONNX_TOLERANCE = 1e-4


def pick_winner(history: pd.DataFrame, lo_ms: float, hi_ms: float) -> pd.Series | None:
    """Most accurate successful trial whose predicted latency is inside [lo, hi); ties: faster."""
    ok = history[
        (history["status"] == "complete")
        & np.isfinite(history["accuracy"].astype(float))
        & (history["predicted_ms"] >= lo_ms)
        & (history["predicted_ms"] < hi_ms)
    ]
    if ok.empty:
        return None
    return ok.sort_values(
        ["accuracy", "predicted_ms", "round", "slot"], ascending=[False, True, True, True]
    ).iloc[0]


def export_onnx(model: Any, resolution: int, path: Path) -> float:
    """Export the shipped ONNX (:func:`gpunas.models.export.onnx_bytes`); return max |ORT - torch|."""
    import onnxruntime as ort
    import torch

    from gpunas.models.export import onnx_bytes

    data = onnx_bytes(model, resolution)
    atomic_write_with(path, lambda tmp: tmp.write_bytes(data))
    x = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = model(x).numpy()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    return float(np.abs(got - ref).max())


def write_tier(
    out: Path, card: dict[str, Any], best: pd.Series | None, weights: Path | None, with_model: bool
) -> dict[str, Any]:
    """Write a tier's files for the winning trial ``best`` (None: no model) and its card.

    ``with_model``: the evaluator trained real networks, so the tier gets weights (copied from
    ``weights``, the winning trial's declared weights file), ONNX and NVIDIA JSON; else (table
    lookups) only the encoding and the architecture key.
    """
    import torch

    from gpunas.models.builder import build_model

    out.mkdir(parents=True, exist_ok=True)
    if best is None:
        pass
    elif not with_model:
        encoding = [int(v) for v in best["encoding"].split(",")]
        atomic_write_json(out / "encoding.json", encoding)
        atomic_write_text(out / "arch.txt", best["arch"] + "\n")
        card |= {
            "status": "ok",
            "accuracy": float(best["accuracy"]),
            "predicted_ms": float(best["predicted_ms"]),
            "arch": best["arch"],
            "encoding": encoding,
            "trial": {"round": int(best["round"]), "slot": int(best["slot"])},
            "files": ["encoding.json", "arch.txt"],
        }
    else:
        if weights is None or not weights.exists() or weights.stat().st_size == 0:
            raise RuntimeError(f"the winning trial of {card['subspace']} has no weights ({weights})")
        arch = Architecture.from_string(best["arch"])
        ckpt = torch.load(weights, map_location="cpu", weights_only=True)
        model = build_model(arch, ckpt["num_classes"])
        model.load_state_dict(ckpt["state_dict"])
        with atomic_path(out / "weights.pt") as tmp:
            shutil.copyfile(weights, tmp)
        diff = export_onnx(model, arch.resolution, out / "model.onnx")
        if diff > ONNX_TOLERANCE:
            raise RuntimeError(
                f"ONNX export of {card['subspace']} differs from PyTorch by {diff:.2e} (> {ONNX_TOLERANCE})"
            )
        atomic_write_json(out / "encoding.json", [int(v) for v in best["encoding"].split(",")])
        atomic_write_text(out / "arch.txt", arch.to_string() + "\n")
        atomic_write_json(out / "arch.json", to_nvidia(arch, ckpt["num_classes"]))
        card |= {
            "status": "ok",
            "accuracy": float(best["accuracy"]),
            "predicted_ms": float(best["predicted_ms"]),
            "params": int(best["params"]),
            "macs": int(best["macs"]),
            "arch": arch.to_string(),
            "encoding": [int(v) for v in best["encoding"].split(",")],
            "resolution": arch.resolution,
            "num_classes": int(ckpt["num_classes"]),
            "norm": ckpt.get("norm"),
            "trial": {"round": int(best["round"]), "slot": int(best["slot"]), "dir": best["trial_dir"]},
            "onnx_max_abs_diff": diff,
            "files": ["encoding.json", "arch.txt", "arch.json", "weights.pt", "model.onnx"],
        }
    atomic_write_json(out / "card.json", card)
    atomic_write_text(out / "card.md", card_markdown(card))
    log.info("hub %s: %s %s", card["subspace"], card["status"], card.get("accuracy", card.get("reason")))
    return card
