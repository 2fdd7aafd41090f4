"""The rules of the search space (rules/space.smk), one function each, under the rule's name."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gpunas.io import atomic_write_json
from gpunas.spaces import load_space

log = logging.getLogger(__name__)


def describe_space(space: str | Path, output: str | Path) -> dict[str, Any]:
    """Write the summary of ``space`` (fields, choices per field, cardinality) to ``output``."""
    sp = load_space(space)
    summary = sp.summary()
    atomic_write_json(output, summary)
    log.info("space %s: %d integers, %.3e candidates -> %s", sp.name, sp.dim, sp.cardinality(), output)
    return summary
