"""Proxy training of one candidate: a short, deterministic schedule on a fixed split.

AdamW, cosine learning rate with linear warm-up, label smoothing, random horizontal flips,
channels_last, one seed for initialisation, order and augmentation. Images come a batch at a
time from the prepared dataset (uint8, :mod:`gpunas.datasets.prepared`; a torch ``DataLoader``
with ``train.workers`` processes); each batch is scaled to [0, 1] and resized to the candidate's
resolution on the training device. The model normalises it itself: its first module
(:class:`gpunas.models.builder.Normalize`) holds the training split's per-channel mean and std,
so the trained model takes RGB in [0, 1], as it ships.

Device (``train.device``): ``auto`` takes CUDA when the job has a GPU. On CUDA the forward and
backward run under automatic mixed precision (bfloat16 where the GPU supports it, else float16
with a gradient scaler) and cuDNN picks its fastest kernels, unless ``train.deterministic``:
then cuDNN autotuning is off and PyTorch's deterministic algorithms are required (global average
pooling then runs as a mean, whose CUDA backward is deterministic), at a cost in speed. On the
CPU training is float32 and deterministic for a seed. Every epoch logs its throughput (images/s)
and peak memory (resident set size; GPU memory on CUDA).

A loss that turns NaN/inf ends the run as ``failed`` (diverged); an exception inside training is
recorded as ``failed`` with its reason by :func:`train_network`; the caller never sees a
half-written result.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gpunas.arch import Architecture
from gpunas.datasets.prepared import ImageSource, TrainingData
from gpunas.errors import GpunasError
from gpunas.models.builder import build_model, num_params
from gpunas.models.counting import count

log = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda")


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
    device: str = "auto"
    deterministic: bool = False
    workers: int = 0
    images: int = 0  # the first N images of the training split (0: all of them)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        cfg = cls(**known)
        if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0:
            raise GpunasError(f"train: epochs, batch_size and lr must be positive, got {asdict(cfg)}")
        if cfg.device not in DEVICES:
            raise GpunasError(f"train.device: {cfg.device!r} is not one of {list(DEVICES)}")
        return cfg


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when the job has a GPU; ``cuda`` without one is refused in one line."""
    if name == "cuda" and not torch.cuda.is_available():
        raise GpunasError("train.device: cuda, but no CUDA device is visible to torch in this job")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


class Batches(torch.utils.data.Dataset):
    """One item = one batch: the uint8 images of a list of indices and their labels."""

    def __init__(self, images: ImageSource, labels: np.ndarray) -> None:
        self.images, self.labels = images, torch.from_numpy(np.asarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.images.read(indices)), self.labels[indices]


def batch_loader(
    images: ImageSource, labels: np.ndarray, order: list[list[int]], workers: int, pin: bool
) -> torch.utils.data.DataLoader:
    """Batches in the given order (lists of indices), read by ``workers`` processes (0: in-process)."""
    return torch.utils.data.DataLoader(
        Batches(images, labels),
        batch_size=None,
        sampler=order,
        num_workers=workers,
        pin_memory=pin,
        persistent_workers=False,
    )


class Preprocess:
    """uint8 batch -> float in [0, 1] on the device, resized bilinearly to the resolution,
    channels_last (the model normalises: :class:`gpunas.models.builder.Normalize`)."""

    def __init__(self, resolution: int, device: torch.device) -> None:
        self.resolution, self.device = resolution, device

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True).float().div_(255.0)
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(
                x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False
            )
        return x.contiguous(memory_format=torch.channels_last)


