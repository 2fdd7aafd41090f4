"""Inputs as users bring them, generated here and read as they are: every image mode and bit depth,
float and 16-bit arrays, dangling links, oversized images, budgets that hold no candidate, an
execution provider that cannot be created. Each gives the right statistics or one clear line."""

import logging

import numpy as np
import pytest
from PIL import Image

from gpunas.datasets.images import PILLOW_MAX_PIXELS, array_to_uint8
from gpunas.datasets.loader import decode_image, inspect_dataset
from gpunas.datasets.prepared import NpyImages, prepare
from gpunas.errors import GpunasError
from gpunas.latency.partition import check_budgets, partition


def _png16(path, value, size=(16, 16), seed=0):
    """A 16-bit grayscale PNG (as microscopes and scanners write them) around ``value``."""
    rng = np.random.default_rng(seed)
    arr = np.clip(rng.normal(value, 300, size[::-1]), 0, 65535).astype(np.uint16)
    Image.fromarray(arr).save(path)
    return arr


def test_sixteen_bit_folders_keep_their_class_means(tmp_path):
    """Field report: a dark class (true mean 63/255) came out ~99% white (values clipped at 255)."""
    root = tmp_path / "scans"
    truth = {}
    for name, level in (("dark", 63 / 255), ("mid", 128 / 255), ("bright", 0.9)):
        (root / name).mkdir(parents=True)
        arrs = [_png16(root / name / f"{i}.png", level * 65535, seed=i) for i in range(6)]
        truth[name] = float(np.mean(arrs)) / 65535
    assert Image.open(root / "dark" / "0.png").mode == "I;16"  # Pillow reads them as 16-bit
    check = inspect_dataset(str(root), classes=3)
    assert check["encoding"]["modes"] == {"I;16": 18}
    assert check["encoding"]["decisions"]["I;16"] == "16-bit range 0..65535 scaled to 0..255"
    doc = prepare(str(root), train_images=9, val_images=6, test_images=3, image_size=16, classes=3,
                  outdir=tmp_path / "p")  # fmt: skip
    assert doc["encoding"] == {"decoded": {"I;16: 16-bit range 0..65535 scaled to 0..255": 18}}
    labels = np.load(tmp_path / "p" / "labels.npz")
    for split in ("train", "val", "test"):
        images = NpyImages(tmp_path / "p" / f"{split}.npy").read(np.arange(doc["splits"][split]))
        for label, name in enumerate(doc["class_names"]):
            got = images[labels[split] == label].mean() / 255
            assert abs(got - truth[name]) < 0.01, (split, name, got, truth[name])


@pytest.mark.parametrize(
    ("mode", "make", "expected"),
    [
        ("1", lambda: Image.new("1", (8, 8), 1), (255, 255, 255)),
        ("L", lambda: Image.new("L", (8, 8), 63), (63, 63, 63)),
        (
            "P",
            lambda: Image.new("RGB", (8, 8), (200, 10, 30)).convert("P", palette=Image.Palette.ADAPTIVE),
            (200, 10, 30),
        ),
        ("RGBA", lambda: Image.new("RGBA", (8, 8), (10, 20, 30, 0)), (10, 20, 30)),
        ("LA", lambda: Image.new("LA", (8, 8), (90, 128)), (90, 90, 90)),
        ("CMYK", lambda: Image.new("RGB", (8, 8), (0, 128, 255)).convert("CMYK"), (0, 128, 255)),
        ("YCbCr", lambda: Image.new("RGB", (8, 8), (120, 60, 30)).convert("YCbCr"), (120, 60, 30)),
        ("I;16", lambda: Image.fromarray(np.full((8, 8), 16448, np.uint16)), (64, 64, 64)),
        ("I", lambda: Image.fromarray(np.full((8, 8), 32896, np.int32)), (128, 128, 128)),
        ("F", lambda: Image.fromarray(np.full((8, 8), 0.25, np.float32)), (64, 64, 64)),
        ("F", lambda: Image.fromarray(np.full((8, 8), 200.0, np.float32)), (200, 200, 200)),
    ],
)
def test_every_mode_becomes_eight_bit_rgb_with_its_range_scaled(tmp_path, mode, make, expected):
    img = make()
    assert img.mode == mode
    path = tmp_path / ("x.tif" if mode in ("I", "F", "CMYK", "YCbCr") else "x.png")
    if mode == "YCbCr":
        path = tmp_path / "x.jpg"
    img.save(path)
    arr, how = decode_image(path, 8)
    assert arr.shape == (3, 8, 8) and arr.dtype == np.uint8
    tol = 3 if mode in ("CMYK", "YCbCr", "P") else 0  # lossy colour conversions and JPEG
    assert np.abs(arr.reshape(3, -1).mean(1) - np.array(expected)).max() <= tol, (mode, arr[:, 0, 0], how)


