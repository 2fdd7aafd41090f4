"""Proxy training of one candidate: a short, deterministic schedule on a fixed split.

AdamW, cosine learning rate with linear warm-up, label smoothing, random horizontal flips,
channels_last, one seed for initialisation, order and augmentation. A loss that turns NaN/inf
ends the run as ``failed`` (diverged); an exception inside training is recorded as ``failed``
with its reason by :func:`train_candidate`; the caller never sees a half-written result.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gpunas.arch import Architecture
from gpunas.datasets.loader import Split
from gpunas.errors import GpunasError
from gpunas.models.builder import build_model, num_params
from gpunas.models.counting import count

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 2
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    warmup_frac: float = 0.1
    drop_path: float = 0.0
    dropout: float = 0.1
    flip: bool = True
    threads: int = 1

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        cfg = cls(**known)
        if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0:
            raise GpunasError(f"train: epochs, batch_size and lr must be positive, got {asdict(cfg)}")
        return cfg


def _prepare(images: np.ndarray, resolution: int, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    out = []
    for lo in range(0, len(images), 1024):
        x = torch.from_numpy(images[lo : lo + 1024]).float().div_(255.0)
        if x.shape[-1] != resolution:
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
        out.append((x - mean) / std)
    return torch.cat(out).contiguous(memory_format=torch.channels_last)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> tuple[float, float]:
    """(top-1 accuracy in %, mean cross-entropy) of ``model`` on (x, y)."""
    model.eval()
    correct, loss = 0, 0.0
    with torch.inference_mode():
        for lo in range(0, len(x), batch):
            logits = model(x[lo : lo + batch])
            loss += F.cross_entropy(logits, y[lo : lo + batch], reduction="sum").item()
            correct += (logits.argmax(1) == y[lo : lo + batch]).sum().item()
    return 100.0 * correct / len(x), loss / len(x)


def fit(arch: Architecture, data: Split, cfg: TrainConfig, seed: int) -> tuple[dict[str, Any], nn.Module]:
    """Train ``arch``; return (metrics, model). Raises on unexpected errors."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    train_f = torch.from_numpy(data.x_train[:512]).float().div_(255.0)
    mean = train_f.mean((0, 2, 3), keepdim=True)
    std = train_f.std((0, 2, 3), keepdim=True).clamp_min(1e-3)
    x_train = _prepare(data.x_train, arch.resolution, mean, std)
    x_val = _prepare(data.x_val, arch.resolution, mean, std)
    y_train, y_val = torch.from_numpy(data.y_train), torch.from_numpy(data.y_val)
    model = build_model(arch, data.num_classes, drop_path_rate=cfg.drop_path, dropout=cfg.dropout)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warm = max(1, int(cfg.warmup_frac * total))

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    curve: list[dict[str, float]] = []
    step, status, reason = 0, "complete", ""
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        running, seen = 0.0, 0
        for lo in range(0, len(perm), cfg.batch_size):
            idx = perm[lo : lo + cfg.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if cfg.flip:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), yb, label_smoothing=cfg.label_smoothing)
            if not torch.isfinite(loss):
                status, reason = "failed", f"diverged: loss is {loss.item()} at step {step} (epoch {epoch})"
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item() * len(idx)
            seen += len(idx)
            step += 1
        if status == "failed":
            break
        val_acc, val_loss = evaluate(model, x_val, y_val)
        curve.append(
            {"epoch": epoch + 1, "train_loss": running / seen, "val_loss": val_loss, "val_top1": val_acc}
        )
        log.info("epoch %d/%d: train loss %.4f, val loss %.4f, val top-1 %.2f%%",
                 epoch + 1, cfg.epochs, running / seen, val_loss, val_acc)  # fmt: skip
    params, macs = count(arch, data.num_classes)
    if num_params(model) != params:
        raise RuntimeError(f"built model has {num_params(model)} parameters, analytic count {params}")
    metrics = {
        "status": status,
        "reason": reason,
        "val_top1": curve[-1]["val_top1"] if status == "complete" else None,
        "val_loss": curve[-1]["val_loss"] if status == "complete" else None,
        "curve": curve,
        "wall_s": time.perf_counter() - t0,
        "params": params,
        "macs": macs,
        "steps": step,
        "seed": seed,
        "images_seen": step * cfg.batch_size,
        "train": asdict(cfg),
        "data": {
            "source": data.source,
            "train": len(x_train),
            "val": len(x_val),
            "classes": data.num_classes,
        },
        "norm": {"mean": mean.flatten().tolist(), "std": std.flatten().tolist()},
    }
    return metrics, model


def train_candidate(
    arch: Architecture, data: Split, cfg: TrainConfig, seed: int, weights: str | Path | None = None
) -> dict[str, Any]:
    """Train and report; an exception inside training becomes ``status: failed`` with its reason."""
    try:
        metrics, model = fit(arch, data, cfg, seed)
    except Exception as exc:  # a failed candidate is data, not a crash
        log.exception("training failed")
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}".splitlines()[0], "val_top1": None,
                "seed": seed}  # fmt: skip
    if weights is not None and metrics["status"] == "complete":
        from gpunas.io import atomic_path

        with atomic_path(weights) as tmp:
            torch.save({"state_dict": model.state_dict(), "arch": arch.to_string(),
                        "num_classes": data.num_classes, "norm": metrics["norm"]}, tmp)  # fmt: skip
        metrics["weights"] = Path(weights).name
    return metrics
