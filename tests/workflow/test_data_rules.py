"""Field reports, each on a small generated folder, through the real workflow: every one now stops
once, early and clearly, or works as it should."""

import json

import numpy as np
import pytest
from PIL import Image

from .test_search_rules import MINI


def _folder(root, classes, per_class=5):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((12, 12, 3), 20 * i, np.uint8)).save(root / c / f"{i}.png")
    return root


def _config(workflow, root, classes, **overrides):
    data = {"source": str(root), "train_images": 4, "val_images": 4, "test_images": 2, "image_size": 16}
    workflow.config(**{**MINI, "classes": classes, "data": data, "baselines": {**MINI["baselines"], "enabled": False},
                       "train": {**MINI["train"]}, "_inject_fault": {}, **overrides})  # fmt: skip


def _error_lines(proc, text):
    return [ln for ln in (proc.stdout + proc.stderr).splitlines() if text in ln]


@pytest.mark.slow
def test_hidden_checkpoint_folder_is_not_a_class(workflow, tmp_path):
    root = _folder(tmp_path / "images", ["cat", "dog"])
    (root / ".ipynb_checkpoints").mkdir()
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(root / ".ipynb_checkpoints" / "x-checkpoint.png")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    _config(workflow, root, classes=2)
    workflow.run("results/data/prepared/dataset.json")
    doc = json.loads((workflow.path / "results/data/prepared/dataset.json").read_text())
    assert doc["classes"] == 2 and doc["class_names"] == ["cat", "dog"]


@pytest.mark.slow
def test_truncated_jpeg_stops_the_run_before_any_training(workflow, tmp_path):
    root = _folder(tmp_path / "images", ["cat", "dog"])
    jpeg = root / "dog" / "broken.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(jpeg)
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    _config(workflow, root, classes=2, data={"source": str(root), "train_images": 5, "val_images": 4,
                                             "test_images": 2, "image_size": 16})  # fmt: skip
    proc = workflow.run(check=False)
    assert proc.returncode != 0
    (line,) = {ln.split("error: ", 1)[-1] for ln in _error_lines(proc, "unreadable image")}
    assert line.startswith(f"{jpeg}: unreadable image (OSError: image file is truncated")
    assert not list((workflow.path / "results/search").glob("*/r*/s*/metrics.json"))


@pytest.mark.slow
def test_classes_that_differ_from_the_data_stop_before_profiling(workflow, tmp_path):
    root = _folder(tmp_path / "images", ["a", "b", "c"])
    _config(workflow, root, classes=2)
    proc = workflow.run(check=False)
    assert proc.returncode != 0
    expected = f"classes: the config says 2, but data.source {str(root)!r} has 3 classes (a, b, c)"
    assert _error_lines(proc, expected)
    assert not list((workflow.path / "results/lut").glob("*/shards/*.parquet"))  # nothing was profiled


@pytest.mark.slow
def test_a_run_whose_every_trial_failed_exits_non_zero_and_says_why(workflow):
    workflow.config(**{**MINI, "subspaces": {"kind": "quantiles", "budgets": [1.0]},
                       "fidelity": {**MINI["fidelity"], "per_subspace": 5},
                       "search": {**MINI["search"], "rounds": 1, "batch": 1},
                       "baselines": {**MINI["baselines"], "enabled": False},
                       "train": {**MINI["train"]}, "_inject_fault": {"s0/0/0": "raise"}})  # fmt: skip
    proc = workflow.run(check=False)
    assert proc.returncode != 0
    assert _error_lines(proc, "every trial of the search failed (1 trials): 1 x GpunasError")
    card = json.loads((workflow.path / "results/hub/s0/card.json").read_text())
    assert card["status"] == "all_failed"
