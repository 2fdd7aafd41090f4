"""The functions behind the workflow's rules, one module per ``rules/<stage>.smk``.

``gpunas.steps.<stage>.<rule>`` is the function of rule ``<rule>`` of ``rules/<stage>.smk``;
``workflow_scripts/<rule>.py`` calls it through :func:`run_step` with explicit arguments. Nothing
else lives in these modules, and no library module of gpunas imports them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpunas.errors import GpunasError, InfrastructureError

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


def run_step(logfile: str | Path, func: Callable[..., Any], **kwargs: Any) -> Any:
    """Run one rule's function with logging to ``logfile``.

    Bad input (:class:`~gpunas.errors.GpunasError`, a missing backend included) ends the job with
    a one-line error, in the log and on the job's stderr, and exit status 1; so does a failure of
    the job's machine or scheduler (:class:`~gpunas.errors.InfrastructureError`: a missing GPU, an
    interruption), which the scheduler retries. Any other exception is a bug and keeps its full
    traceback in the log.
    """
    original_stderr = sys.stderr
    setup_logging(logfile)
    try:
        return func(**kwargs)
    except GpunasError as exc:
        message = f"{func.__name__}: error: {exc}"
        log.error(message)
        original_stderr.write(message + "\n")
        sys.exit(1)
    except InfrastructureError as exc:
        message = f"{func.__name__}: job failed, not its candidate ({type(exc).__name__}): {exc}"
        log.error(message)
        original_stderr.write(message + "\n")
        sys.exit(1)
