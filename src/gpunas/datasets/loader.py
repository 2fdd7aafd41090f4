"""Image classification data for proxy training: the embedded set, an .npz, or class folders.

Sources (``data.source`` in the config):

- ``animal_mnist``: the embedded Animal-MNIST silhouettes (see README.md beside this file);
- a path to an ``.npz`` with ``images`` (N x H x W or N x H x W x C; uint8, or another dtype
  scaled as :mod:`gpunas.datasets.images` says) and ``labels`` (N integers), optionally
  ``classes`` (names);
- a directory with one sub-directory of images per class, as ImageNet is laid out
  (``root/<class>/<image>.{png,jpg,...}``, any case of extension); images are resized to
  ``image_size`` when decoded. Hidden entries (names starting with ``.``: ``.ipynb_checkpoints``,
  ``.DS_Store``) are never classes or images.

Images are uint8 arrays N x C x H x W: every mode and bit depth becomes 8-bit RGB with its range
scaled, not clipped (:mod:`gpunas.datasets.images`; the networks and their latency keys take RGB
input). The data check counts the images of each mode and names dangling links and images over
``data.max_image_pixels``. The train / validation / test splits are
stratified, disjoint and fixed by ``split_seed``, independent of the training seed.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from gpunas.datasets.images import (
    DECISIONS,
    PILLOW_MAX_PIXELS,
    ImageDecodeError,
    OversizedImageError,
    array_to_uint8,
    check_pixels,
    decision_of,
    pixel_limit_off,
    to_rgb8,
)
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
    encoding: str = ""  # arrays: how their dtype was made uint8
    dangling: tuple[Path, ...] = ()  # image links whose target is missing (not images)
    dangling_classes: tuple[Path, ...] = ()  # class-folder links whose target is missing (not classes)


def _to_nchw3(images: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise GpunasError(
            f"{where}: images must be N x H x W or N x H x W x C (C = 1 or 3), got {images.shape}"
        )
    images, decision = array_to_uint8(images, where)
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    return np.ascontiguousarray(images), decision


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """(images uint8 N x 3 x H x W, labels, class names, how the images' dtype was made uint8)."""
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
    images, decision = _to_nchw3(np.asarray(images), str(path))
    return images, labels.astype(np.int64), classes, decision


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


def _dangling(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def list_folders(root: Path) -> Listing:
    """Image files and labels of a class-folder dataset, without decoding anything; links whose
    target is missing are neither classes nor images, and are listed as dangling."""
    entries = _visible(list(root.iterdir()))
    class_dirs = [p for p in entries if p.is_dir()]
    dangling_classes = tuple(p for p in entries if _dangling(p))
    if not class_dirs:
        links = f" ({len(dangling_classes)} dangling class-folder link(s))" if dangling_classes else ""
        raise GpunasError(f"{root}: no class sub-directories{links} (expected root/<class>/<image files>)")
    files, labels, dangling = [], [], []
    for label, cdir in enumerate(class_dirs):
        visible = _visible(list(cdir.iterdir()))
        found = [f for f in visible if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
        dangling += [f for f in visible if _dangling(f)]
        if not found:
            raise GpunasError(
                f"{cdir}: class folder has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        files += found
        labels += [label] * len(found)
    if dangling or dangling_classes:
        log.warning("%s: %s", root, dangling_message(tuple(dangling), dangling_classes))
    return Listing(
        np.array(labels, dtype=np.int64),
        tuple(p.name for p in class_dirs),
        str(root),
        files=files,
        dangling=tuple(dangling),
        dangling_classes=dangling_classes,
    )


def _link(path: Path) -> str:
    return f"{path} -> {path.readlink()}"


def dangling_message(files: tuple[Path, ...], classes: tuple[Path, ...], shown: int = 3) -> str:
    """One line naming (a few of) the dangling links: skipped, not read."""
    parts = []
    if classes:
        names = "; ".join(_link(p) for p in classes[:shown]) + ("; ..." if len(classes) > shown else "")
        parts.append(f"{len(classes)} dangling class-folder link(s) skipped ({names})")
    if files:
        names = "; ".join(_link(p) for p in files[:shown]) + ("; ..." if len(files) > shown else "")
        parts.append(f"{len(files)} dangling image link(s) skipped ({names})")
    return ", ".join(parts)


def list_dataset(source: str) -> Listing:
    """The labels and classes of ``source``: arrays are read, class folders only listed."""
    if source in BUILTIN:
        ref = resources.files("gpunas.datasets").joinpath(BUILTIN[source])
        with resources.as_file(ref) as path:
            images, labels, classes, how = load_npz(Path(path))
        listing = Listing(labels, classes, f"{source} (embedded, MIT licence)", images=images, encoding=how)
    else:
        check_source(source)
        path = Path(source)
        if path.is_dir():
            listing = list_folders(path)
        else:
            images, labels, classes, how = load_npz(path)
            listing = Listing(labels, classes, str(path), images=images, encoding=how)
            log.info("%s: images %s", path, how)
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


def decode_image(
    path: Path, image_size: int, max_pixels: int | None = PILLOW_MAX_PIXELS
) -> tuple[np.ndarray, str]:
    """(uint8 3 x S x S, the decision's name) of one image: any mode made 8-bit RGB with its range
    scaled (:func:`gpunas.datasets.images.to_rgb8`), resized bilinearly.

    Raises :class:`OversizedImageError` above ``max_pixels`` (None: no limit) and
    :class:`UnreadableImageError` for a file that does not decode.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with pixel_limit_off(), Image.open(path) as img:
            check_pixels(path, img.size, max_pixels)
            rgb, decision = to_rgb8(img)
            rgb = rgb.resize((image_size, image_size), Image.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1), f"{img.mode}: {DECISIONS[decision]}"
    except OversizedImageError:
        raise
    except ImageDecodeError as exc:
        raise UnreadableImageError(path, exc.reason) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = (str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__).replace(f" '{path}'", "")
        raise UnreadableImageError(path, f"{exc.__class__.__name__}: {reason}") from None


def decode_file(path: Path, image_size: int, max_pixels: int | None = PILLOW_MAX_PIXELS) -> np.ndarray:
    """One image as uint8 3 x S x S (:func:`decode_image` without its decision)."""
    return decode_image(path, image_size, max_pixels)[0]


def decode(files: list[Path], image_size: int, max_pixels: int | None = PILLOW_MAX_PIXELS) -> np.ndarray:
    out = np.empty((len(files), 3, image_size, image_size), dtype=np.uint8)
    for i, f in enumerate(files):
        out[i] = decode_file(f, image_size, max_pixels)
    return out


def _header(path: Path) -> tuple[str, tuple[int, int]] | str:
    """(mode, size) from an image file's header (no pixels decoded), or why it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.mode, img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".replace(
            f" '{path}'", ""
        )


def census(files: list[Path], max_pixels: int | None = PILLOW_MAX_PIXELS, workers: int = 8) -> dict[str, Any]:
    """Modes of ``files`` from their headers (nothing decoded): how many images of each mode and
    what is done with each; raises :class:`OversizedImageError` (the first, with a count of the
    others) for images over ``max_pixels``. Unreadable headers are counted here and named when
    the splits are decoded."""
    with pixel_limit_off(), ThreadPoolExecutor(max_workers=workers) as pool:
        heads = list(pool.map(_header, files))
    modes: dict[str, int] = {}
    oversized = []
    unreadable = 0
    for path, head in zip(files, heads, strict=True):
        if isinstance(head, str):
            unreadable += 1
            continue
        mode, size = head
        modes[mode] = modes.get(mode, 0) + 1
        if max_pixels is not None and size[0] * size[1] > max_pixels:
            oversized.append((path, size))
    if oversized:
        (path, size), more = oversized[0], len(oversized) - 1
        err = OversizedImageError(path, size, max_pixels)  # type: ignore[arg-type]
        if more:
            err.args = (f"{err.args[0]} ({more} more image(s) over the limit)",)
        raise err
    decisions = {m: DECISIONS[decision_of(m)] for m in sorted(modes)}
    return {"modes": dict(sorted(modes.items())), "decisions": decisions, "unreadable_headers": unreadable}


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
    source: str,
    *,
    train_images: int,
    val_images: int,
    test_images: int = 0,
    split_seed: int = 0,
    image_size: int = 64,
) -> Split:
    """The fixed, stratified splits held in memory (only the chosen images of folders are decoded)."""
    listing = list_dataset(source)
    idx = split_indices(listing.labels, (train_images, val_images, test_images), split_seed, source)

    def images(split: str) -> np.ndarray:
        if listing.images is not None:
            return listing.images[idx[split]]
        return decode([listing.files[i] for i in idx[split]], image_size)  # type: ignore[index]

    log.info(
        "data %s: %d train / %d val / %d test images, %d classes",
        listing.description,
        train_images,
        val_images,
        test_images,
        len(listing.classes),
    )
    y = {s: listing.labels[idx[s]] for s in idx}
    return Split(
        images("train"),
        y["train"],
        images("val"),
        y["val"],
        listing.classes,
        listing.description,
        images("test") if test_images else None,
        y["test"] if test_images else None,
    )


def check_classes(listing: Listing, classes: int | None, source: str) -> None:
    """Refuse data whose class count differs from the config's ``classes`` (the networks' outputs);
    dangling class-folder links (skipped, so not classes) are named in the message."""
    if classes is not None and classes != len(listing.classes):
        names = ", ".join(listing.classes[:10]) + (", ..." if len(listing.classes) > 10 else "")
        links = f"; {dangling_message((), listing.dangling_classes)}" if listing.dangling_classes else ""
        raise GpunasError(
            f"classes: the config says {classes}, but data.source {source!r} has {len(listing.classes)} "
            f"classes ({names}){links}"
        )


def inspect_dataset(
    source: str, classes: int | None = None, max_pixels: int | None = PILLOW_MAX_PIXELS
) -> dict[str, Any]:
    """Classes, image counts and encodings of ``source``: class folders are listed and their
    headers read (mode and size; no pixel is decoded), arrays' dtypes checked.

    Refuses (:class:`GpunasError`, one line) a source with fewer than 2 classes, a class count
    other than ``classes``, or an image over ``max_pixels``. The returned document counts the
    images of each mode with the decision taken for it, and the dangling links skipped.
    """
    listing = list_dataset(source)
    check_classes(listing, classes, source)
    counts = {c: int((listing.labels == i).sum()) for i, c in enumerate(listing.classes)}
    doc: dict[str, Any] = {
        "source": source,
        "description": listing.description,
        "classes": len(counts),
        "images": sum(counts.values()),
        "per_class": counts,
    }
    if listing.files is not None:
        doc["encoding"] = census(listing.files, max_pixels)
        for mode, n in doc["encoding"]["modes"].items():
            log.info("%s: %d image(s) of mode %s (%s)", source, n, mode, doc["encoding"]["decisions"][mode])
    else:
        doc["encoding"] = {"array": listing.encoding}
    doc["dangling_links"] = {
        "images": len(listing.dangling),
        "class_folders": len(listing.dangling_classes),
        "examples": [_link(p) for p in (*listing.dangling_classes, *listing.dangling)[:5]],
    }
    return doc
