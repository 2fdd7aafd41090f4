"""One measurement protocol for every backend and for layers and networks alike.

For each of ``repeats`` rounds, the items are shuffled and each is run ``warmup`` times, then
timed ``runs`` times; the round's value is the median of those runs. An item's latency is the
median over rounds (interleaving spreads slow phases of a shared machine over all items), and
its dispersion is recorded as the median absolute deviation and the coefficient of variation of
the round medians. Items are prepared in chunks so that at most ``chunk`` runners are alive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.latency.backends import Runner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Protocol:
    repeats: int = 5
    warmup: int = 5
    runs: int = 20
    chunk: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("repeats", "warmup", "runs", "chunk"):
            if getattr(self, name) < (0 if name == "warmup" else 1):
                raise GpunasError(f"protocol.{name} must be positive, got {getattr(self, name)}")
        if self.repeats < 5:
            raise GpunasError(f"protocol.repeats must be >= 5 (interleaved medians), got {self.repeats}")

    def as_dict(self) -> dict[str, int]:
        return {"repeats": self.repeats, "warmup": self.warmup, "runs": self.runs, "chunk": self.chunk}


def measure(
    items: Sequence[Any],
    prepare: Callable[[Any], Runner],
    protocol: Protocol,
    label: str = "items",
) -> pd.DataFrame:
    """Latency statistics (ms) of ``items``, one row each, in the order given."""
    rng = np.random.default_rng(protocol.seed)
    n = len(items)
    rounds = np.full((n, protocol.repeats), np.nan)
    started = time.monotonic()
    last = started
    for lo in range(0, n, protocol.chunk):
        idx = np.arange(lo, min(n, lo + protocol.chunk))
        runners = {int(i): prepare(items[i]) for i in idx}
        for r in range(protocol.repeats):
            for i in rng.permutation(idx):
                rounds[i, r] = float(np.median(runners[int(i)].time(protocol.runs, protocol.warmup)))
        del runners
        done = idx[-1] + 1
        now = time.monotonic()
        if now - last > 10 or done == n:
            rate = done / max(now - started, 1e-9) * 60
            log.info("measured %d/%d %s (%.0f per minute)", done, n, label, rate)
            last = now
    median = np.median(rounds, axis=1)
    mad = np.median(np.abs(rounds - median[:, None]), axis=1)
    mean = rounds.mean(axis=1)
    return pd.DataFrame(
        {
            "latency_ms": median,
            "mad_ms": mad,
            "cv": rounds.std(axis=1) / np.where(mean > 0, mean, 1.0),
            "min_ms": rounds.min(axis=1),
            "repeats": protocol.repeats,
        }
    )
