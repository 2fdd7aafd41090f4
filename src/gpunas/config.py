"""The workflow's config as gpunas checks it: its JSON schema (package data) and the checks a
schema cannot express, all before any job starts, each failing with one line."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

from gpunas.evaluators import Evaluator, create_evaluator
from gpunas.io import check_writable_dir
from gpunas.latency.partition import check_spec
from gpunas.spaces import load_space
from gpunas.spaces.base import Space
from gpunas.training.budget import check_requests

log = logging.getLogger(__name__)
# Config values that are paths a relative value of which may name a file of the workflow itself
# (a recorded benchmark, the shared data table, a space file) rather than of the run directory.
PATH_KEYS = (
    ("space",),
    ("data", "source"),
    ("evaluator", "csv"),
    ("report", "strategy_benchmark"),
    ("report", "proxy_validity"),
)


def schema_path() -> str:
    """Path of the config's JSON schema (``gpunas/data/config.schema.yaml``)."""
    return str(resources.files("gpunas.data").joinpath("config.schema.yaml"))


def check_config(config: dict[str, Any], results: str | Path = "results") -> tuple[Space, Evaluator]:
    """The space and evaluator of a schema-valid config, after the checks the schema cannot make:
    budgets, a space the evaluator can score, memory and time requests that fit what the data
    pipeline needs (:mod:`gpunas.training.budget`), a writable results folder."""
    check_spec(config["subspaces"])
    space = load_space(config["space"])
    evaluator = create_evaluator(config["evaluator"])
    evaluator.check_space(space)
    if evaluator.trains:
        check_requests(config, space)
    check_writable_dir(results)
    return space, evaluator


def resolve_paths(config: dict[str, Any], basedir: str | Path, workdir: str | Path = ".") -> dict[str, str]:
    """Make the relative paths of :data:`PATH_KEYS` resolve the same from any working directory.

    A relative path that exists under ``workdir`` (the run directory, Snakemake's ``-d``) is kept
    as it is; one that exists only under ``basedir`` (the workflow's own directory, where the
    Snakefile of ``-s`` lives) is replaced, in ``config``, by that absolute path. Anything else
    is left for the checks that name it. Returns ``{"data.source": new path, ...}`` of what changed.
    """
    changed = {}
    for keys in PATH_KEYS:
        parent = config
        for k in keys[:-1]:
            parent = parent.get(k) or {}
        value = parent.get(keys[-1]) if isinstance(parent, dict) else None
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            continue
        if (Path(workdir) / value).exists():
            continue
        candidate = (Path(basedir) / value).resolve()
        if candidate.exists():
            parent[keys[-1]] = str(candidate)
            changed[".".join(keys)] = str(candidate)
            log.info("%s: %r resolved from the workflow's directory: %s", ".".join(keys), value, candidate)
    return changed
