"""The workflow's config as gpunas checks it: its JSON schema (package data) and the checks a
schema cannot express, all before any job starts, each failing with one line."""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

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


def merge_settings(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base`` as a site edits a profile or config: mappings merged key by key
    (recursively), any other value replaced, ``None`` deleting the key. Returns a new dict."""
    out = dict(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_settings(out[key], value)
        else:
            out[key] = value
    return out


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


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _type_of(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return " \\| ".join(f"`{v}`" for v in spec["enum"])
    kind = spec.get("type", "object" if "properties" in spec else "")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(str(k) for k in kinds)
    bounds = [
        f"{op} {spec[k]}"
        for k, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="))
        if k in spec
    ]
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _default_of(spec: dict[str, Any]) -> str:
    if "default" not in spec:
        return ""
    value = spec["default"]
    return "`null`" if value is None else f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def reference_markdown(schema: dict[str, Any] | None = None) -> str:
    """The config reference (``config/README.md``, ``docs/config.md``) from the schema's
    descriptions: one table per top-level section, a row per key (dotted path, type, default,
    description). Regenerate with ``gpunas config reference``; a test keeps both files current."""
    if schema is None:
        schema = yaml.safe_load(Path(schema_path()).read_text())
    defs = schema.get("definitions", {})
    lines = [
        "# Configuration reference",
        "",
        "Generated from `src/gpunas/data/config.schema.yaml` by `gpunas config reference` (do not edit by",
        "hand). Every key is validated before any job starts; unknown keys are refused. The embedded",
        "default run's values, each with a comment on how to choose it, are in `config/config.yaml`;",
        "the real-scale and tabular presets in `config/presets/`.",
        "",
    ]
    top = [(k, v) for k, v in schema["properties"].items() if "properties" not in v]
    sections = [(k, v) for k, v in schema["properties"].items() if "properties" in v]
    lines += ["## Top level", "", "| key | type | default | description |", "|---|---|---|---|"]
    lines += [
        f"| `{k}` | {_type_of(v)} | {_default_of(v)} | {_cell(v.get('description', ''))} |" for k, v in top
    ]
    for name, section in sections:
        lines += ["", f"## `{name}`", ""]
        if section.get("description"):
            lines += [section["description"][0].upper() + section["description"][1:] + ".", ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for key, spec in _flatten(section, defs, name):
            lines.append(
                f"| `{key}` | {_type_of(spec)} | {_default_of(spec)} | {_cell(spec.get('description', ''))} |"
            )
    return "\n".join(lines) + "\n"


def _flatten(section: dict[str, Any], defs: dict[str, Any], prefix: str) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for key, spec in section.get("properties", {}).items():
        if "$ref" in spec:
            spec = {**defs[spec["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in spec.items() if k != "$ref"}}
        path = f"{prefix}.{key}"
        if "properties" in spec:
            rows.append((path, {**spec, "type": "object"}))
            rows += _flatten(spec, defs, path)
        else:
            rows.append((path, spec))
    return rows
