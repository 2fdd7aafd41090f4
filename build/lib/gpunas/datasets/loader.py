"""Image classification data for proxy training: the embedded set, an .npz, or class folders.

Sources (``data.source`` in the config):

- ``animal_mnist``: the embedded Animal-MNIST silhouettes (see README.md beside this file);
- a path to an ``.npz`` with ``images`` (N x H x W or N x H x W x C, uint8) and ``labels``
  (N integers), optionally ``classes`` (names);
- a directory with one sub-directory of images per class, as ImageNet is laid out
  (``root/<class>/<image>.{png,jpg,...}``); images are resized to ``image_size`` on load.

Images are returned as uint8 arrays N x C x H x W (grayscale is repeated to 3 channels: the
networks and their latency keys take RGB input). The train/validation split is stratified and
fixed by ``split_seed``, independent of the training seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from gpunas.errors import GpunasError

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}
BUILTIN = {"animal_mnist": "animal_mnist.npz"}


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray  # uint8, N x 3 x H x W
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: tuple[str, ...]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _to_nchw3(images: np.ndarray, where: str) -> np.ndarray:
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise GpunasError(
            f"{where}: images must be N x H x W or N x H x W x C (C = 1 or 3), got {images.shape}"
        )
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    if images.dtype != np.uint8:
        if images.min() < 0 or images.max() > 255:
            raise GpunasError(f"{where}: image values must lie in 0..255")
        images = images.astype(np.uint8)
    return np.ascontiguousarray(images)


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("images", "labels") if k not in data.files]
            if missing:
                raise GpunasError(f"{path}: missing arrays {missing} (needs 'images' and 'labels')")
            images, labels = data["images"], data["labels"]
            classes = tuple(str(c) for c in data["classes"]) if "classes" in data.files else ()
    except (OSError, EOFError) as exc:
        raise GpunasError(f"{path}: not a readable .npz file ({exc})") from None
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise GpunasError(
            f"{path}: labels must be a vector of {len(images)} integers, got shape {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise GpunasError(f"{path}: labels must be non-negative integers")
    n_classes = int(labels.max()) + 1
    classes = classes or tuple(f"class{i}" for i in range(n_classes))
    if len(classes) < n_classes:
        raise GpunasError(f"{path}: {len(classes)} class names for labels up to {n_classes - 1}")
    return _to_nchw3(np.asarray(images), str(path)), labels.astype(np.int64), classes


def load_folders(root: Path, image_size: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    files, labels, classes = list_folders(root)
    return decode(files, image_size), labels, classes


def load_images(source: str, image_size: int = 64) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """(images N x 3 x H x W uint8, labels, class names, description) of ``source``."""
    if source in BUILTIN:
        ref = resources.files("gpunas.datasets").joinpath(BUILTIN[source])
        with resources.as_file(ref) as path:
            images, labels, classes = load_npz(Path(path))
        return images, labels, classes, f"{source} (embedded, MIT licence)"
    check_source(source)
    path = Path(source)
    if path.is_dir():
        images, labels, classes = load_folders(path, image_size)
    else:
        images, labels, classes = load_npz(path)
    return images, labels, classes, str(path)


def inspect_dataset(source: str, image_size: int, per_class: int) -> dict:
    """The data exists, has >= 2 classes, and its images decode: classes and image counts.

    Runs before any training job (so a bad path or an unreadable image fails once, early, with
    one message) but not at DAG-build time, so a dry-run of a real-scale config works on a
    machine without the data. For class folders, ``per_class`` images of each class are decoded
    (all of them would take hours on ImageNet); .npz files and the embedded set are read whole.
    """
    path = Path(source)
    if source not in BUILTIN and path.is_dir():
        from PIL import Image, UnidentifiedImageError

        check_source(source)
        class_dirs = sorted(p for p in path.iterdir() if p.is_dir())
        counts = {}
        for cdir in class_dirs:
            files = sorted(f for f in cdir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise GpunasError(
                    f"{cdir}: class folder has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
                )
            for f in files[:per_class]:
                try:
                    with Image.open(f) as img:
                        img.convert("RGB").load()
                except (UnidentifiedImageError, OSError) as exc:
                    raise GpunasError(f"{f}: unreadable image ({exc.__class__.__name__})") from None
            counts[cdir.name] = len(files)
        desc = str(path)
    else:
        _, labels, classes, desc = load_images(source, image_size)
        counts = {classes[c]: int((labels == c).sum()) for c in np.unique(labels)}
    if len(counts) < 2:
        raise GpunasError(
            f"data.source {source!r}: needs at least 2 classes, found {len(counts)} ({sorted(counts)})"
        )
    return {"source": source, "description": desc, "classes": len(counts), "images": sum(counts.values()),
            "per_class": counts}  # fmt: skip


def check_source(source: str) -> None:
    """Cheap check that ``source`` names the embedded set, an existing .npz or a directory."""
    if source in BUILTIN:
        return
    path = Path(source)
    if not path.exists():
        raise GpunasError(
            f"data.source: {source!r} does not exist (use 'animal_mnist', an .npz file or a folder of class folders)"
        )
    if not (path.is_dir() or path.suffix == ".npz"):
        raise GpunasError(f"data.source: {source!r} is neither a directory nor an .npz file")


def stratified_split(
    labels: np.ndarray, train_images: int, val_images: int, split_seed: int, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices): fixed by ``split_seed``, classes interleaved in every prefix."""
    present = np.unique(labels)
    if len(present) < 2:
        raise GpunasError(f"data.source {source!r}: needs at least 2 classes, found {len(present)}")
    if train_images < len(present) or val_images < len(present):
        raise GpunasError(f"data: train_images and val_images must be >= the {len(present)} classes")
    if train_images + val_images > len(labels):
        raise GpunasError(
            f"data: train_images + val_images = {train_images + val_images} exceeds the {len(labels)} images of {source!r}"
        )
    rng = np.random.default_rng(split_seed)
    order = rng.permutation(len(labels))
    # stratify: interleave classes so every prefix is balanced
    by_class = [order[labels[order] == c] for c in present]
    ranks = np.concatenate([np.arange(len(idx)) for idx in by_class])
    members = np.concatenate(by_class)
    members = members[np.lexsort((rng.random(len(members)), ranks))]
    return members[val_images : val_images + train_images], members[:val_images]


