"""The bad-input catalogue: every case fails with a one-line error naming the file, key or value
(and what is allowed), a non-zero exit, and no output that a rerun would take for complete.

Each case is a real process: the workflow (`snakemake`) or the CLI (`gpunas`). 22 cases: 10 CLI
(space files, vectors, NVIDIA JSON, LUT files), 7 config, 3 dataset, a foreign LUT cache and an
unwritable results directory."""

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from gpunas.latency.keys import KEY_LAYOUT
from gpunas.spaces import load_space
from gpunas.tables import write_table

from ..conftest import RELEASE, ROOT

TINY = Path(load_space("tiny").source).read_text()
VEC = ",".join(["0"] * 41)


def _space(tmp, text):
    path = tmp / "space.yaml"
    path.write_text(text)
    return ["gpunas", "space", str(path)]


def _nvidia(tmp, mutate):
    layers = json.loads((RELEASE / "0.65ms.json").read_text())
    mutate(layers)
    path = tmp / "arch.json"
    path.write_text(json.dumps(layers))
    return ["gpunas", "describe", str(path)]


def _lut(tmp, data: bytes):
    path = tmp / "lut.parquet"
    path.write_bytes(data)
    return ["gpunas", "lut", "show", str(path)]


def _del_key(layers):
    del layers[2]["num_in_channels"]


def _channels(layers):
    layers[3]["num_in_channels"] += 8


