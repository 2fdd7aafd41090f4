"""Entry points of the workflow's rules: one function per rule, explicit arguments, no Snakemake."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpunas.io import atomic_write_json
from gpunas.space import load_space

log = logging.getLogger(__name__)


def setup_logging(logfile: str | Path) -> None:
    """Send logging and stderr (tracebacks included) of a rule's script to its log file."""
    Path(logfile).parent.mkdir(parents=True, exist_ok=True)
    stream = open(logfile, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def describe_space(space: str | Path, output: str | Path) -> dict:
    """Write the summary of ``space`` (fields, choices per field, cardinality) to ``output``."""
    sp = load_space(space)
    summary = sp.summary()
    atomic_write_json(output, summary)
    log.info("space %s: %d integers, %.3e architectures -> %s", sp.name, sp.dim, sp.cardinality(), output)
    return summary


def run_step(logfile: str | Path, func: Callable[..., Any], **kwargs: Any) -> Any:
    """Run one rule's function with logging to ``logfile``.

    Bad input and a missing backend end the job with a one-line error (in the log and on the
    job's stderr) and exit status 1; anything else keeps its full traceback.
    """
    from gpunas.latency.backends import BackendUnavailableError

    original_stderr = sys.stderr
    setup_logging(logfile)
    try:
        return func(**kwargs)
    except (ValueError, BackendUnavailableError) as exc:
        message = f"{func.__name__}: error: {exc}"
        log.error(message)
        original_stderr.write(message + "\n")
        sys.exit(1)