def test_float_images_outside_both_ranges_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "x.tif"
    Image.fromarray(np.full((8, 8), -2.0, np.float32)).save(path)
    with pytest.raises(GpunasError) as e:
        decode_image(path, 8)
    assert str(e.value) == f"{path}: unreadable image (float values in [-2, -2]: expected [0, 1] or [0, 255])"


def _npz(path, images, n_classes=2):
    np.savez(path, images=images, labels=np.arange(len(images)) % n_classes)
    return str(path)


def test_float_and_wide_npz_arrays_are_scaled_not_truncated(tmp_path):
    """Field report: float images in [0, 1] became all zeros, and every training ran at chance."""
    rng = np.random.default_rng(0)
    unit = rng.random((20, 8, 8)).astype(np.float32)
    expected = np.rint(unit * 255).astype(np.uint8)
    for name, images in (("unit", unit), ("byte", unit * 255), ("wide", (unit * 65535).astype(np.uint16))):
        src = _npz(tmp_path / f"{name}.npz", images)
        doc = prepare(src, train_images=10, val_images=6, test_images=4, outdir=tmp_path / name)
        from gpunas.datasets.loader import list_dataset, split_indices

        idx = split_indices(list_dataset(src).labels, (10, 6, 4), 0, src)
        got = NpyImages(tmp_path / name / "train.npy").read(np.arange(10))[:, 0]
        assert np.abs(got.astype(int) - expected[idx["train"]]).max() <= 1, name
        assert inspect_dataset(src)["encoding"]["array"] == doc["encoding"]["array"]
    assert array_to_uint8(unit, "x")[1] == "float32: float in [0, 1] scaled by 255"
    assert array_to_uint8(unit * 255, "x")[1] == "float32: float in [0, 255] rounded"


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.full((4, 8, 8), 300.0), "images of dtype float64: float values in [300, 300]: expected [0, 1] or [0, 255]"),
        (np.full((4, 8, 8), -1.0, np.float32), "images of dtype float32: float values in [-1, -1]"),
        (np.full((4, 8, 8), np.nan, np.float32), "float values include NaN or infinity"),
        (np.full((4, 8, 8), 1000, np.int32), "images of dtype int32 have values in [1000, 1000]"),
    ],
)  # fmt: skip
def test_arrays_of_another_range_are_refused_in_one_line(tmp_path, images, message):
    src = _npz(tmp_path / "d.npz", images)
    with pytest.raises(GpunasError) as e:
        inspect_dataset(src)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"{src}: ") and message in str(e.value)


def _folder(root, classes=("cat", "dog"), per_class=4):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8, 3), 30 * i, np.uint8)).save(root / c / f"{i}.png")
    return root


def test_dangling_links_are_counted_named_and_warned(tmp_path, caplog):
    """Field report: dangling image links vanished without a word; a dangling class-folder link
    showed only as a class-count mismatch that did not name it."""
    root = _folder(tmp_path / "data")
    (root / "dog" / "gone.png").symlink_to(tmp_path / "elsewhere" / "gone.png")
    (root / "bird").symlink_to(tmp_path / "unmounted" / "bird")
    with caplog.at_level(logging.WARNING):
        doc = inspect_dataset(str(root), classes=2)
    assert doc["per_class"] == {"cat": 4, "dog": 4}
    assert doc["dangling_links"] == {
        "images": 1,
        "class_folders": 1,
        "examples": [f"{root / 'bird'} -> {tmp_path / 'unmounted' / 'bird'}",
                     f"{root / 'dog' / 'gone.png'} -> {tmp_path / 'elsewhere' / 'gone.png'}"],
    }  # fmt: skip
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "1 dangling class-folder link(s) skipped" in warned[0]
    assert "1 dangling image link(s) skipped" in warned[0] and "gone.png" in warned[0]
    with pytest.raises(GpunasError) as e:
        inspect_dataset(str(root), classes=3)  # the user meant bird to be a class
    assert str(e.value) == (
        f"classes: the config says 3, but data.source {str(root)!r} has 2 classes (cat, dog); 1 dangling "
        f"class-folder link(s) skipped ({root / 'bird'} -> {tmp_path / 'unmounted' / 'bird'})"
    )