def peak_rss_mb() -> float:
    """Peak resident memory of this program (MB): ``VmHWM`` of /proc/self/status where it exists.

    Not ``ru_maxrss``: a process started with fork + exec inherits its parent's high-water mark
    there, so a training started by a large parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak resident memory of this process (MB), and peak GPU memory on CUDA."""
    out = {"peak_rss_mb": peak_rss_mb()}
    if device.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def evaluate_per_image(
    model: nn.Module,
    images: ImageSource,
    labels: np.ndarray,
    prep: Preprocess,
    amp: Any,
    batch: int = 256,
    workers: int = 0,
) -> tuple[float, float, np.ndarray]:
    """(top-1 accuracy in %, mean cross-entropy, per-image correctness: bool, shape (images,), in
    the split's order) of ``model`` on a split."""
    model.eval()
    hits, loss = [], 0.0
    order = [list(range(lo, min(len(images), lo + batch))) for lo in range(0, len(images), batch)]
    with torch.inference_mode():
        for xb, yb in batch_loader(images, labels, order, workers, prep.device.type == "cuda"):
            yb = yb.to(prep.device)
            with amp():
                logits = model(prep(xb)).float()
            loss += F.cross_entropy(logits, yb, reduction="sum").item()
            hits.append((logits.argmax(1) == yb).cpu().numpy())
    correct = np.concatenate(hits) if hits else np.zeros(0, dtype=bool)
    return 100.0 * float(correct.sum()) / len(images), loss / len(images), correct


def pack_correct(correct: np.ndarray) -> str:
    """Per-image correctness (bool, shape (images,)) as a compact string: ``"<images>:<hex>"``, the
    hex of its bits packed 8 to a byte (``numpy.packbits``); 2,000 images take 504 characters."""
    bits = np.asarray(correct, dtype=bool)
    return f"{len(bits)}:{np.packbits(bits).tobytes().hex()}"


def unpack_correct(text: str) -> np.ndarray:
    """The inverse of :func:`pack_correct`: bool, shape (images,). Raises ``ValueError`` for a
    string that is not ``"<images>:<hex>"`` with enough bits."""
    count, sep, hexed = text.partition(":")
    try:
        n, raw = int(count), bytes.fromhex(hexed)
    except ValueError as exc:
        raise ValueError(f"per-image correctness {text[:40]!r}: not '<images>:<hex>'") from exc
    if not sep or n < 0 or len(raw) != (n + 7) // 8:
        raise ValueError(f"per-image correctness {text[:40]!r}: {len(raw)} bytes do not hold {n} images")
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=n).astype(bool)


def _norm(data: TrainingData) -> tuple[torch.Tensor, torch.Tensor]:
    if data.mean is not None and data.std is not None:
        mean, std = torch.tensor(data.mean), torch.tensor(data.std)
    else:  # in-memory data without recorded statistics: the first training images
        sample = torch.from_numpy(data.train.read(np.arange(min(512, len(data.train))))).float().div_(255.0)
        mean, std = sample.mean((0, 2, 3)), sample.std((0, 2, 3))
    return mean.view(1, -1, 1, 1), std.clamp_min(1e-3).view(1, -1, 1, 1)


def configure_device(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """cuDNN and determinism settings of the job; the autocast dtype on CUDA (bf16 where the GPU
    supports it, else fp16), None on the CPU (float32)."""
    amp_dtype = None
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not cfg.deterministic
        torch.backends.cudnn.deterministic = cfg.deterministic
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        torch.cuda.reset_peak_memory_stats(device)
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's deterministic workspace
        torch.use_deterministic_algorithms(True)
    return amp_dtype


def autocast(amp_dtype: torch.dtype | None) -> Callable[[], Any]:
    """A factory of the forward pass's autocast context (a no-op without mixed precision)."""

    def amp() -> Any:
        if amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=amp_dtype)

    return amp


