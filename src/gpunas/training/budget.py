"""What the data pipeline needs from a job's memory and time, computed from the config, so that a
dry-run refuses requests that cannot hold (the real-scale preset is checked like any config).

The figures are estimates with their sources:

- a training process holds torch and its libraries (about 600 MB on the CPU, measured here:
  ``benchmarks/results/memory.json``; about 3 GB of host memory once a CUDA context exists), the
  batches in flight (``(train.workers + 1) x 2`` uint8 batches, doubled when pinned for the GPU),
  and on the CPU the activations of the largest network of the space at its largest resolution
  (analytic output sizes: :func:`activation_elements`, float32);
- preparing the data decodes chunks of 256 images per worker; a worker decodes about 490
  ImageNet-sized JPEGs per second here (500 x 375 to 224 px), and the check assumes 200 per second
  to leave room for slower file systems.
"""

from __future__ import annotations

from typing import Any

from gpunas.arch import Architecture, StageConfig
from gpunas.errors import GpunasError
from gpunas.models.blocks_math import expanded_channels
from gpunas.models.counting import arch_stats

TORCH_CPU_MB = 600
TORCH_CUDA_MB = 3000
DECODE_IMAGES_PER_S = 200  # per worker, conservative (measured: ~490 at 224 px here)
DECODE_CHUNK = 256
PREPARE_BASE_MB = 800


def largest_architecture(space: Any) -> Architecture | None:
    """The space's widest, deepest network at its largest resolution (None for table spaces)."""
    if getattr(space, "kind", None) != "cnn":
        return None
    stages = []
    for i, st in enumerate(space.stages):
        layers = max(space.choices_of(f"stage{i}.layers"))
        if layers == 0:
            continue
        stages.append(
            StageConfig(
                index=i,
                block=st["block"],
                layers=layers,
                kernel=max(space.choices_of(f"stage{i}.kernel")),
                stride=st["stride"],
                out_channels=max(space.choices_of(f"stage{i}.filters")),
                act="swish",
                expansion=max(space.choices_of(f"stage{i}.expansion")),
                se=bool(max(space.choices_of(f"stage{i}.se"))),
            )
        )
    return Architecture(
        max(space.choices_of("resolution")), tuple(stages), max(space.choices_of("head_width"))
    )


def training_memory_mb(config: dict[str, Any], space: Any) -> dict[str, float]:
    """The host memory (MB) one training job needs, by part."""
    train, data = config["train"], config["data"]
    gpu = train.get("gpu", 0) > 0 or train.get("device") == "cuda"
    batch = train["batch_size"]
    side = data.get("image_size", 64)
    batch_mb = batch * 3 * side * side / 2**20
    parts = {
        "torch": TORCH_CUDA_MB if gpu else TORCH_CPU_MB,
        "batches_in_flight": (train.get("workers", 0) + 1) * 2 * batch_mb * (2 if gpu else 1),
    }
    arch = largest_architecture(space)
    if not gpu and arch is not None:
        parts["activations"] = activation_elements(arch, config["classes"]) * batch * 4 / 2**20
    return parts


def activation_elements(arch: Architecture, classes: int) -> int:
    """Elements the backward pass keeps per image, roughly: each block's output 3 times (conv, BN,
    activation) and, in inverted residuals, the expanded tensors 6 times (two convs with BN and act)."""
    total = 0
    for r in arch_stats(arch, classes):
        area = r.out_hw * r.out_hw
        total += 3 * r.out_channels * area
        if r.block in ("irb", "fused_irb"):
            total += 6 * expanded_channels(r.in_channels, r.expansion, False) * area
    return total


def prepare_needs(config: dict[str, Any]) -> dict[str, float]:
    """Memory (MB) and runtime (minutes) the prepare_dataset job needs."""
    data = config["data"]
    images = data["train_images"] + data["val_images"] + data.get("test_images", 0)
    workers = data.get("workers", 1)
    side = data.get("image_size", 64)
    return {
        "mem_mb": PREPARE_BASE_MB + workers * DECODE_CHUNK * 3 * side * side * 2 / 2**20,
        "runtime_min": images / (DECODE_IMAGES_PER_S * workers) / 60,
    }


def check_requests(config: dict[str, Any], space: Any) -> None:
    """Refuse memory and time requests below what the data pipeline needs, naming the key."""
    need = training_memory_mb(config, space)
    total = sum(need.values())
    if config["train"]["mem_mb"] < total:
        detail = ", ".join(f"{k} {v:.0f}" for k, v in need.items())
        raise GpunasError(
            f"train.mem_mb {config['train']['mem_mb']} is below what one training job needs: ~{total:.0f} MB "
            f"({detail}; gpunas.training.budget)"
        )
    prep = prepare_needs(config)
    data = config["data"]
    if data.get("mem_mb", prep["mem_mb"]) < prep["mem_mb"]:
        raise GpunasError(
            f"data.mem_mb {data['mem_mb']} is below what prepare_dataset needs with data.workers "
            f"{data.get('workers', 1)}: ~{prep['mem_mb']:.0f} MB"
        )
    if data.get("runtime", 1e9) < prep["runtime_min"]:
        raise GpunasError(
            f"data.runtime {data['runtime']} min is below what decoding the splits takes: ~{prep['runtime_min']:.0f} "
            f"min at {DECODE_IMAGES_PER_S} images/s per worker with data.workers {data.get('workers', 1)}"
        )
