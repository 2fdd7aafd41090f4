"""The evaluator interface and registry (see :mod:`gpunas.evaluators`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from gpunas.errors import GpunasError
from gpunas.registry import Registry
from gpunas.spaces.base import Space

EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator")


class Evaluator(ABC):
    """Scores trials of one kind of space."""

    name: ClassVar[str]
    space_kind: ClassVar[str]  # the kind of space it can score
    measures: ClassVar[bool]  # latency is measured on the device (LUT, fidelity, validation)
    trains: ClassVar[bool]  # networks are trained (data, weights, hub models, baselines)

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = dict(cfg)

    def check_space(self, space: Space) -> None:
        """Refuse a space this evaluator cannot score, in one line."""
        if space.kind != self.space_kind:
            others = sorted(n for n, c in EVALUATORS.items() if c.space_kind == space.kind)
            raise GpunasError(
                f"evaluator.type {self.name!r} needs a {self.space_kind} space, but space {space.name!r} "
                f"({space.source}) is a {space.kind} space (use evaluator.type {', '.join(map(repr, others))})"
            )

    def candidates(self, space: Space, m: int, seed: int) -> np.ndarray | None:
        """The candidates of the search (shape (n, dim)) when the evaluator decides them (a table's
        rows), else None: ``2**m`` Sobol points of the space."""
        return None

    def latency(self, space: Space, vectors: np.ndarray) -> np.ndarray | None:
        """Latency (ms) of ``vectors`` when the evaluator knows it, else None (use the LUT)."""
        return None

    @abstractmethod
    def evaluate(self, space: Space, entry: dict[str, Any], job: Any) -> dict[str, Any]:
        """The result of one trial: ``status``, ``reason``, ``val_top1`` (percent) and details."""


def register_evaluator(name: str) -> Callable[[type[Evaluator]], type[Evaluator]]:
    def wrap(cls: type[Evaluator]) -> type[Evaluator]:
        cls.name = name
        return EVALUATORS.add(name, cls)

    return wrap


def evaluator_names() -> list[str]:
    return EVALUATORS.names()


def create_evaluator(cfg: dict[str, Any]) -> Evaluator:
    """The evaluator of an ``evaluator`` config section (``type`` names it); import
    :mod:`gpunas.evaluators` (not this module) so the built-in evaluators are registered."""
    return EVALUATORS.get(cfg.get("type", "train"), where="evaluator.type")(cfg)
