"""The dataset decoded once, on disk, and read by every training a batch at a time.

``prepare`` (rule ``prepare_dataset``) takes the fixed, stratified splits of ``data.source``
(train, validation and the held-out test split) and writes each as a uint8 ``.npy`` array
(N x 3 x H x W; class folders are resized to ``data.image_size``, arrays keep their size), its
labels, and ``dataset.json`` (classes, counts, the training split's per-channel mean and std).
Images of class folders are decoded in parallel; every unreadable file is named in one error.

A training never holds a split in memory: :class:`NpyImages` reads the rows of one batch with
``os.pread`` (the page cache serves repeated reads, and is not the process's resident memory),
so a training's peak memory does not grow with the number of images. Resizing to the
candidate's resolution and normalising happen per batch, on the training device.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gpunas.datasets.images import PILLOW_MAX_PIXELS
from gpunas.datasets.loader import (
    UnreadableImageError,
    check_classes,
    decode_image,
    list_dataset,
    split_indices,
    unreadable_message,
)
from gpunas.errors import GpunasError
from gpunas.io import atomic_path, atomic_write_json

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
CHUNK = 256  # images decoded and written at a time


class ImageSource(Protocol):
    """Images a batch at a time: uint8 arrays N x 3 x H x W."""

    shape: tuple[int, ...]

    def __len__(self) -> int: ...

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray: ...


class ArrayImages:
    """Images already in memory (a unit test's split, the embedded set)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = tuple(array.shape)

    def __len__(self) -> int:
        return len(self.array)

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.array[np.asarray(indices)]


class NpyImages:
    """Rows of a uint8 ``.npy`` file, read with ``os.pread`` (no memory map, no whole-file load)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            readers = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }
            if version not in readers:
                raise GpunasError(f"{self.path}: .npy format version {version} is not supported")
            shape, fortran, dtype = readers[version](f)
            self.offset = f.tell()
        if dtype != np.uint8 or fortran or len(shape) != 4:
            raise GpunasError(
                f"{self.path}: expected a C-ordered uint8 N x C x H x W array, got {dtype} {shape}"
            )
        self.shape = tuple(shape)
        self.row = int(np.prod(shape[1:]))
        self._fd: int | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers open their own descriptor
        return {**self.__dict__, "_fd": None}

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        idx = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(idx), *self.shape[1:]), dtype=np.uint8)
        flat = out.reshape(len(idx), self.row)
        for j, i in enumerate(idx):
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"row {i} of {self.path} ({self.shape[0]} rows)")
            data = os.pread(self._fd, self.row, self.offset + int(i) * self.row)
            flat[j] = np.frombuffer(data, dtype=np.uint8)
        return out

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)  # type: ignore[arg-type]


@dataclass
class TrainingData:
    """What a training reads: image sources and labels per split, classes, normalisation."""

    train: ImageSource
    y_train: np.ndarray
    val: ImageSource
    y_val: np.ndarray
    classes: tuple[str, ...]
    source: str
    mean: list[float] | None = None
    std: list[float] | None = None
    test: ImageSource | None = None
    y_test: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @classmethod
    def from_split(cls, split: Any) -> TrainingData:
        """An in-memory :class:`~gpunas.datasets.loader.Split`."""
        test = getattr(split, "x_test", None)
        return cls(
            ArrayImages(split.x_train),
            split.y_train,
            ArrayImages(split.x_val),
            split.y_val,
            split.classes,
            split.source,
            test=ArrayImages(test) if test is not None else None,
            y_test=getattr(split, "y_test", None),
        )

    @classmethod
    def open(cls, folder: str | Path) -> TrainingData:
        """A dataset written by :func:`prepare` (``folder/dataset.json``, ``{split}.npy``, ``labels.npz``)."""
        folder = Path(folder)
        doc = json.loads((folder / "dataset.json").read_text())
        with np.load(folder / "labels.npz") as labels:
            y = {s: labels[s] for s in labels.files}
        test = NpyImages(folder / "test.npy") if doc["splits"].get("test") else None
        return cls(
            NpyImages(folder / "train.npy"),
            y["train"],
            NpyImages(folder / "val.npy"),
            y["val"],
            tuple(doc["class_names"]),
            doc["description"],
            doc["mean"],
            doc["std"],
            test,
            y.get("test"),
        )


def fingerprint(folder: str | Path) -> str:
    """A short hash of a prepared dataset's description (changes when it is prepared anew)."""
    return hashlib.sha256((Path(folder) / "dataset.json").read_bytes()).hexdigest()[:16]


def _decode_chunk(
    args: tuple[list[str], int, int | None],
) -> tuple[np.ndarray, list[tuple[str, str]], dict[str, int]]:
    files, size, max_pixels = args
    out = np.zeros((len(files), 3, size, size), dtype=np.uint8)
    bad, decisions = [], {}
    for i, f in enumerate(files):
        try:
            out[i], how = decode_image(Path(f), size, max_pixels)
            decisions[how] = decisions.get(how, 0) + 1
        except UnreadableImageError as exc:
            bad.append((str(exc.path), exc.reason))
    return out, bad, decisions


@contextmanager
def _npy_writer(path: Path, shape: tuple[int, ...]) -> Iterator[Callable[[np.ndarray], None]]:
    """Stream uint8 chunks into a ``.npy`` file (never the whole array in memory), atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
        yield lambda chunk: f.write(np.ascontiguousarray(chunk, dtype=np.uint8).tobytes())


def prepare(
    source: str,
    *,
    train_images: int,
    val_images: int,
    test_images: int = 0,
    split_seed: int = 0,
    image_size: int = 64,
    workers: int = 1,
    classes: int | None = None,
    outdir: str | Path,
    max_pixels: int | None = PILLOW_MAX_PIXELS,
) -> dict[str, Any]:
    """Decode the splits of ``source`` once into ``outdir``; return the dataset description.

    Every image becomes 8-bit RGB with its range scaled (:mod:`gpunas.datasets.images`); the
    description counts the decoded images by mode and decision (``encoding``). Raises
    :class:`GpunasError` naming every unreadable image of the splits, an image over
    ``max_pixels``, or when ``classes`` (the config's) differs from the data's class count.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    listing = list_dataset(source)
    check_classes(listing, classes, source)
    idx = split_indices(listing.labels, (train_images, val_images, test_images), split_seed, source)
    sizes = dict(zip(SPLITS, (train_images, val_images, test_images), strict=True))
    labels = {}
    stats: tuple[list[float], list[float]] = ([0.0] * 3, [1.0] * 3)
    encoding: dict[str, Any] = {"array": listing.encoding}
    if listing.images is None:  # class folders: decode the chosen files, in parallel, once
        bad: list[tuple[str, str]] = []
        decoded: dict[str, int] = {}
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            for split in SPLITS:  # every split has its file (an empty test split too)
                files = [str(listing.files[i]) for i in idx[split]]
                jobs = [
                    (files[lo : lo + CHUNK], image_size, max_pixels) for lo in range(0, len(files), CHUNK)
                ]
                sums = []
                with _npy_writer(out / f"{split}.npy", (len(files), 3, image_size, image_size)) as write:
                    for arr, errs, how in pool.map(_decode_chunk, jobs):
                        bad.extend(errs)
                        for k, n in how.items():
                            decoded[k] = decoded.get(k, 0) + n
                        sums.append(_channel_sums(arr))
                        write(arr)
                if split == "train":
                    stats = _mean_std(sums, len(files) * image_size * image_size)
        if bad:
            raise GpunasError(unreadable_message(bad, source))
        encoding = {"decoded": dict(sorted(decoded.items()))}
        for how, n in sorted(decoded.items()):
            log.info("decoded %d image(s) of mode %s", n, how)
        shape = (3, image_size, image_size)
    else:  # an array (embedded or .npz): already decoded, kept at its size
        images = listing.images
        for split in SPLITS:
            with _npy_writer(out / f"{split}.npy", (sizes[split], *images.shape[1:])) as write:
                write(images[idx[split]])
        train = images[idx["train"]]
        stats = _mean_std([_channel_sums(train)], train.shape[0] * train.shape[2] * train.shape[3])
        shape = tuple(images.shape[1:])
    for split in SPLITS:
        labels[split] = listing.labels[idx[split]]
    with atomic_path(out / "labels.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **labels)
    mean, std = stats
    doc = {
        "source": source,
        "description": listing.description,
        "classes": len(listing.classes),
        "class_names": list(listing.classes),
        "images": len(listing.labels),
        "splits": {s: int(sizes[s]) for s in SPLITS},
        "split_seed": split_seed,
        "indices_sha256": {
            s: hashlib.sha256(np.asarray(idx[s], np.int64).tobytes()).hexdigest() for s in SPLITS
        },
        "shape": list(shape),
        "mean": mean,
        "std": std,
        "encoding": encoding,
        "per_class": {c: int((listing.labels == i).sum()) for i, c in enumerate(listing.classes)},
    }
    atomic_write_json(out / "dataset.json", doc)
    log.info(
        "prepared %s: %s images of %s, %d classes -> %s",
        listing.description,
        "/".join(str(sizes[s]) for s in SPLITS),
        "x".join(map(str, shape)),
        len(listing.classes),
        out,
    )
    return doc


def _channel_sums(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = arr.astype(np.float64) / 255.0
    return x.sum(axis=(0, 2, 3)), (x * x).sum(axis=(0, 2, 3))


def _mean_std(sums: list[tuple[np.ndarray, np.ndarray]], pixels: int) -> tuple[list[float], list[float]]:
    s1 = sum(s for s, _ in sums)
    s2 = sum(q for _, q in sums)
    mean = s1 / pixels
    std = np.sqrt(np.maximum(s2 / pixels - mean**2, 1e-6))
    return [float(v) for v in mean], [float(v) for v in std]
