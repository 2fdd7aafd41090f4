"""Search spaces as data: CNN spaces (``kind: cnn``, the default) and table spaces (``kind: table``).

A space is a YAML file. By name, ``load_space`` looks in ``config/spaces/`` of the working
directory first (your own spaces), then in the spaces shipped with gpunas
(``gpunas/data/spaces``: ``gpunet``, ``tiny``, ``nasbench201``); a path names a file directly.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gpunas.errors import GpunasError
from gpunas.spaces.base import Field, Space
from gpunas.spaces.cnn import SearchSpace
from gpunas.spaces.table import TableSpace

__all__ = ["KINDS", "Field", "SearchSpace", "Space", "TableSpace", "load_space", "space_search_path"]

# space kinds by the value of a file's `kind` key
KINDS: dict[str, type[Space]] = {"cnn": SearchSpace, "table": TableSpace}


def space_search_path() -> list[Path]:
    """Folders searched for a space given by name: the working directory's, then gpunas's own."""
    return [Path.cwd() / "config" / "spaces", Path(str(resources.files("gpunas.data").joinpath("spaces")))]


def _display(path: Path) -> str:
    """A path relative to the working directory when below it (portable summaries)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_space(name_or_path: str | Path) -> Any:
    """Load a space by path, or by name (``config/spaces/`` of the working directory, then gpunas's)."""
    path = Path(name_or_path)
    candidates = [path] if path.suffix in (".yaml", ".yml") or path.exists() else []
    candidates += [d / f"{name_or_path}.yaml" for d in space_search_path()]
    for cand in candidates:
        if cand.is_file():
            try:
                data = yaml.safe_load(cand.read_text())
            except yaml.YAMLError as exc:
                raise GpunasError(f"{cand}: not valid YAML: {exc}".splitlines()[0]) from exc
            kind = data.get("kind", "cnn") if isinstance(data, dict) else "cnn"
            if kind not in KINDS:
                raise GpunasError(f"{cand}: kind {kind!r} is not one of {sorted(KINDS)}")
            return KINDS[kind](data, source=_display(cand))
    raise GpunasError(
        f"search space {str(name_or_path)!r} not found (looked in: {', '.join(map(str, candidates))})"
    )