def warmup_cosine(total: int, warmup_frac: float) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up over ``warmup_frac`` of ``total`` steps, then
    a cosine decay to 0 (SGDR, Loshchilov & Hutter 2017, without restarts)."""
    warm = max(1, int(warmup_frac * total))

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    return lr_at


@dataclass
class Loop:
    """What one training's epochs share: the model and its optimiser, LR schedule, gradient scaler,
    the seeded generator of data order and flips, and the counters."""

    model: nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    scaler: Any
    gen: torch.Generator
    prep: Preprocess
    amp: Callable[[], Any]
    step: int = 0
    images_seen: int = 0


class TrainingInterrupted(Exception):  # noqa: N818 - an event, not an error of the candidate
    """The job was told to stop (SIGTERM, SIGUSR1, its time budget): the training's state is in its
    checkpoint, and a retried job resumes from it. Never recorded as a failure of the candidate."""


@dataclass
class Checkpoints:
    """Where a training keeps its state, how often (``every_s``; None: only when told to stop), and
    whether it has been told to stop. ``key`` names the training (its spec): a checkpoint of
    another training in the same file is not resumed."""

    path: Path
    key: str
    every_s: float | None = None
    stop_requested: Callable[[], bool] = field(default=lambda: False)
    _last: float = field(default_factory=time.monotonic)

    def periodic_due(self) -> bool:
        """``every_s`` has passed since the last save."""
        return self.every_s is not None and time.monotonic() - self._last >= self.every_s

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` atomically (a checkpoint is never half-written)."""
        from gpunas.io import atomic_path

        with atomic_path(self.path) as tmp:
            torch.save({"key": self.key, **state}, tmp)
        self._last = time.monotonic()
        log.info(
            "checkpoint at step %d (epoch %d, batch %d) -> %s",
            state["step"],
            state["epoch"] + 1,
            state["batch"],
            self.path,
        )

    def load(self) -> dict[str, Any] | None:
        """The saved state of this training, or None (no checkpoint, or another training's)."""
        if not self.path.exists():
            return None
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        if state.get("key") != self.key:
            log.warning("%s belongs to another training: not resumed", self.path)
            return None
        return state


@dataclass
class EpochState:
    """Where an epoch stands: its batches (indices), the next one, the loss summed so far."""

    order: list[list[int]]
    batch: int = 0
    running: float = 0.0
    seen: int = 0
    # resuming: the global RNG (dropout) as saved, set once the epoch's batch iterator exists
    # (creating a DataLoader iterator draws its base seed from that RNG)
    torch_rng: torch.Tensor | None = None


