"""Image classification data for proxy training: the embedded set, an .npz, or class folders.

Sources (``data.source`` in the config):

- ``animal_mnist``: the embedded Animal-MNIST silhouettes (see README.md beside this file);
- a path to an ``.npz`` with ``images`` (N x H x W or N x H x W x C, uint8) and ``labels``
  (N integers), optionally ``classes`` (names);
- a directory with one sub-directory of images per class, as ImageNet is laid out
  (``root/<class>/<image>.{png,jpg,...}``, any case of extension); images are resized to
  ``image_size`` when decoded. Hidden entries (names starting with ``.``: ``.ipynb_checkpoints``,
  ``.DS_Store``) are never classes or images.

Images are uint8 arrays N x C x H x W (grayscale, CMYK and palette images become RGB: the
networks and their latency keys take RGB input). The train / validation / test splits are
stratified, disjoint and fixed by ``split_seed``, independent of the training seed.
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
    """Splits held in memory (small data, unit tests); trainings read :mod:`gpunas.datasets.prepared`."""

    x_train: np.ndarray  # uint8, N x 3 x H x W
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: tuple[str, ...]
    source: str
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Listing:
    """What a source holds, without decoding class folders: labels, class names, and either the
    decoded images (arrays) or the image files (class folders)."""

    labels: np.ndarray
    classes: tuple[str, ...]
    description: str
    images: np.ndarray | None = None
    files: list[Path] | None = None


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


def _visible(entries: list[Path]) -> list[Path]:
    """Entries that are not hidden (``.ipynb_checkpoints``, ``.DS_Store``, ``._x.jpg``...)."""
    return sorted(p for p in entries if not p.name.startswith("."))


def list_folders(root: Path) -> tuple[list[Path], np.ndarray, tuple[str, ...]]:
    """Image files and labels of a class-folder dataset, without decoding anything."""
    class_dirs = [p for p in _visible(list(root.iterdir())) if p.is_dir()]
    if not class_dirs:
        raise GpunasError(f"{root}: no class sub-directories (expected root/<class>/<image files>)")
    files, labels = [], []
    for label, cdir in enumerate(class_dirs):
        found = [
            f for f in _visible(list(cdir.iterdir())) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
        ]
        if not found:
            raise GpunasError(
                f"{cdir}: class folder has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        files += found
        labels += [label] * len(found)
    return files, np.array(labels, dtype=np.int64), tuple(p.name for p in class_dirs)


def list_dataset(source: str) -> Listing:
    """The labels and classes of ``source``: arrays are read, class folders only listed."""
    if source in BUILTIN:
        ref = resources.files("gpunas.datasets").joinpath(BUILTIN[source])
        with resources.as_file(ref) as path:
            images, labels, classes = load_npz(Path(path))
        listing = Listing(labels, classes, f"{source} (embedded, MIT licence)", images=images)
    else:
        check_source(source)
        path = Path(source)
        if path.is_dir():
            files, labels, classes = list_folders(path)
            listing = Listing(labels, classes, str(path), files=files)
        else:
            images, labels, classes = load_npz(path)
            listing = Listing(labels, classes, str(path), images=images)
    present = np.unique(listing.labels)
    if len(present) < 2:
        raise GpunasError(f"data.source {source!r}: needs at least 2 classes, found {len(present)}")
    return listing


class UnreadableImageError(GpunasError):
    """An image file that does not decode; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: unreadable image ({reason})")
        self.path, self.reason = path, reason


def unreadable_message(bad: list[tuple[str, str]], source: str) -> str:
    """One line naming every unreadable image (the first with its full reason)."""
    (first, why), *rest = sorted(bad)
    line = f"{first}: unreadable image ({why})"
    if rest:
        line += f"; {len(rest)} more unreadable image(s) in data.source {source!r}: "
        line += "; ".join(f"{p} ({r})" for p, r in rest)
    return line


