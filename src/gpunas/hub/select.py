"""Choosing a tier's model and writing its files: weights, ONNX export (checked), NVIDIA JSON, card."""

from __future__ import annotations

import json
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


def export_onnx(model: Any, resolution: int, path: Path, metadata: dict[str, str] | None = None) -> float:
    """Export the shipped ONNX (:func:`gpunas.models.export.onnx_bytes`, the input normalisation
    inside) with ``metadata`` as the model's metadata properties; return max |ORT - torch|."""
    import onnx
    import onnxruntime as ort
    import torch

    from gpunas.models.export import onnx_bytes

    proto = onnx.load_from_string(onnx_bytes(model, resolution))
    onnx.helper.set_model_props(proto, metadata or {})
    data = proto.SerializeToString()
    atomic_write_with(path, lambda tmp: tmp.write_bytes(data))
    x = torch.rand(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = model(x).numpy()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    return float(np.abs(got - ref).max())


def preprocessing(resolution: int, norm: dict[str, list[float]], decode_size: int) -> dict[str, Any]:
    """What a hub model takes, in the manner of timm's ``pretrained_cfg`` (``input_size``,
    ``interpolation``, ``mean``, ``std``, ``crop_pct``), plus where the normalisation happens."""
    return {
        "input": f"RGB, float32 in [0, 1], N x 3 x {resolution} x {resolution} (NCHW)",
        "input_size": [3, resolution, resolution],
        "input_range": [0.0, 1.0],
        "interpolation": "bilinear",
        "crop_pct": 1.0,
        "decode_size": decode_size,
        "mean": [float(v) for v in norm["mean"]],
        "std": [float(v) for v in norm["std"]],
        "normalization": "inside the model ((x - mean) / std, its first module): do not normalise again",
    }


def write_tier(
    out: Path,
    card: dict[str, Any],
    best: pd.Series | None,
    weights: Path | None,
    with_model: bool,
    decode_size: int | None = None,
    class_names: list[str] | None = None,
) -> dict[str, Any]:
    """Write a tier's files for the winning trial ``best`` (None: no model) and its card.

    ``with_model``: the evaluator trained real networks, so the tier gets weights (copied from
    ``weights``, the winning trial's declared weights file), ONNX and NVIDIA JSON; else (table
    lookups) only the encoding and the architecture key. ``decode_size``: the stored images'
    size (the data's), from which inputs are resized to the model's resolution; ``class_names``:
    the data's classes, in label order.
    """
    import torch

    from gpunas.models.builder import build_model, load_weights

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
        model = load_weights(build_model(arch, ckpt["num_classes"]), ckpt)
        norm = {
            "mean": model.normalize.mean.flatten().tolist(),
            "std": model.normalize.std.flatten().tolist(),
        }
        prep = preprocessing(arch.resolution, norm, int(decode_size or arch.resolution))
        with atomic_path(out / "weights.pt") as tmp:
            shutil.copyfile(weights, tmp)
        meta = {
            "gpunas.preprocessing": json.dumps(prep),
            "gpunas.arch": arch.to_string(),
            **{k: json.dumps(prep[k]) for k in ("input_size", "interpolation", "mean", "std")},
        }
        if class_names:
            meta["gpunas.class_names"] = json.dumps(list(class_names))
        diff = export_onnx(model, arch.resolution, out / "model.onnx", meta)
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
            "norm": norm,
            "preprocessing": prep,
            "class_names": list(class_names or []),
            "trial": {"round": int(best["round"]), "slot": int(best["slot"]), "dir": best["trial_dir"]},
            "onnx_max_abs_diff": diff,
            "files": ["encoding.json", "arch.txt", "arch.json", "weights.pt", "model.onnx"],
        }
    atomic_write_json(out / "card.json", card)
    atomic_write_text(out / "card.md", card_markdown(card))
    log.info("hub %s: %s %s", card["subspace"], card["status"], card.get("accuracy", card.get("reason")))
    return card
