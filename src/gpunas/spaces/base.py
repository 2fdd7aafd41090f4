"""What every search space offers the search: integer vectors over named fields.

A candidate is an integer vector: for each :class:`Field`, the index of the chosen value in the
field's choice list. The search code (sampling, proposals, history) only needs this interface;
what a vector *means* (a CNN architecture, a key of a table) is the kind's business.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from gpunas.errors import GpunasError


@dataclass(frozen=True)
class Field:
    """One encoded integer: ``name`` (e.g. ``stage3.filters``) and its ordered choices."""

    name: str
    choices: tuple[Any, ...]

    @property
    def size(self) -> int:
        return len(self.choices)

    @property
    def numeric(self) -> bool:
        """Choices are numbers (kernel 3/5, 8/16/32 channels): their order means something."""
        return all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.choices)

    def describe(self) -> str:
        vals = list(self.choices)
        shown = f"{vals}" if len(vals) <= 8 else f"[{vals[0]}, {vals[1]}, ..., {vals[-1]}]"
        return f"index 0..{self.size - 1} (values {shown})"


class Space(ABC):
    """A search space: named fields, canonical vectors, a readable form of a vector."""

    kind: ClassVar[str]
    name: str
    source: str
    fields: tuple[Field, ...]

    @property
    def dim(self) -> int:
        return len(self.fields)

    @cached_property
    def sizes(self) -> np.ndarray:
        return np.array([f.size for f in self.fields], dtype=np.int64)

    @abstractmethod
    def cardinality(self) -> int:
        """Number of distinct candidates."""

    @abstractmethod
    def summary(self) -> dict[str, Any]:
        """Fields, choices and cardinality, as JSON-ready data."""

    @abstractmethod
    def describe(self, vector: Any) -> str:
        """The readable form of a vector (an arch string, a table key)."""

    def vanishing_groups(self) -> list[tuple[str, list[int]]]:
        """Groups of fields that can be absent together (name, field indices); none by default."""
        return []

    def absent(self, vectors: np.ndarray) -> np.ndarray:
        """Boolean array of the shape of ``vectors`` (n, dim): True where a field is not in effect."""
        return np.zeros(np.shape(np.atleast_2d(vectors)), dtype=bool)

    def canonicalize(self, vectors: np.ndarray) -> np.ndarray:
        """The canonical form of each row (one vector per distinct candidate)."""
        return np.array(vectors, copy=True)

    def check_vector(self, vector: Any) -> list[int]:
        """Validate a vector of choice indices; return it as a list of Python ints."""
        try:
            values = list(vector)
        except TypeError:
            raise GpunasError(f"encoding must be a sequence of {self.dim} integers, got {vector!r}") from None
        if len(values) != self.dim:
            raise GpunasError(
                f"encoding has length {len(values)}, space {self.name!r} needs {self.dim} integers"
            )
        out = []
        for i, (field, v) in enumerate(zip(self.fields, values, strict=True)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer, float, np.floating)):
                raise GpunasError(f"encoding[{i}] ({field.name}): {v!r} is not an integer")
            if isinstance(v, (float, np.floating)) and (math.isnan(v) or math.isinf(v) or v != int(v)):
                raise GpunasError(f"encoding[{i}] ({field.name}): {v!r} is not an integer")
            iv = int(v)
            if not 0 <= iv < field.size:
                raise GpunasError(
                    f"encoding[{i}] ({field.name}): {iv} out of range, allowed {field.describe()}"
                )
            out.append(iv)
        return out
