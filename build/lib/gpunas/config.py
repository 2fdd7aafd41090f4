"""The workflow's config as gpunas checks it: its JSON schema (package data) and the checks a
schema cannot express, all before any job starts, each failing with one line."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from gpunas.evaluators import Evaluator, create_evaluator
from gpunas.io import check_writable_dir
from gpunas.latency.partition import check_spec
from gpunas.spaces import load_space
from gpunas.spaces.base import Space
from gpunas.training.budget import check_requests


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
