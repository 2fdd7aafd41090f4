"""The rules of the training data (rules/data.smk), one function each, under the rule's name.

``prepare_dataset`` is the library's :func:`gpunas.datasets.prepared.prepare` itself (no pass-through).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gpunas.datasets.images import PILLOW_MAX_PIXELS
from gpunas.datasets.loader import inspect_dataset
from gpunas.datasets.prepared import prepare as prepare_dataset
from gpunas.io import atomic_write_json

log = logging.getLogger(__name__)


def check_dataset(
    source: str, classes: int, output: str | Path, max_image_pixels: int | None = PILLOW_MAX_PIXELS
) -> dict[str, Any]:
    """The data exists, has >= 2 classes (hidden folders are none), as many as the config's
    ``classes``, and no image over ``max_image_pixels``: checked before profiling and training, by
    listing and reading headers (nothing is decoded). The check counts the images of each mode
    (and what is done with each) and the dangling links it skipped.

    Not at DAG-build time, so a dry-run of a real-scale config works on a machine without the data.
    """
    doc = inspect_dataset(source, classes, max_image_pixels)
    atomic_write_json(output, doc)
    log.info("dataset %s: %d classes, %d images", doc["description"], doc["classes"], doc["images"])
    return doc


__all__ = ["check_dataset", "prepare_dataset"]
