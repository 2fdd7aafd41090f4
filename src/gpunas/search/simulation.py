"""A discrete-event simulation of the search's two DAG policies on a cluster of GPUs (issue 21).

The policies are the workflow's (rules/search.smk):

- ``sync``: round r of every band is proposed once every band's round r - 1 has finished (the
  shared surrogate reads every band's history), then the round's ``bands x per_band`` trainings
  start together; the round lasts as long as its slowest training.
- ``async``: ``in_flight`` chains shared by the bands (``search.in_flight``; by default one per
  GPU); a chain's next trial is proposed as soon as its previous training has finished, one
  proposal at a time on the driver (the workflow's file lock), in the band with the most work left
  (:func:`gpunas.search.asynchronous.choose_band`, the workflow's own rule), and submitted at once.
  With more chains than GPUs the surplus trainings wait in the scheduler's queue, already
  proposed, and start the moment a GPU frees (first come, first served).

The clock is simulated: trainings take the seconds of ``work`` (what a candidate's training costs)
plus the per-job overheads of :class:`Overheads`, which ``benchmarks/bench_cluster.py`` measures on
the real (test) Slurm cluster. Every training holds one GPU from its start to its end, so
utilisation is busy GPU-seconds (start-up included, as ``sacct``'s elapsed time counts it) over
GPUs x the search's span (first start to last end).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Overheads:
    """Per-job costs of the workflow on a cluster, in seconds (each >= 0).

    - ``detect_s``: a training's end until its chain's next proposal may start (the driver's status
      polling and the proposal script's start-up; async);
    - ``propose_s``: one asynchronous proposal under the lock (proposals queue for it);
    - ``round_s``: sync: the round's last end until the next round's trainings are submitted
      (status polling, recording every band's results, proposing every band's next round);
    - ``queue_s``: a submission until its job starts (GPUs are free: the scheduler's latency);
    - ``job_s``: a job's start until its training starts (two snakemake processes; the GPU is held).
    """

    detect_s: float
    propose_s: float
    round_s: float
    queue_s: float
    job_s: float

    def __post_init__(self) -> None:
        for key, value in asdict(self).items():
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"Overheads.{key}: {value!r} is not a number of seconds >= 0")


Chooser = Callable[[np.ndarray, np.ndarray, np.ndarray], "int | None"]


def simulate(
    mode: str,
    work: np.ndarray,
    overheads: Overheads,
    choose: Chooser | None = None,
    gpus: int | None = None,
    in_flight: int | None = None,
    init: int = 0,
) -> dict[str, Any]:
    """Run ``mode`` (``sync`` or ``async``) over ``work`` and return its figures.

    ``work``: seconds of each training, shape (bands, per_band, trials): sync reads
    ``work[b, slot, round]``; async takes band b's in the order ``work[b].ravel()`` whenever it
    chooses band b, so both modes train the same candidates. ``gpus``: the cluster's GPUs (default
    ``bands x per_band``, a sync round's trainings); ``in_flight``: async's chains (default
    ``gpus``; each runs :func:`gpunas.search.asynchronous.trials_per_chain` trials, as in the
    workflow); a training waits in the queue while every GPU is busy. Returns ``mode``, ``gpus``,
    ``in_flight``, ``trainings``, ``wall_s`` (first start to last end), ``busy_gpu_s``,
    ``utilisation`` (busy / (gpus x wall)), ``work_utilisation`` (training work alone over the
    same), ``proposer_busy`` (async: fraction of the wall the proposer was busy). ``choose``:
    async's band rule, called as :func:`gpunas.search.asynchronous.choose_band` (the default, the
    workflow's, with each band's initial design of ``init`` trials first). Raises ValueError for
    an unknown mode, a ``work`` that is not a 3-d array of seconds >= 0, or ``gpus`` or
    ``in_flight`` < 1."""
    work = np.asarray(work, dtype=float)
    if work.ndim != 3 or work.size == 0 or not np.isfinite(work).all() or (work < 0).any():
        raise ValueError(f"work: shape {work.shape}: expected (bands, per_band, trials) seconds >= 0")
    bands, per_band, _ = work.shape
    gpus = bands * per_band if gpus is None else gpus
    in_flight = gpus if in_flight is None else in_flight
    for key, value in (("gpus", gpus), ("in_flight", in_flight)):
        if int(value) != value or value < 1:
            raise ValueError(f"{key}: {value!r} is not a whole number >= 1")
    pool = _Gpus(int(gpus))
    if mode == "sync":
        starts, ends, proposer = _sync(work, overheads, pool)
        in_flight = bands * per_band
    elif mode == "async":
        starts, ends, proposer = _async(work, overheads, choose, pool, int(in_flight), init)
    else:
        raise ValueError(f"mode {mode!r}: expected 'sync' or 'async'")
    wall = float(ends.max() - starts.min())
    busy = float((ends - starts).sum())
    return {
        "mode": mode,
        "gpus": int(gpus),
        "in_flight": int(in_flight),
        "trainings": int(work.size),
        "wall_s": wall,
        "busy_gpu_s": busy,
        "utilisation": busy / (gpus * wall) if wall > 0 else 1.0,
        "work_utilisation": float(work.sum()) / (gpus * wall) if wall > 0 else 1.0,
        "proposer_busy": proposer / wall if wall > 0 else 0.0,
    }


class _Gpus:
    """The cluster's GPUs: a submitted training starts on the first to free (first come, first
    served; submissions arrive in time order)."""

    def __init__(self, n: int) -> None:
        self.free = [0.0] * n

    def start(self, ready: float) -> float:
        return max(ready, heapq.heappop(self.free))

    def release(self, end: float) -> None:
        heapq.heappush(self.free, end)


def _sync(work: np.ndarray, oh: Overheads, pool: _Gpus) -> tuple[np.ndarray, np.ndarray, float]:
    starts = np.empty_like(work)
    ends = np.empty_like(work)
    submit = 0.0
    for r in range(work.shape[2]):
        for b, slot in np.ndindex(work.shape[:2]):
            starts[b, slot, r] = pool.start(submit + oh.queue_s)
            ends[b, slot, r] = starts[b, slot, r] + oh.job_s + work[b, slot, r]
            pool.release(float(ends[b, slot, r]))
        submit = float(ends[:, :, r].max()) + oh.round_s
    return starts, ends, 0.0


def _async(
    work: np.ndarray, oh: Overheads, choose: Chooser | None, pool: _Gpus, in_flight: int, init: int
) -> tuple[np.ndarray, np.ndarray, float]:
    from gpunas.search.asynchronous import choose_band, trials_per_chain

    choose = choose or partial(choose_band, init=init)
    bands = work.shape[0]
    flat = work.reshape(bands, -1)  # band b's candidates, in the order it proposes them
    per_chain = trials_per_chain(work.size, in_flight)
    budgets = np.full(bands, flat.shape[1])
    costs = flat.mean(axis=1) + oh.job_s  # what the workflow estimates by the band's latency
    started = np.zeros(bands, dtype=int)
    starts = np.empty_like(flat)
    ends = np.empty_like(flat)
    # proposals wait for the lock in the order they became ready (every chain's first at 0)
    ready = [(0.0, k, 0) for k in range(len(per_chain))]
    heapq.heapify(ready)
    free = 0.0
    while ready:
        at, k, t = heapq.heappop(ready)
        free = max(at, free) + oh.propose_s
        b = choose(budgets, started, costs)
        if b is None:  # every band has run its trials
            continue
        i = started[b]
        started[b] += 1
        starts[b, i] = pool.start(free + oh.queue_s)
        ends[b, i] = starts[b, i] + oh.job_s + flat[b, i]
        pool.release(float(ends[b, i]))
        if t + 1 < per_chain[k]:
            heapq.heappush(ready, (float(ends[b, i]) + oh.detect_s, k, t + 1))
    return starts, ends, work.size * oh.propose_s
