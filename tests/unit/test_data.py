"""The data a training reads: decoded once, read a batch at a time, bad folders refused clearly,
and folders from the field (grayscale, CMYK, odd extensions, hidden entries, non-ASCII names)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from gpunas.datasets.loader import inspect_dataset, load_split
from gpunas.datasets.prepared import NpyImages, TrainingData, prepare
from gpunas.training.train import TrainConfig, train_network
from gpunas.training.trial import TrainingJob, TrialCrashedError, run_training_job, time_budget_s


def _image(path, mode="RGB", size=(20, 24), fmt=None, seed=0):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "CMYK": 4, "L": 1}[mode]
    arr = rng.integers(0, 255, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(arr.squeeze() if channels == 1 else arr, mode=mode).save(path, format=fmt)


def _folder(root, classes, per_class=6):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            _image(root / c / f"{i}.png", seed=i)
    return root


def test_prepared_splits_are_disjoint_and_read_a_batch_at_a_time(tmp_path):
    doc = prepare("animal_mnist", train_images=300, val_images=200, test_images=100, split_seed=3,
                  outdir=tmp_path)  # fmt: skip
    assert doc["splits"] == {"train": 300, "val": 200, "test": 100} and doc["classes"] == 10
    data = TrainingData.open(tmp_path)
    same = load_split("animal_mnist", train_images=300, val_images=200, test_images=100, split_seed=3)
    for prepared, memory in ((data.train, same.x_train), (data.val, same.x_val), (data.test, same.x_test)):
        assert isinstance(prepared, NpyImages) and prepared.shape == memory.shape
        rows = [5, 0, 17, 5]
        assert (prepared.read(rows) == memory[rows]).all()
    assert (data.y_test == same.y_test).all()
    # no image is in two splits (the indices of each split are disjoint)
    from gpunas.datasets.loader import list_dataset, split_indices

    idx = split_indices(list_dataset("animal_mnist").labels, (300, 200, 100), 3, "animal_mnist")
    assert not (set(idx["train"]) & set(idx["val"]) or set(idx["train"]) & set(idx["test"])
                or set(idx["val"]) & set(idx["test"]))  # fmt: skip
    assert len(doc["mean"]) == 3 and all(0 < s < 1 for s in doc["std"])


def test_training_reads_prepared_data_and_evaluates_the_test_split(tmp_path, tiny_space):
    prepare("animal_mnist", train_images=120, val_images=60, test_images=60, outdir=tmp_path)
    data = TrainingData.open(tmp_path)
    arch = tiny_space.decode([0] * 41)
    result = train_network(arch, data, TrainConfig(epochs=1, batch_size=40, device="cpu"), seed=0, test=True)
    assert result["status"] == "complete" and 0 <= result["test_top1"] <= 100
    (row,) = result["throughput"]
    assert row["images_per_s"] > 0 and row["peak_rss_mb"] > 0
    assert result["images_seen"] == 120 and result["data"]["test"] == 60


def test_field_folders_keep_working(tmp_path):
    """Grayscale, CMYK, a PNG named .JPEG, mixed-case extensions, .DS_Store, non-ASCII class names."""
    root = tmp_path / "field"
    (root / "chien_é").mkdir(parents=True)
    (root / "猫").mkdir()
    _image(root / "chien_é" / "grey.png", mode="L")
    _image(root / "chien_é" / "cmyk.jpg", mode="CMYK", fmt="JPEG")
    _image(root / "chien_é" / "really_a_png.JPEG", fmt="PNG")
    _image(root / "猫" / "upper.JpG", fmt="JPEG")
    _image(root / "猫" / "b.PNG", fmt="PNG", seed=2)
    _image(root / "猫" / "c.png", seed=3)
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "猫" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    doc = prepare(str(root), train_images=2, val_images=2, test_images=2, image_size=16, classes=2,
                  outdir=tmp_path / "p")  # fmt: skip
    assert doc["class_names"] == ["chien_é", "猫"] and doc["per_class"] == {"chien_é": 3, "猫": 3}
    assert NpyImages(tmp_path / "p" / "train.npy").shape == (2, 3, 16, 16)


def test_hidden_entries_are_never_classes_or_images(tmp_path):
    """Field report: a .ipynb_checkpoints folder became an 11th class."""
    root = _folder(tmp_path / "data", ["cat", "dog"])
    (root / ".ipynb_checkpoints").mkdir()
    _image(root / ".ipynb_checkpoints" / "0-checkpoint.png")
    _image(root / "cat" / "._0.png")  # macOS resource-fork copies
    (root / "dog" / ".hidden.png").write_bytes(b"not an image")
    assert inspect_dataset(str(root), classes=2)["per_class"] == {"cat": 6, "dog": 6}
    doc = prepare(str(root), train_images=6, val_images=4, test_images=2, image_size=8, classes=2,
                  outdir=tmp_path / "p")  # fmt: skip
    assert doc["classes"] == 2 and doc["images"] == 12


def test_unreadable_images_are_named_in_one_line(tmp_path):
    """Field report: one truncated JPEG made every training fail with 'exited with status 1'."""
    root = _folder(tmp_path / "data", ["cat", "dog"])
    for name in ("cat/1.jpg", "dog/4.jpg"):
        _image(root / name, fmt="JPEG", size=(64, 64))
        full = (root / name).read_bytes()
        (root / name).write_bytes(full[: len(full) // 2])  # half a file
    with pytest.raises(ValueError) as e:
        prepare(str(root), train_images=6, val_images=4, test_images=4, image_size=8, workers=2,
                outdir=tmp_path / "p")  # fmt: skip
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{root / 'cat/1.jpg'}: unreadable image (OSError: image file is truncated")
    assert (
        f"1 more unreadable image(s) in data.source {str(root)!r}: {root / 'dog/4.jpg'} (OSError" in message
    )
    assert not (tmp_path / "p" / "dataset.json").exists()


def test_classes_must_match_the_data(tmp_path):
    """Field report: classes 2 with 3 class folders shipped 3-output models built on a 2-class LUT."""
    root = _folder(tmp_path / "data", ["a", "b", "c"])
    with pytest.raises(ValueError) as e:
        inspect_dataset(str(root), classes=2)
    assert (
        str(e.value) == f"classes: the config says 2, but data.source {str(root)!r} has 3 classes (a, b, c)"
    )


def _job(tmp_path, **kw):
    kw = {"train": {"epochs": 1, "device": "cpu"}} | kw
    return TrainingJob(arch="res32-s0_conv_n1_k3_s2_c8_swish-head16", data={"dir": str(tmp_path / "missing")},
                       seed=0, threads=1, outdir=tmp_path / "t", **kw)  # fmt: skip


def test_a_failed_training_gives_the_real_exception(tmp_path):
    result = run_training_job(_job(tmp_path), weights_out=tmp_path / "w.pt")
    assert result["status"] == "failed"
    assert result["reason"].startswith("FileNotFoundError: ") and "dataset.json" in result["reason"]
    assert (tmp_path / "w.pt").stat().st_size == 0  # the declared weights: empty without a model


def test_time_budget_retries_then_records_the_time_limit(tmp_path):
    assert time_budget_s(0.2) == 2.0 and time_budget_s(20) == 1080.0 and time_budget_s(60) == 3300.0
    with pytest.raises(TrialCrashedError, match="time limit: stopped after 2 s of the job's runtime"):
        run_training_job(_job(tmp_path, fault="hang", runtime_min=0.2, attempt=1, attempts=2))
    last = run_training_job(_job(tmp_path, fault="hang", runtime_min=0.2, attempt=2, attempts=2))
    assert last["status"] == "failed"
    assert last["reason"] == "time limit: stopped after 2 s of the job's runtime (on attempt 2 of 2)"


def _job_script(outdir, data_dir, **kw):
    return textwrap.dedent(f"""
        import json
        from pathlib import Path
        from gpunas.training.trial import TrainingJob, run_training_job
        job = TrainingJob(arch="res32-s0_conv_n1_k3_s2_c8_swish-head16", data={{"dir": {str(data_dir)!r}}},
                          train={{"epochs": 4, "batch_size": 25, "device": "cpu"}}, seed=0, threads=1,
                          outdir=Path({str(outdir)!r}), **{kw!r})
        print(json.dumps(run_training_job(job)))
    """)


def test_sigterm_interrupts_and_the_next_run_resumes_bitwise(tmp_path):
    """Preemption, scancel or Slurm's signal ahead of a time limit reach the job as SIGTERM: the
    training checkpoints, the job ends non-zero on any attempt and records nothing; the next run
    of the job resumes and ends exactly as an uninterrupted training (CPU, bitwise)."""
    import torch

    prepare("animal_mnist", train_images=1000, val_images=100, outdir=tmp_path / "p")
    job = {"attempt": 1, "attempts": 1}
    proc = subprocess.Popen([sys.executable, "-c", _job_script(tmp_path / "t", tmp_path / "p", **job)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    log_file, deadline = tmp_path / "t" / "run" / "train.log", time.monotonic() + 120
    while "epoch 1/4" not in (log_file.read_text() if log_file.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode != 0 and out == ""  # the job failed as a job: nothing recorded
    assert "TrialInterruptedError: interrupted: the job received SIGTERM: not a failure of the candidate; " \
           "checkpointed, the next run resumes" in err  # fmt: skip
    run = tmp_path / "t" / "run"
    assert (run / "checkpoint.pt").exists() and not (run / "result.json").exists()
    assert "checkpoint at step" in log_file.read_text()
    resumed = run_training_job(TrainingJob(arch="res32-s0_conv_n1_k3_s2_c8_swish-head16", data={"dir": str(tmp_path / "p")},
                                           train={"epochs": 4, "batch_size": 25, "device": "cpu"}, seed=0, threads=1,
                                           outdir=tmp_path / "t"))  # fmt: skip
    assert "resumed from" in log_file.read_text() and not (run / "checkpoint.pt").exists()
    whole = run_training_job(TrainingJob(arch="res32-s0_conv_n1_k3_s2_c8_swish-head16", data={"dir": str(tmp_path / "p")},
                                         train={"epochs": 4, "batch_size": 25, "device": "cpu"}, seed=0, threads=1,
                                         outdir=tmp_path / "u"))  # fmt: skip
    for k in ("status", "val_top1", "val_loss", "curve", "steps", "images_seen"):
        assert resumed[k] == whole[k], k
    a = torch.load(run / "weights.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "u" / "run" / "weights.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_dataloader_worker_past_mem_mb_stops_the_training(tmp_path):
    """Field report: the memory watch read the training process alone; its loader workers were not
    counted. Each read of this job's worker keeps 256 MB more; the whole tree is over mem_mb
    after a few batches, is killed (worker included) and recorded as killed for memory."""
    import psutil

    prepare("animal_mnist", train_images=400, val_images=100, outdir=tmp_path / "p")
    job = TrainingJob(arch="res32-s0_conv_n1_k3_s2_c8_swish-head16", data={"dir": str(tmp_path / "p")},
                      train={"epochs": 1, "batch_size": 25, "device": "cpu", "workers": 1}, seed=0, threads=1,
                      outdir=tmp_path / "t", mem_mb=1500, attempt=1, attempts=1, fault="oom_loader")  # fmt: skip
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = run_training_job(job)
    assert result["status"] == "failed"
    assert result["reason"].startswith("killed for memory: resident ")
    assert "(training and its loader workers) exceeded the job's mem_mb 1500" in result["reason"]
    time.sleep(0.5)
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before  # no worker left behind


def test_memory_that_cannot_be_read_is_said_once(monkeypatch, caplog):
    """Where psutil cannot read a process's memory, the limit is not silently switched off."""
    import logging

    from gpunas.training import trial

    monkeypatch.setattr(trial, "tree_rss_mb", lambda pid: None)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    with caplog.at_level(logging.WARNING):
        assert trial.supervise(proc, mem_mb=10, budget_s=None, stop=trial._Stop()) is None
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["train.mem_mb 10 is not enforced by gpunas here: this platform does not let psutil read the "
                      "training's memory (the scheduler's limit still applies)"]  # fmt: skip


