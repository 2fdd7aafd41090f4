"""The project's exception for bad input from the user.

:class:`GpunasError` means the input (a config key, a file, a record, an argument) is wrong, and
its message says which in one line: the CLI and the rules' scripts print that line and stop,
without a traceback. Any other exception is a bug or an environment failure and keeps its full
traceback (in the job's log). It subclasses :class:`ValueError`, so callers that catch bad
values keep working.
"""

from __future__ import annotations


class GpunasError(ValueError):
    """Bad input: a config key, file, record, value or argument; the message names it in one line."""


class InfrastructureError(RuntimeError):
    """The job's machine or scheduler failed, not its input or its candidate: a missing GPU, an
    interruption (preemption, a time limit with attempts left), a training process that died.
    The job ends non-zero with the message in one line, records nothing, and the scheduler (Slurm's
    requeue, Snakemake's retry, a rerun) runs it again; a checkpoint, if any, is resumed."""
