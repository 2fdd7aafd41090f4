"""The rules of the training data (rules/data.smk), one function each, under the rule's name."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gpunas.datasets.loader import inspect_dataset
from gpunas.io import atomic_write_json

log = logging.getLogger(__name__)


def check_dataset(source: str, image_size: int, per_class: int, output: str | Path) -> dict[str, Any]:
    """The data exists, has >= 2 classes, and its images decode; before any training job.

    Not at DAG-build time, so a dry-run of a real-scale config works on a machine without the data.
    """
    doc = inspect_dataset(source, image_size, per_class)
    atomic_write_json(output, doc)
    log.info("dataset %s: %d classes, %d images", doc["description"], doc["classes"], doc["images"])
    return doc
