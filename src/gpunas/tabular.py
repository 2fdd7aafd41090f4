"""Tabular search research: a space of integer fields rendered to a string key, and an
evaluator that looks candidates up in a CSV (accuracy, latency) instead of training and profiling.

A table space file has ``kind: table``, a list of ``fields`` (name + choices) and a ``string``
template that turns a vector into the table's architecture key (e.g. NAS-Bench-201's cell
string). The search code is the same as for CNN spaces: it only needs ``dim``, ``sizes`` and
vectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.space import Field


class TableSpace:
    """Integer vectors over named fields, rendered to a string by a template."""

    def __init__(self, data: dict[str, Any], source: str = "<dict>") -> None:
        for key in ("name", "fields", "string"):
            if key not in data:
                raise ValueError(f"{source}: table space needs '{key}'")
        self.source, self.data, self.name = source, data, data["name"]
        fields = []
        for i, f in enumerate(data["fields"]):
            if not isinstance(f, dict) or "name" not in f or not f.get("choices"):
                raise ValueError(f"{source}: fields[{i}] needs a name and a non-empty choice list")
            fields.append(Field(str(f["name"]), tuple(str(c) for c in f["choices"])))
        self.fields = tuple(fields)
        self.template: str = data["string"]
        names = set(re.findall(r"{(\w+)}", self.template))
        if names != {f.name for f in self.fields}:
            raise ValueError(f"{source}: string template names {sorted(names)} differ from the fields")
        self.sizes = np.array([f.size for f in self.fields], dtype=np.int64)
        self._pattern = re.compile(
            "^"
            + re.sub(r"\\{(\w+)\\}", lambda m: f"(?P<{m.group(1)}>[^|~+]+)", re.escape(self.template))
            + "$"
        )

    @property
    def dim(self) -> int:
        return len(self.fields)

    def cardinality(self) -> int:
        return int(np.prod(self.sizes))

    def canonicalize(self, vectors: np.ndarray) -> np.ndarray:
        return np.array(vectors, copy=True)

    def check_vector(self, vector: Any) -> list[int]:
        values = list(vector)
        if len(values) != self.dim:
            raise ValueError(
                f"encoding has length {len(values)}, space {self.name!r} needs {self.dim} integers"
            )
        for i, (f, v) in enumerate(zip(self.fields, values, strict=True)):
            if not 0 <= int(v) < f.size or int(v) != v:
                raise ValueError(f"encoding[{i}] ({f.name}): {v!r} out of range, allowed {f.describe()}")
        return [int(v) for v in values]

    def to_string(self, vector: Any) -> str:
        vec = self.check_vector(vector)
        return self.template.format(**{f.name: f.choices[v] for f, v in zip(self.fields, vec, strict=True)})

    def from_string(self, text: str) -> list[int]:
        m = self._pattern.match(text)
        if m is None:
            raise ValueError(f"{text!r} does not match the template of space {self.name!r}")
        try:
            return [f.choices.index(m.group(f.name)) for f in self.fields]
        except ValueError:
            raise ValueError(
                f"{text!r}: an operation is not among the choices of space {self.name!r}"
            ) from None

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "table", "dim": self.dim, "cardinality": self.cardinality(),
                "fields": [{"index": i, "name": f.name, "size": f.size, "choices": list(f.choices)}
                           for i, f in enumerate(self.fields)]}  # fmt: skip


@dataclass
class TableEvaluator:
    """Accuracy and latency of every architecture of a CSV, indexed by the space's vectors."""

    space: TableSpace
    vectors: np.ndarray
    accuracy: np.ndarray
    latency: np.ndarray
    keys: list[str]

    @classmethod
    def from_csv(
        cls, path: str | Path, space: TableSpace, key: str, accuracy: str, latency: str
    ) -> TableEvaluator:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"evaluator.csv: {path} does not exist")
        df = pd.read_csv(path)
        for col in (key, accuracy, latency):
            if col not in df.columns:
                raise ValueError(f"{path}: no column {col!r} (columns: {', '.join(df.columns[:8])}, ...)")
        vectors = np.array([space.from_string(s) for s in df[key]], dtype=np.int64)
        codes = vectors @ np.cumprod(np.r_[1, space.sizes[:-1]])
        if len(np.unique(codes)) != len(codes):
            raise ValueError(f"{path}: architecture keys repeat")
        return cls(
            space, vectors, df[accuracy].to_numpy(float), df[latency].to_numpy(float), df[key].tolist()
        )

    def rows_for(self, vectors: np.ndarray) -> np.ndarray:
        """Table rows of ``vectors`` (ValueError if one is not in the table)."""
        mult = np.cumprod(np.r_[1, self.space.sizes[:-1]])
        table = dict(zip((self.vectors @ mult).tolist(), range(len(self.vectors)), strict=True))
        try:
            return np.array([table[int(c)] for c in np.asarray(vectors) @ mult])
        except KeyError as exc:
            raise ValueError(f"architecture code {exc} is not in the table") from None


_EVALUATORS: dict[tuple[str, str, str, str], TableEvaluator] = {}


def cached_evaluator(space: TableSpace, evaluator: dict[str, Any]) -> TableEvaluator:
    """The CSV lookup of an ``evaluator: table`` config section, read once per process."""
    key = (evaluator["csv"], evaluator["key"], evaluator["accuracy"], evaluator["latency"])
    if key not in _EVALUATORS:
        _EVALUATORS[key] = TableEvaluator.from_csv(evaluator["csv"], space, *key[1:])
    return _EVALUATORS[key]
