"""The GPU paths, on a CUDA device: training with mixed precision from a class folder, torch-CUDA
(and, when installed, TensorRT) timing and validation. Skipped where torch sees no CUDA device;
`bash benchmarks/gpu_check.sh` runs these and the workflow's GPU path end to end."""

import numpy as np
import pytest
import torch
from PIL import Image

from gpunas.datasets.prepared import TrainingData, prepare
from gpunas.latency.backends import BackendUnavailableError, create_backend
from gpunas.latency.keys import keys_for_arch
from gpunas.latency.protocol import Protocol, measure
from gpunas.nvidia import released_models
from gpunas.training.train import TrainConfig, train_network

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch"),
]


def test_gpunet_network_trains_with_amp_from_a_class_folder(tmp_path, gpunet_space):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / "images" / c).mkdir(parents=True)
        for i in range(24):
            Image.fromarray(rng.integers(0, 255, (240, 260, 3), dtype=np.uint8)).save(
                tmp_path / "images" / c / f"{i}.jpg"
            )
    prepare(str(tmp_path / "images"), train_images=32, val_images=8, test_images=8, image_size=224, workers=4,
            classes=2, outdir=tmp_path / "p")  # fmt: skip
    arch = released_models()["GPUNet-2"]
    arch = type(arch)(224, arch.stages, arch.head_width)  # a GPUNet-space network at 224 px
    assert gpunet_space.encode(arch)
    result = train_network(arch, TrainingData.open(tmp_path / "p"),
                             TrainConfig(epochs=1, batch_size=16, device="cuda", workers=2), seed=0, test=True)  # fmt: skip
    assert result["status"] == "complete", result.get("reason")
    assert "cuda" in result["device"] and "AMP torch.bfloat16" in result["device"]
    (row,) = result["throughput"]
    assert row["images_per_s"] > 0 and row["peak_gpu_mb"] > 0 and result["steps"] == 2


def test_deterministic_cuda_training_repeats(tmp_path, tiny_space):
    prepare("animal_mnist", train_images=200, val_images=50, outdir=tmp_path)
    data = TrainingData.open(tmp_path)
    cfg = TrainConfig(epochs=1, batch_size=50, device="cuda", deterministic=True)
    a, b = (train_network(tiny_space.decode([1] * 41), data, cfg, seed=1) for _ in range(2))
    assert a["status"] == "complete" and a["curve"] == b["curve"]


@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "tensorrt"])
def test_gpu_layer_and_network_timing(backend, tiny_space):
    kwargs = {"torch": {"device": "cuda", "precision": "fp16"}, "onnxruntime": {"device": "cuda"},
              "tensorrt": {"precision": "fp16"}}[backend]  # fmt: skip
    b = create_backend(backend, **kwargs)
    try:
        b.check()
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))
    arch = tiny_space.decode([1] * 41)
    stats = measure(keys_for_arch(arch, 10)[:4], b.layer, Protocol(repeats=5, warmup=5, runs=20))
    net = measure([arch], lambda a: b.network(a, 10), Protocol(repeats=5, warmup=5, runs=20))
    assert (stats["latency_ms"] > 0).all() and net["latency_ms"][0] > 0
    assert "NVIDIA" in b.hardware() or "H" in b.hardware()