def list_folders(root: Path) -> tuple[list[Path], np.ndarray, tuple[str, ...]]:
    """Image files and labels of a class-folder dataset, without decoding anything."""
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not class_dirs:
        raise GpunasError(f"{root}: no class sub-directories (expected root/<class>/<image files>)")
    files, labels = [], []
    for label, cdir in enumerate(class_dirs):
        found = sorted(f for f in cdir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise GpunasError(
                f"{cdir}: class folder has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        files += found
        labels += [label] * len(found)
    return files, np.array(labels, dtype=np.int64), tuple(p.name for p in class_dirs)


def decode(files: list[Path], image_size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    out = np.empty((len(files), 3, image_size, image_size), dtype=np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as img:
                img = img.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
                out[i] = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
        except (UnidentifiedImageError, OSError) as exc:
            raise GpunasError(f"{f}: unreadable image ({exc.__class__.__name__})") from None
    return out


def load_split(
    source: str, *, train_images: int, val_images: int, split_seed: int = 0, image_size: int = 64
) -> Split:
    """A fixed, stratified train/validation split of at most the requested sizes.

    Class folders are split on the file list and only the chosen images are decoded, so a
    proxy subset of ImageNet costs its own size, not the whole set's.
    """
    if source not in BUILTIN and Path(source).is_dir():
        files, labels, classes = list_folders(Path(source))
        train_idx, val_idx = stratified_split(labels, train_images, val_images, split_seed, source)
        desc = source
        x_train, x_val = (
            decode([files[i] for i in train_idx], image_size),
            decode([files[i] for i in val_idx], image_size),
        )
    else:
        images, labels, classes, desc = load_images(source, image_size)
        train_idx, val_idx = stratified_split(labels, train_images, val_images, split_seed, source)
        x_train, x_val = images[train_idx], images[val_idx]
    log.info(
        "data %s: %d train / %d val images, %d classes", desc, len(train_idx), len(val_idx), len(classes)
    )
    return Split(x_train, labels[train_idx], x_val, labels[val_idx], classes, desc)