# (id, how to make the command, expected text in the one-line error)
CLI_CASES = [
    ("space-min-gt-max", lambda t: _space(t, TINY.replace("{min: 32, max: 64, step: 16}", "{min: 64, max: 32, step: 16}")), "min 64 > max 32"),
    ("space-unknown-block", lambda t: _space(t, TINY.replace("block: fused_irb", "block: mbconv", 1)), "mbconv"),
    ("space-empty-choices", lambda t: _space(t, TINY.replace("kernel: [3, 5], layers: 1", "kernel: [], layers: 1")), "kernel"),
    ("vector-length", lambda t: ["gpunas", "describe", "1,2,3", "--space", "tiny"], "encoding has length 3, space 'tiny' needs 41 integers"),
    ("vector-range", lambda t: ["gpunas", "describe", "9" + VEC[1:], "--space", "tiny"], "resolution"),
    ("vector-non-integer", lambda t: ["gpunas", "describe", "0.5" + VEC[1:], "--space", "tiny"], "0.5"),
    ("nvidia-missing-key", lambda t: _nvidia(t, _del_key), "missing key 'num_in_channels'"),
    ("nvidia-channel-mismatch", lambda t: _nvidia(t, _channels), "channels"),
    ("lut-corrupt", lambda t: _lut(t, b"this is not parquet at all"), "is corrupt or truncated"),
    ("lut-truncated", lambda t: _lut(t, (RELEASE / "0.65ms.json").read_bytes()[:10]), "is corrupt or truncated"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "expected"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(tmp_path, case, make, expected):
    cmd = make(tmp_path)
    before = set(tmp_path.rglob("*"))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("gpunas: error: "), proc.stderr  # one line, no traceback
    assert expected in lines[0], lines[0]
    assert set(tmp_path.rglob("*")) == before  # nothing written


def _error_line(proc, expected):
    """The error is one line of Snakemake's output that carries the message."""
    text = proc.stdout + proc.stderr
    hits = [ln for ln in text.splitlines() if expected in ln]
    assert hits, text[-3000:]
    return hits[0]


CONFIG_CASES = [
    ("config-wrong-type", {"seed": "zero"}, "'zero' is not of type 'integer'"),
    ("config-unknown-key", {"colour": "red"}, "'colour' was unexpected"),
    ("config-negative-budget", {"subspaces": {"kind": "edges_ms", "budgets": [-0.5, 1.0]}}, "-0.5 is less than or equal to the minimum of 0"),
    ("config-unsorted-budgets", {"subspaces": {"kind": "edges_ms", "budgets": [0.65, 0.5]}}, "strictly increasing"),
    ("config-m-too-large", {"sampling": {"m": 30}}, "30 is greater than the maximum of 24"),
    ("config-unknown-space", {"space": "nope"}, "search space 'nope' not found"),
    ("config-unknown-family", {"baselines": {"enabled": True, "families": ["vgg"], "phis": [0]}}, "'vgg' is not one of"),
    ("config-space-evaluator-mismatch", {"evaluator": {"type": "table", "csv": "x.csv", "key": "k", "accuracy": "a", "latency": "l"}},
     "evaluator.type 'table' needs a table space, but space 'tiny'"),
]  # fmt: skip


def test_space_evaluator_mismatch_is_one_line(workflow):
    workflow.config(evaluator={"type": "table", "csv": "x.csv", "key": "k", "accuracy": "a", "latency": "l"})
    proc = workflow.run("-n", check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "profile" not in ln]
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("gpunas: error in the config: evaluator.type 'table' needs a table space")


@pytest.mark.parametrize(("case", "overrides", "expected"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(workflow, case, overrides, expected):
    workflow.config(**overrides)
    proc = workflow.run("-n", check=False)
    assert proc.returncode != 0
    _error_line(proc, expected)
    assert not (workflow.path / "results").exists()


def _folder(tmp, classes, content=None):
    root = tmp / "images"
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(3):
            if content is None:
                from PIL import Image

                Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(root / c / f"{i}.png")
            else:
                (root / c / f"{i}.png").write_bytes(content)
    return str(root)


DATA_CASES = [
    ("data-missing-path", lambda t: "/no/such/images", "data.source: '/no/such/images' does not exist"),
    ("data-one-class", lambda t: _folder(t, ["cat"]), "needs at least 2 classes, found 1"),
    ("data-unreadable-images", lambda t: _folder(t, ["cat", "dog"], b"not an image"), "0.png: unreadable image"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "expected"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_dataset(workflow, tmp_path, case, make, expected):
    workflow.config(classes=2, data={"source": make(tmp_path), "train_images": 2, "val_images": 2})
    assert workflow.run("-n", check=False).returncode == 0  # a dry-run does not need the data
    proc = workflow.run("results/data/prepared/dataset.json", check=False)
    assert proc.returncode != 0
    line = _error_line(proc, expected)
    assert line.count(expected) == 1
    assert not (workflow.path / "results/data/prepared/dataset.json").exists()


def test_foreign_lut_cache_is_refused(workflow):
    """A LUT cache measured on another device, placed where this run's cache goes."""
    workflow.config(latency={**yaml.safe_load((ROOT / "config/config.yaml").read_text())["latency"],
                             "hardware": "ci-cpu"}, sampling={"m": 4})  # fmt: skip
    slug = "onnxruntime-cpu-ci-cpu-fp32-b1"
    lut = {
        "code": [1],
        "key": ["k"],
        "latency_ms": [0.1],
        "mad_ms": [0.0],
        "cv": [0.0],
        "min_ms": [0.1],
        "repeats": [5],
    }
    import pandas as pd

    meta = {"slug": "tensorrt-nvidia-a100-fp16-b1", "backend": "tensorrt", "hardware": "NVIDIA A100",
            "unit": "ms", "key_layout": KEY_LAYOUT}  # fmt: skip
    write_table(pd.DataFrame(lut), meta, workflow.path / f"results/lut/{slug}/cache.parquet")
    proc = workflow.run("--until", "enumerate_layers", check=False)
    assert proc.returncode != 0
    _error_line(proc, "refusing to mix devices or backends")
    assert not (workflow.path / f"results/lut/{slug}/keys.parquet").exists()
    assert not (workflow.path / f"results/lut/{slug}/todo.parquet").exists()


def test_unwritable_results_directory(workflow):
    (workflow.path / "results").write_text("a file where the results directory should be\n")
    proc = workflow.run("-n", check=False)
    assert proc.returncode != 0
    line = _error_line(proc, "results directory")
    assert re.search(r"results directory .*results.* is not writable", line), line