def _state(
    loop: Loop, epoch: int, es: EpochState, curve: list[dict[str, float]], wall_s: float
) -> dict[str, Any]:
    """Everything a resumed training needs to continue bit for bit: weights, optimiser, LR
    schedule, gradient scaler, every RNG state, and the position in the data order."""
    state = {
        "model": loop.model.state_dict(),
        "opt": loop.opt.state_dict(),
        "sched": loop.sched.state_dict(),
        "scaler": loop.scaler.state_dict(),
        "gen": loop.gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        "step": loop.step,
        "images_seen": loop.images_seen,
        "epoch": epoch,
        "batch": es.batch,
        "order": es.order,
        "running": es.running,
        "seen": es.seen,
        "curve": curve,
        "wall_s": wall_s,
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def _restore(loop: Loop, state: dict[str, Any]) -> None:
    loop.model.load_state_dict(state["model"])
    loop.opt.load_state_dict(state["opt"])
    loop.sched.load_state_dict(state["sched"])
    loop.scaler.load_state_dict(state["scaler"])
    loop.gen.set_state(state["gen"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    loop.step, loop.images_seen = state["step"], state["images_seen"]


def train_epoch(
    loop: Loop,
    data: TrainingData,
    cfg: TrainConfig,
    n_train: int,
    epoch: int,
    es: EpochState | None = None,
    save: Callable[[EpochState], bool] | None = None,
) -> tuple[float, int, str]:
    """One epoch in a seeded order, from ``es`` when resuming: (summed loss, images seen, failure
    reason or ""). ``save(es)`` is called after every step; it returns True when the job must stop
    (the state is then saved), and :class:`TrainingInterrupted` is raised."""
    loop.model.train()
    device = loop.prep.device
    if es is None:
        perm = torch.randperm(n_train, generator=loop.gen).tolist()
        es = EpochState([perm[lo : lo + cfg.batch_size] for lo in range(0, n_train, cfg.batch_size)])
    batches = iter(
        batch_loader(data.train, data.y_train, es.order[es.batch :], cfg.workers, device.type == "cuda")
    )
    if es.torch_rng is not None:
        torch.set_rng_state(es.torch_rng)
    for xb, yb in batches:
        xb, yb = loop.prep(xb), yb.to(device, non_blocking=True)
        if cfg.flip:
            flip = (torch.rand(len(yb), generator=loop.gen) < 0.5).to(device)
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
        with loop.amp():
            loss = F.cross_entropy(loop.model(xb).float(), yb, label_smoothing=cfg.label_smoothing)
        if not torch.isfinite(loss):
            return es.running, es.seen, f"diverged: loss is {loss.item()} at step {loop.step} (epoch {epoch})"
        loop.opt.zero_grad(set_to_none=True)
        loop.scaler.scale(loss).backward()
        loop.scaler.step(loop.opt)
        loop.scaler.update()
        loop.sched.step()
        es.running += loss.item() * len(yb)
        es.seen += len(yb)
        es.batch += 1
        loop.images_seen += len(yb)
        loop.step += 1
        if save is not None and save(es):
            raise TrainingInterrupted(f"stopped at step {loop.step} (epoch {epoch + 1}); checkpointed")
    return es.running, es.seen, ""


def _log_epoch(row: dict[str, float], epochs: int) -> None:
    log.info(
        "epoch %d/%d: train loss %.4f, val loss %.4f, val top-1 %.2f%%, %.0f images/s, peak %s",
        row["epoch"],
        epochs,
        row["train_loss"],
        row["val_loss"],
        row["val_top1"],
        row["images_per_s"],
        ", ".join(f"{k[5:]} {v:.0f}" for k, v in row.items() if k.startswith("peak")),
    )


def _metrics(
    reason: str,
    curve: list[dict[str, float]],
    wall_s: float,
    loop: Loop,
    seed: int,
    cfg: TrainConfig,
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> dict[str, Any]:
    """The training's record: status, validation figures, loss curve, throughput and memory."""
    status = "failed" if reason else "complete"
    return {
        "status": status,
        "reason": reason,
        "val_top1": curve[-1]["val_top1"] if status == "complete" else None,
        "val_loss": curve[-1]["val_loss"] if status == "complete" else None,
        "curve": [{k: v for k, v in r.items() if not k.startswith(("images_per", "peak"))} for r in curve],
        "throughput": [
            {k: v for k, v in r.items() if k == "epoch" or k.startswith(("images_per", "peak"))}
            for r in curve
        ],
        "wall_s": wall_s,
        "steps": loop.step,
        "seed": seed,
        "images_seen": loop.images_seen,
        "train": asdict(cfg),
        "device": str(device)
        + (f" ({torch.cuda.get_device_name(device)}, AMP {amp_dtype})" if amp_dtype else ""),
    }


def fit(
    arch: Architecture,
    data: Any,
    cfg: TrainConfig,
    seed: int,
    test: bool = False,
    checkpoints: Checkpoints | None = None,
) -> tuple[dict[str, Any], nn.Module]:
    """Train ``arch``; return (metrics, model). ``test``: also evaluate the held-out test split.

    ``checkpoints``: the training resumes from its checkpoint when there is one (the same result,
    bit for bit on the CPU, as without the interruption), saves its state every
    ``checkpoints.every_s`` and, told to stop, saves it and raises :class:`TrainingInterrupted`.
    """
    data = data if isinstance(data, TrainingData) else TrainingData.from_split(data)
    device = resolve_device(cfg.device)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    amp_dtype = configure_device(cfg, device)
    t0 = time.perf_counter()
    mean, std = _norm(data)
    norm = {"mean": mean.flatten().tolist(), "std": std.flatten().tolist()}
    model = build_model(arch, data.num_classes, drop_path_rate=cfg.drop_path, dropout=cfg.dropout, **norm)
    model = model.to(device, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_train = min(cfg.images, len(data.train)) if cfg.images else len(data.train)
    lr_at = warmup_cosine(math.ceil(n_train / cfg.batch_size) * cfg.epochs, cfg.warmup_frac)
    loop = Loop(
        model,
        opt,
        torch.optim.lr_scheduler.LambdaLR(opt, lr_at),
        torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
        gen,
        Preprocess(arch.resolution, device),
        autocast(amp_dtype),
    )
    curve: list[dict[str, float]] = []
    reason, first, resume = "", 0, None
    state = checkpoints.load() if checkpoints is not None else None
    if state is not None:
        _restore(loop, state)
        curve, first, t0 = list(state["curve"]), state["epoch"], t0 - state["wall_s"]
        resume = EpochState(
            state["order"], state["batch"], state["running"], state["seen"], state["torch_rng"]
        )
        log.info(
            "resumed from %s at step %d (epoch %d, batch %d)",
            checkpoints.path,
            loop.step,
            first + 1,
            resume.batch,
        )
    for epoch in range(first, cfg.epochs):
        started = time.perf_counter()
        save = None
        if checkpoints is not None:

            def save(es: EpochState, epoch: int = epoch) -> bool:
                stop = checkpoints.stop_requested()
                if stop or checkpoints.periodic_due():
                    checkpoints.save(_state(loop, epoch, es, curve, time.perf_counter() - t0))
                return stop

        before = resume.seen if resume is not None else 0  # images of this epoch trained before a resume
        running, seen, reason = train_epoch(loop, data, cfg, n_train, epoch, resume, save)
        resume = None
        if reason:
            break
        train_s = time.perf_counter() - started
        val_acc, val_loss, _ = evaluate_per_image(
            model, data.val, data.y_val, loop.prep, loop.amp, workers=cfg.workers
        )
        row = {
            "epoch": epoch + 1,
            "train_loss": running / seen,
            "val_loss": val_loss,
            "val_top1": val_acc,
            "images_per_s": (seen - before) / max(train_s, 1e-9),  # this run's images and time only
            **peak_memory_mb(device),
        }
        curve.append(row)
        _log_epoch(row, cfg.epochs)
    params, macs = count(arch, data.num_classes)
    if num_params(model) != params:
        raise RuntimeError(f"built model has {num_params(model)} parameters, analytic count {params}")
    metrics = _metrics(reason, curve, time.perf_counter() - t0, loop, seed, cfg, device, amp_dtype)
    metrics |= {
        "params": params,
        "macs": macs,
        "norm": norm,
        "data": {"source": data.source, "train": n_train, "val": len(data.val), "classes": data.num_classes},
    }
    status = metrics["status"]
    if test and status == "complete":
        if data.test is None or data.y_test is None:
            raise GpunasError("a test-split evaluation needs data.test_images > 0")
        metrics["test_top1"], metrics["test_loss"], correct = evaluate_per_image(
            model, data.test, data.y_test, loop.prep, loop.amp, workers=cfg.workers
        )
        metrics["data"]["test"] = len(data.test)
        metrics["test_correct"] = pack_correct(correct)  # per image, for paired comparisons
    return metrics, model.cpu()


def train_network(
    arch: Architecture,
    data: Any,
    cfg: TrainConfig,
    seed: int,
    weights: str | Path | None = None,
    test: bool = False,
    checkpoints: Checkpoints | None = None,
) -> dict[str, Any]:
    """Train and report; an exception inside training becomes ``status: failed`` with its reason,
    except :class:`TrainingInterrupted` (the job was told to stop: not the candidate's doing)."""
    try:
        metrics, model = fit(arch, data, cfg, seed, test=test, checkpoints=checkpoints)
    except TrainingInterrupted:
        raise
    except Exception as exc:  # a failed candidate is data, not a crash
        log.exception("training failed")
        return {
            "status": "failed",
            "reason": f"{type(exc).__name__}: {exc}".splitlines()[0],
            "val_top1": None,
            "seed": seed,
        }
    if weights is not None and metrics["status"] == "complete":
        from gpunas.io import atomic_path

        with atomic_path(weights) as tmp:
            torch.save(
                {
                    "state_dict": model.state_dict(),
                    "arch": arch.to_string(),
                    "num_classes": data.num_classes,
                    "norm": metrics["norm"],
                },
                tmp,
            )
        metrics["weights"] = Path(weights).name
    return metrics
