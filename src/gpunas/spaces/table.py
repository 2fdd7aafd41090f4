"""Table spaces (``kind: table``): integer fields rendered to the architecture key of a table.

A table space file has ``kind: table``, a list of ``fields`` (name + choices) and a ``string``
template that turns a vector into the table's architecture key (e.g. NAS-Bench-201's cell
string). The search code is the same as for CNN spaces: it only needs the :class:`Space`
interface; the ``table`` evaluator (:mod:`gpunas.evaluators.table`) looks the keys up.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from gpunas.errors import GpunasError
from gpunas.spaces.base import Field, Space


class TableSpace(Space):
    """Integer vectors over named fields, rendered to a string by a template."""

    kind = "table"

    def __init__(self, data: dict[str, Any], source: str = "<dict>") -> None:
        for key in ("name", "fields", "string"):
            if key not in data:
                raise GpunasError(f"{source}: table space needs '{key}'")
        self.source, self.data, self.name = source, data, data["name"]
        fields = []
        for i, f in enumerate(data["fields"]):
            if not isinstance(f, dict) or "name" not in f or not f.get("choices"):
                raise GpunasError(f"{source}: fields[{i}] needs a name and a non-empty choice list")
            choices = tuple(f["choices"])
            if any(isinstance(c, bool) or not isinstance(c, (str, int, float)) for c in choices):
                raise GpunasError(f"{source}: fields[{i}] ({f['name']}): choices must be strings or numbers")
            if len({str(c) for c in choices}) != len(choices):
                raise GpunasError(f"{source}: fields[{i}] ({f['name']}): choices repeat")
            # numbers stay numbers: the search treats them as ordered (8 < 16 < 32 channels)
            fields.append(Field(str(f["name"]), choices))
        self.fields = tuple(fields)
        self.template: str = data["string"]
        names = set(re.findall(r"{(\w+)}", self.template))
        if names != {f.name for f in self.fields}:
            raise GpunasError(f"{source}: string template names {sorted(names)} differ from the fields")
        self._pattern = re.compile(
            "^"
            + re.sub(r"\\{(\w+)\\}", lambda m: f"(?P<{m.group(1)}>[^|~+]+)", re.escape(self.template))
            + "$"
        )

    def cardinality(self) -> int:
        return int(np.prod(self.sizes))

    def describe(self, vector: Any) -> str:
        """The table's architecture key of a vector."""
        return self.to_string(vector)

    def to_string(self, vector: Any) -> str:
        vec = self.check_vector(vector)
        return self.template.format(**{f.name: f.choices[v] for f, v in zip(self.fields, vec, strict=True)})

    def from_string(self, text: str) -> list[int]:
        m = self._pattern.match(text)
        if m is None:
            raise GpunasError(f"{text!r} does not match the template of space {self.name!r}")
        out = []
        for f in self.fields:
            rendered = [str(c) for c in f.choices]
            if m.group(f.name) not in rendered:
                raise GpunasError(
                    f"{text!r}: {f.name} = {m.group(f.name)!r} is not among the choices of space {self.name!r}"
                )
            out.append(rendered.index(m.group(f.name)))
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "table",
            "dim": self.dim,
            "cardinality": self.cardinality(),
            "fields": [
                {"index": i, "name": f.name, "size": f.size, "choices": list(f.choices)}
                for i, f in enumerate(self.fields)
            ],
        }