def test_oversized_images_are_named_in_one_line_and_a_key_allows_them(tmp_path):
    """Field report: an image over Pillow's pixel limit ended in a 55-line traceback without its name."""
    root = _folder(tmp_path / "data")
    big = root / "cat" / "scan.png"
    side = int(PILLOW_MAX_PIXELS**0.5) + 10  # just over Pillow's default limit
    Image.new("1", (side, side)).save(big)
    with pytest.raises(GpunasError) as e:
        inspect_dataset(str(root), classes=2)
    assert str(e.value) == (
        f"{big}: {side} x {side} = {side * side:,} pixels is over data.max_image_pixels "
        f"({PILLOW_MAX_PIXELS:,}, Pillow's decompression-bomb limit); set data.max_image_pixels higher "
        "(or null) to allow it"
    )
    assert inspect_dataset(str(root), classes=2, max_pixels=None)["encoding"]["modes"] == {"1": 1, "RGB": 8}
    small = root / "dog" / "0.png"  # the same check when the splits are decoded
    with pytest.raises(
        GpunasError, match=f"^{small}: 8 x 8 = 64 pixels is over data.max_image_pixels \\(10,"
    ):
        decode_image(small, 8, max_pixels=10)


def test_budgets_below_every_sample_are_refused_before_any_training():
    """Field report: budgets in ms against a table in microseconds searched nothing and 'succeeded'.
    (``partition_subspaces`` calls this check before writing the sub-spaces the search reads.)"""
    latency = np.linspace(850.0, 2000.0, 64)
    result = partition(latency, {"kind": "edges_ms", "budgets": [0.5, 0.85, 1.25]})
    with pytest.raises(GpunasError) as e:
        check_budgets(result, latency)
    assert str(e.value) == (
        "subspaces.budgets: no candidate is under any budget (0.5, 0.85, 1.25 ms): the fastest of the 64 samples "
        "is predicted at 850 ms; budgets and latencies are in ms (a table in microseconds, or budgets below the "
        "device's fastest network?)"
    )
    # some budgets empty: one warning each, and the run goes on
    result = partition(latency, {"kind": "edges_ms", "budgets": [500, 800, 1000, 3000]})
    assert check_budgets(result, latency) == [
        f"budget s{i} (< {b} ms) holds no candidate: the fastest sample is predicted at 850 ms; tier s{i} will "
        "have no model"
        for i, b in ((0, 500), (1, 800))
    ]
    # a middle band with no member is not an empty budget: its tier takes the best below it
    result = partition(latency, {"kind": "edges_ms", "budgets": [1000, 1001, 3000]})
    assert result["subspaces"][1]["empty"] and check_budgets(result, latency) == []


def test_a_provider_that_cannot_be_created_is_refused_before_timing(monkeypatch):
    """ONNX Runtime lists a provider whose libraries are missing, then runs on the CPU instead."""
    import onnxruntime as ort

    from gpunas.latency.backends import BackendUnavailableError, create_backend

    listed = [*ort.get_available_providers(), "CUDAExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: listed)
    backend = create_backend("onnxruntime", device="cuda")
    with pytest.raises(BackendUnavailableError) as e:
        backend.check()
    assert str(e.value) == (
        "onnxruntime cannot create the CUDAExecutionProvider here (the session fell back to "
        "['CPUExecutionProvider']); check its CUDA / cuDNN / TensorRT libraries or use device: cpu"
    )
    create_backend("onnxruntime", device="cpu").check()  # the CPU provider is created and kept


def test_relative_paths_resolve_from_the_workflow_directory(tmp_path):
    from gpunas.config import resolve_paths

    wf, run = tmp_path / "wf", tmp_path / "run"
    (wf / "benchmarks/results").mkdir(parents=True)
    (wf / "benchmarks/results/tabular.json").write_text("{}")
    (run / "mine").mkdir(parents=True)
    (run / "mine/data.npz").write_bytes(b"")
    cfg = {"space": "tiny", "data": {"source": "mine/data.npz"},
           "report": {"strategy_benchmark": "benchmarks/results/tabular.json", "proxy_validity": "missing.json"}}  # fmt: skip
    changed = resolve_paths(cfg, wf, run)
    assert changed == {"report.strategy_benchmark": str(wf / "benchmarks/results/tabular.json")}
    assert cfg["data"]["source"] == "mine/data.npz"  # the run directory's own file wins
    assert cfg["report"]["proxy_validity"] == "missing.json" and cfg["space"] == "tiny"
