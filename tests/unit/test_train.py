import numpy as np
import pytest
from PIL import Image

from gpunas.arch import Architecture
from gpunas.datasets.loader import inspect_dataset, load_split
from gpunas.datasets.prepared import prepare
from gpunas.training.train import TrainConfig, train_network

SMALL = {"train_images": 120, "val_images": 60, "split_seed": 0}


@pytest.fixture(scope="module")
def data():
    return load_split("animal_mnist", **SMALL)


@pytest.fixture(scope="module")
def arch(tiny_space):
    return tiny_space.decode([0] * 41)


def test_embedded_split_is_fixed_and_stratified(data):
    assert data.x_train.shape == (120, 3, 28, 28) and data.x_train.dtype == np.uint8
    assert np.bincount(data.y_train).tolist() == [12] * 10
    assert np.bincount(data.y_val).tolist() == [6] * 10
    again = load_split("animal_mnist", **SMALL)
    assert (again.x_val == data.x_val).all()
    other = load_split("animal_mnist", **{**SMALL, "split_seed": 1})
    assert not (other.x_val == data.x_val).all()
    assert data.classes[0] == "bear" and data.num_classes == 10


def test_training_is_deterministic_for_a_seed(data, arch):
    cfg = TrainConfig(epochs=1, batch_size=40)
    a = train_network(arch, data, cfg, seed=3)
    b = train_network(arch, data, cfg, seed=3)
    assert a["status"] == "complete" and a["val_top1"] == b["val_top1"]
    assert a["curve"] == b["curve"] and a["params"] > 0 and a["macs"] > 0


def test_divergence_and_exceptions_are_recorded(data, arch):
    nan = train_network(arch, data, TrainConfig(epochs=1, batch_size=40, lr=1e30), seed=0)
    assert nan["status"] == "failed" and nan["reason"].startswith("diverged: loss is nan")
    broken = Architecture(arch.resolution, arch.stages, arch.head_width, in_channels=5)
    err = train_network(broken, data, TrainConfig(epochs=1), seed=0)
    # the model's own error, in one line (its first module normalises 5 channels with 3 statistics)
    assert err["status"] == "failed" and err["reason"].startswith("GpunasError: normalisation needs 5 means")


def test_folder_and_npz_datasets(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(
                tmp_path / "imgs" / cls / f"{i}.png"
            )
    split = load_split(str(tmp_path / "imgs"), train_images=8, val_images=4, image_size=16)
    assert split.classes == ("cat", "dog") and split.x_train.shape == (8, 3, 16, 16)
    np.savez(
        tmp_path / "d.npz",
        images=rng.integers(0, 255, (30, 12, 12), dtype=np.uint8),
        labels=np.arange(30) % 3,
    )
    split = load_split(str(tmp_path / "d.npz"), train_images=12, val_images=6)
    assert split.num_classes == 3 and split.x_val.shape == (6, 3, 12, 12)


def test_bad_datasets_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="data.source: '/nope' does not exist"):
        load_split("/nope", train_images=10, val_images=10)
    np.savez(tmp_path / "one.npz", images=np.zeros((20, 8, 8), np.uint8), labels=np.zeros(20, int))
    with pytest.raises(ValueError, match="needs at least 2 classes, found 1"):
        load_split(str(tmp_path / "one.npz"), train_images=5, val_images=5)
    np.savez(tmp_path / "nolabels.npz", images=np.zeros((20, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"missing arrays \['labels'\]"):
        load_split(str(tmp_path / "nolabels.npz"), train_images=5, val_images=5)
    (tmp_path / "f" / "a").mkdir(parents=True)
    (tmp_path / "f" / "b").mkdir()
    for name in ("a/x.png", "a/x2.png", "b/y.png", "b/y2.png"):
        (tmp_path / "f" / name).write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"x2?.png: unreadable image"):
        load_split(str(tmp_path / "f"), train_images=2, val_images=2)
    with pytest.raises(ValueError, match=r"x.png: unreadable image"):
        prepare(str(tmp_path / "f"), train_images=2, val_images=2, image_size=8, outdir=tmp_path / "d")
    with pytest.raises(ValueError, match="needs at least 2 classes, found 1"):
        inspect_dataset(str(tmp_path / "one.npz"))
    assert not (tmp_path / "d" / "dataset.json").exists()
    with pytest.raises(ValueError, match="exceeds the 10000 images"):
        load_split("animal_mnist", train_images=9000, val_images=2000)


def test_an_interrupted_training_resumes_to_the_same_result_bitwise(tmp_path, data, arch):
    """Told to stop mid-epoch (SIGTERM, SIGUSR1, its time budget), a training saves its state and
    leaves; resumed, it ends exactly where an uninterrupted training ends (CPU, bitwise)."""
    import torch

    from gpunas.training.train import Checkpoints, TrainingInterrupted, fit

    cfg = TrainConfig(epochs=2, batch_size=20, device="cpu", dropout=0.2)
    ref, ref_model = fit(arch, data, cfg, seed=5)
    steps = {"n": 0}

    def stop_at_step_5():
        steps["n"] += 1
        return steps["n"] == 5

    ckpt = Checkpoints(tmp_path / "checkpoint.pt", key="job-a", stop_requested=stop_at_step_5)
    with pytest.raises(TrainingInterrupted, match="stopped at step 5"):
        fit(arch, data, cfg, seed=5, checkpoints=ckpt)
    assert ckpt.load()["step"] == 5
    got, model = fit(
        arch, data, cfg, seed=5, checkpoints=Checkpoints(tmp_path / "checkpoint.pt", key="job-a")
    )
    for k in ("val_top1", "val_loss", "curve", "steps", "images_seen"):
        assert got[k] == ref[k], k
    ref_state, state = ref_model.state_dict(), model.state_dict()
    assert all(torch.equal(ref_state[k], state[k]) for k in ref_state)
    # the resumed epoch's throughput counts only the images trained after the resume (it was
    # once the whole epoch's images over the resumed part's time: ~10x too high here)
    speed = [r["images_per_s"] for r in got["throughput"]], [r["images_per_s"] for r in ref["throughput"]]
    assert speed[0][0] < 3 * speed[1][0], speed
    # another training's checkpoint is not resumed
    other = Checkpoints(tmp_path / "checkpoint.pt", key="job-b")
    assert other.load() is None