def decode_file(path: Path, image_size: int) -> np.ndarray:
    """One image as uint8 3 x S x S (any mode made RGB, resized bilinearly)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = (str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__).replace(f" '{path}'", "")
        raise UnreadableImageError(path, f"{exc.__class__.__name__}: {reason}") from None


def decode(files: list[Path], image_size: int) -> np.ndarray:
    out = np.empty((len(files), 3, image_size, image_size), dtype=np.uint8)
    for i, f in enumerate(files):
        out[i] = decode_file(f, image_size)
    return out


def split_indices(
    labels: np.ndarray, sizes: tuple[int, ...], split_seed: int, source: str
) -> dict[str, np.ndarray]:
    """Disjoint train / val / test indices of the requested sizes, fixed by ``split_seed``.

    Classes are interleaved, so every prefix is balanced; validation takes the first images of
    the interleaved order, then training, then test: the splits never share an image.
    """
    train_images, val_images, test_images = (*sizes, 0)[:3]
    present = np.unique(labels)
    if len(present) < 2:
        raise GpunasError(f"data.source {source!r}: needs at least 2 classes, found {len(present)}")
    if train_images < len(present) or val_images < len(present):
        raise GpunasError(f"data: train_images and val_images must be >= the {len(present)} classes")
    total = train_images + val_images + test_images
    if total > len(labels):
        raise GpunasError(
            f"data: train_images + val_images + test_images = {total} exceeds the {len(labels)} images of {source!r}"
        )
    rng = np.random.default_rng(split_seed)
    order = rng.permutation(len(labels))
    by_class = [order[labels[order] == c] for c in present]
    ranks = np.concatenate([np.arange(len(idx)) for idx in by_class])
    members = np.concatenate(by_class)
    members = members[np.lexsort((rng.random(len(members)), ranks))]
    val = members[:val_images]
    train = members[val_images : val_images + train_images]
    test = members[val_images + train_images : total]
    return {"train": train, "val": val, "test": test}


def stratified_split(
    labels: np.ndarray, train_images: int, val_images: int, split_seed: int, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices): :func:`split_indices` without a test split."""
    idx = split_indices(labels, (train_images, val_images, 0), split_seed, source)
    return idx["train"], idx["val"]


def load_split(
    source: str, *, train_images: int, val_images: int, test_images: int = 0, split_seed: int = 0,
    image_size: int = 64,
) -> Split:  # fmt: skip
    """The fixed, stratified splits held in memory (only the chosen images of folders are decoded)."""
    listing = list_dataset(source)
    idx = split_indices(listing.labels, (train_images, val_images, test_images), split_seed, source)

    def images(split: str) -> np.ndarray:
        if listing.images is not None:
            return listing.images[idx[split]]
        return decode([listing.files[i] for i in idx[split]], image_size)  # type: ignore[index]

    log.info("data %s: %d train / %d val / %d test images, %d classes", listing.description,
             train_images, val_images, test_images, len(listing.classes))  # fmt: skip
    y = {s: listing.labels[idx[s]] for s in idx}
    return Split(
        images("train"), y["train"], images("val"), y["val"], listing.classes, listing.description,
        images("test") if test_images else None, y["test"] if test_images else None,
    )  # fmt: skip


def check_classes(listing: Listing, classes: int | None, source: str) -> None:
    """Refuse data whose class count differs from the config's ``classes`` (the networks' outputs)."""
    if classes is not None and classes != len(listing.classes):
        names = ", ".join(listing.classes[:10]) + (", ..." if len(listing.classes) > 10 else "")
        raise GpunasError(
            f"classes: the config says {classes}, but data.source {source!r} has {len(listing.classes)} "
            f"classes ({names})"
        )


def inspect_dataset(source: str, classes: int | None = None) -> dict:
    """Classes and image counts of ``source`` (class folders are listed, not decoded); refuses a
    source with fewer than 2 classes, or whose class count differs from ``classes``."""
    listing = list_dataset(source)
    check_classes(listing, classes, source)
    counts = {c: int((listing.labels == i).sum()) for i, c in enumerate(listing.classes)}
    return {"source": source, "description": listing.description, "classes": len(counts),
            "images": sum(counts.values()), "per_class": counts}  # fmt: skip
