"""One measurement protocol for every backend and for layers and networks alike.

For each of ``repeats`` rounds, the items are shuffled and each is run ``warmup`` times, then
timed ``runs`` times; the round's value is the median of those runs. An item's latency is the
median over rounds (interleaving spreads slow phases of a shared machine over all items), and
its dispersion is recorded as the median absolute deviation and the coefficient of variation of
the round medians. Items are prepared in chunks so that at most ``chunk`` runners are alive.

``pause_s`` (default 0) sleeps between rounds, so that the rounds spread over a longer time and a
burst of other work on the machine reaches fewer of them (the validation uses it): the median over
rounds resists a burst that reaches fewer than half of them.

Noise is acted on: an item whose coefficient of variation exceeds ``max_cv`` is measured again
(``repeats`` more rounds, at most ``remeasure`` times) and its statistics are taken over all its
rounds; an item still above ``max_cv`` after that is flagged ``noisy``, and :func:`noise_summary`
says how much of a table is.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.io import atomic_write_json, atomic_write_with
from gpunas.latency.backends import Runner

log = logging.getLogger(__name__)


class ChunkStore:
    """The finished chunks of one measuring job: ``<folder>/chunk_<i>.npy`` (round medians, ms).

    Lifecycle: created by the job (``profile_layers``: ``results/lut/<device>/shards/<shard>.parts/``);
    one file per finished chunk, written atomically; read back when the same job runs again with
    the same items and protocol (a ``protocol.json`` beside them says which); removed by the job
    once its output is written. A different protocol or item list starts it anew.
    """

    def __init__(self, folder: str | Path, items_key: str) -> None:
        self.folder = Path(folder)
        self.items_key = items_key

    def _stamp(self, protocol: Protocol) -> dict[str, Any]:
        return {"items": self.items_key, **protocol.as_dict(), "seed": protocol.seed}

    def load(self, protocol: Protocol) -> dict[int, np.ndarray]:
        stamp = self.folder / "protocol.json"
        if not stamp.exists() or json.loads(stamp.read_text()) != self._stamp(protocol):
            self.clear()
            return {}
        return {int(p.stem.split("_")[1]): np.load(p) for p in self.folder.glob("chunk_*.npy")}

    def save(self, chunk: int, medians: np.ndarray, protocol: Protocol) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.folder / "protocol.json", self._stamp(protocol))
        atomic_write_with(self.folder / f"chunk_{chunk:05d}.npy", lambda tmp: np.save(tmp, medians))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class Protocol:
    repeats: int = 5
    warmup: int = 5
    runs: int = 20
    chunk: int = 256
    seed: int = 0
    max_cv: float = 0.10  # re-measure an item whose CV of round medians exceeds this
    remeasure: int = 2  # at most this many extra passes of `repeats` rounds
    pause_s: float = 0.0  # seconds of sleep between rounds (spreads them over time)

    def __post_init__(self) -> None:
        for name in ("repeats", "warmup", "runs", "chunk"):
            if getattr(self, name) < (0 if name == "warmup" else 1):
                raise GpunasError(f"protocol.{name} must be positive, got {getattr(self, name)}")
        if self.pause_s < 0:
            raise GpunasError(f"protocol.pause_s must be >= 0, got {self.pause_s}")
        if self.repeats < 5:
            raise GpunasError(f"protocol.repeats must be >= 5 (interleaved medians), got {self.repeats}")

    def as_dict(self) -> dict[str, Any]:
        """What defines a measurement (the chunk size does not; a pause only when there is one, so
        the tables measured before it existed stay comparable)."""
        out = {
            "repeats": self.repeats,
            "warmup": self.warmup,
            "runs": self.runs,
            "max_cv": self.max_cv,
            "remeasure": self.remeasure,
        }
        return out | ({"pause_s": self.pause_s} if self.pause_s else {})


# the columns ``measure`` returns, also when it had nothing to measure
STATS_COLUMNS = {
    "latency_ms": float,
    "mad_ms": float,
    "cv": float,
    "min_ms": float,
    "repeats": int,
    "remeasured": int,
    "noisy": bool,
}


def _interleaved(
    idx: Sequence[int],
    items: Sequence[Any],
    prepare: Callable[[Any], Runner],
    protocol: Protocol,
    rng: np.random.Generator,
) -> dict[int, list[float]]:
    """``protocol.repeats`` rounds over ``idx``, each in a fresh random order: per item, the median of
    ``runs`` timed executions after ``warmup`` untimed ones, once a round."""
    runners = {int(i): prepare(items[int(i)]) for i in idx}
    medians: dict[int, list[float]] = {int(i): [] for i in idx}
    for r in range(protocol.repeats):
        if r and protocol.pause_s:
            time.sleep(protocol.pause_s)
        for i in rng.permutation(np.asarray(idx)):
            medians[int(i)].append(float(np.median(runners[int(i)].time(protocol.runs, protocol.warmup))))
    return medians


def _first_pass(
    items: Sequence[Any],
    prepare: Callable[[Any], Runner],
    protocol: Protocol,
    label: str,
    chunks: ChunkStore | None,
) -> np.ndarray:
    """n x repeats round medians, chunk by chunk; finished chunks are kept in ``chunks`` and reused."""
    n = len(items)
    rounds = np.full((n, protocol.repeats), np.nan)
    finished = chunks.load(protocol) if chunks is not None else {}
    started = last = time.monotonic()
    for c, lo in enumerate(range(0, n, protocol.chunk)):
        idx = np.arange(lo, min(n, lo + protocol.chunk))
        if c in finished and finished[c].shape == (len(idx), protocol.repeats):
            rounds[idx] = finished[c]
            log.info("chunk %d of %s: resumed from %s", c, label, chunks.folder if chunks else "")
            continue
        medians = _interleaved(idx, items, prepare, protocol, np.random.default_rng([protocol.seed, c]))
        rounds[idx] = np.array([medians[int(i)] for i in idx])
        if chunks is not None:
            chunks.save(c, rounds[idx], protocol)
        done, now = idx[-1] + 1, time.monotonic()
        if now - last > 10 or done == n:
            log.info(
                "measured %d/%d %s (%.0f per minute)", done, n, label, done / max(now - started, 1e-9) * 60
            )
            last = now
    return rounds


def _remeasure(
    rounds: np.ndarray, items: Sequence[Any], prepare: Callable[[Any], Runner], protocol: Protocol, label: str
) -> tuple[dict[int, list[float]], np.ndarray]:
    """Extra passes of repeats for items whose CV stays above ``max_cv``: (extra medians, passes)."""
    n = len(items)
    extra: dict[int, list[float]] = {i: [] for i in range(n)}
    passes = np.zeros(n, dtype=np.int64)
    for p in range(protocol.remeasure):
        noisy = [i for i in range(n) if _cv(np.concatenate([rounds[i], extra[i]])) > protocol.max_cv]
        if not noisy:
            break
        log.info(
            "re-measuring %d of %d %s above CV %.2f (pass %d of %d)",
            len(noisy),
            n,
            label,
            protocol.max_cv,
            p + 1,
            protocol.remeasure,
        )
        rng = np.random.default_rng([protocol.seed, 10_000 + p])
        for lo in range(0, len(noisy), protocol.chunk):
            for i, medians in _interleaved(
                noisy[lo : lo + protocol.chunk], items, prepare, protocol, rng
            ).items():
                extra[i] += medians
        passes[noisy] += 1
    return extra, passes


def measure(
    items: Sequence[Any],
    prepare: Callable[[Any], Runner],
    protocol: Protocol,
    label: str = "items",
    chunks: ChunkStore | None = None,
    keep_rounds: bool = False,
) -> pd.DataFrame:
    """Latency statistics (ms) of ``items``, one row each, in the order given.

    ``chunks``: where each finished chunk's round medians are kept, so that a job cut off (a time
    limit, a kill) resumes from the chunks it finished instead of measuring them again.
    ``keep_rounds``: add a column ``rounds_ms``, each item's round medians (a list, ms), from
    which an interval of its median can be computed.
    """
    rounds = _first_pass(items, prepare, protocol, label, chunks)
    extra, passes = _remeasure(rounds, items, prepare, protocol, label)
    rows = []
    kept = []
    for i in range(len(items)):
        r = np.concatenate([rounds[i], extra[i]])
        kept.append([float(x) for x in r])
        med = float(np.median(r))
        rows.append(
            {
                "latency_ms": med,
                "mad_ms": float(np.median(np.abs(r - med))),
                "cv": _cv(r),
                "min_ms": float(r.min()),
                "repeats": len(r),
                "remeasured": int(passes[i]),
                "noisy": bool(_cv(r) > protocol.max_cv),
            }
        )
    stats = pd.DataFrame(rows, columns=list(STATS_COLUMNS)).astype(STATS_COLUMNS)
    if keep_rounds:
        stats["rounds_ms"] = pd.Series(kept, dtype=object)
    return stats


def _cv(rounds: np.ndarray) -> float:
    """Coefficient of variation of round medians (std / mean)."""
    mean = float(np.mean(rounds))
    return float(np.std(rounds) / mean) if mean > 0 else 0.0


def noise_summary(stats: pd.DataFrame, max_cv: float) -> dict[str, Any]:
    """How noisy a set of measurements is: median and 90th-percentile CV, the share still above
    ``max_cv`` after re-measuring, and ``noisy`` when more than 5% of the items are."""
    cv = stats["cv"].to_numpy(dtype=float)
    if len(cv) == 0:
        return {"items": 0, "noisy": False}
    above = float(np.mean(cv > max_cv))
    out = {
        "items": len(cv),
        "median_cv": float(np.median(cv)),
        "p90_cv": float(np.percentile(cv, 90)),
        "max_cv": max_cv,
        "share_above_max_cv": above,
        "remeasured": int((stats["remeasured"] > 0).sum()) if "remeasured" in stats else 0,
        "noisy": above > 0.05,
    }
    if out["noisy"]:
        out["message"] = (
            f"noisy measurements: {100 * above:.0f}% of {len(cv)} items stay above CV {max_cv:.2f} "
            "after re-measuring (other work on the machine?); predictions are less certain"
        )
    return out