@pytest.mark.parametrize(("device", "gpus"), [("auto", 1), ("cuda", 0), ("cuda", 1)])
def test_a_job_that_asked_for_a_gpu_and_sees_none_fails_as_a_job(tmp_path, monkeypatch, device, gpus):
    """Field report: with train.gpu 1 on a node whose GPU vanished, every trial was recorded as a
    failed candidate. Now the job raises (an infrastructure failure), trains nothing, records
    nothing, and its message names the node and CUDA_VISIBLE_DEVICES."""
    import torch

    from gpunas.errors import InfrastructureError
    from gpunas.training.trial import MissingGPUError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    job = TrainingJob(arch="res32-s0_conv_n1_k3_s2_c8_swish-head16", data={"dir": str(tmp_path / "none")},
                      train={"epochs": 1, "device": device}, seed=0, threads=1, outdir=tmp_path / "t", gpus=gpus)  # fmt: skip
    with pytest.raises(MissingGPUError, match=r"no CUDA device visible on node \S+: the job asked for train.gpu "
                       rf"{gpus} with train.device {device}, CUDA_VISIBLE_DEVICES=; nothing is recorded") as err:  # fmt: skip
        run_training_job(job, weights_out=tmp_path / "w.pt")
    assert isinstance(err.value, InfrastructureError)
    assert not (tmp_path / "t" / "run").exists() and not (tmp_path / "w.pt").exists()


def test_a_cpu_job_does_not_need_a_gpu(tmp_path, monkeypatch):
    """train.device: cpu asks for no GPU whatever train.gpu says, and auto without a GPU trains on the CPU."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device, gpus in (("cpu", 1), ("auto", 0)):
        result = run_training_job(_job(tmp_path / device, train={"epochs": 1, "device": device}, gpus=gpus))
        # it went on to train (and found no data)
        assert result["status"] == "failed" and result["reason"].startswith("FileNotFoundError")
