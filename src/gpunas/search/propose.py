"""Proposals inside one latency sub-space: Sobol initial design, then a strategy (BO, trust region,
random) whose model learns from the trials of every sub-space.

The optimiser has no state of its own: each round it is rebuilt from the histories (the trained
candidates and their accuracies) and the seed, so identical histories + seed give identical
proposals. The accuracy of an architecture does not depend on the latency band it falls in, so by
default (``search.surrogate: shared``) one surrogate is fitted to the finished trials of *all*
bands; the proposals are still drawn from the band's own pool of untrained members, so they stay
inside its budget. ``surrogate: band`` fits each band alone (for comparison).

Features (:class:`Featurizer`): a numeric or binary field is its choice index scaled to [0, 1]
(ordered: 8 < 16 < 32 channels, in CNN and table spaces alike); a field whose choices are names
with no order (NAS-Bench-201's operations) is one-hot; fields that share one such list of names
(NAS-Bench-201's six edges) also give how many of them take each name, times ``COUNT_WEIGHT``
(the cell's operation counts), so cells that use the same operations in other places are nearer
each other than the one-hot edges alone say; where a field is not in effect (the fields of a
vanished stage) it sits at the middle of its range and an explicit "stage present" feature says
so, instead of looking like the smallest choice. The loss is minus the accuracy in percent.

Strategies score a finite pool of in-band candidates with the acquisition function
(:mod:`gpunas.search.surrogate`), which is far cheaper than a continuous acquisition optimiser in
41 integer dimensions. A batch is filled with the constant-liar rule (Ginsbourger et al., 2010):
after each pick the surrogate is conditioned on the pick with the best observed loss, keeping its
hyperparameters and normalisation. Failed trials are never shown to the model, and no trained
candidate is proposed again. Random streams derive from ``numpy.random.SeedSequence((seed, band,
round))``, so no two (seed, band, round) share one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.registry import Registry
from gpunas.search.surrogate import Surrogate
from gpunas.spaces.base import Space

log = logging.getLogger(__name__)
Proposer = Callable[..., tuple[list[int], dict[str, Any]]]
PROPOSERS: Registry[Proposer] = Registry("search strategy")
SURROGATES = ("shared", "band")


register_proposer = PROPOSERS.register


@dataclass(frozen=True)
class SearchConfig:
    """The ``search`` config keys that change proposals (see the config schema for each)."""

    strategy: str = "trust_region"
    surrogate: str = "shared"
    acquisition: str = "EI"
    xi: float = 0.01
    kappa: float = 1.96
    init_rounds: int = 1
    pool: int = 2048
    min_points: int = 3
    restarts: int = 2
    ard_points_per_dim: float = 2.0
    max_fit_points: int = 100
    trust_fraction: float = 0.05
    trust_centers: int = 2

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchConfig:
        cfg = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
        PROPOSERS.get(cfg.strategy, where="search.strategy")
        if cfg.surrogate not in SURROGATES:
            raise GpunasError(f"search.surrogate: {cfg.surrogate!r} is not one of {list(SURROGATES)}")
        if cfg.acquisition not in ("EI", "LCB", "PI"):
            raise GpunasError(f"search.acquisition: {cfg.acquisition!r} is not one of ['EI', 'LCB', 'PI']")
        if not 0 < cfg.trust_fraction <= 1:
            raise GpunasError(f"search.trust_fraction: {cfg.trust_fraction} is not in (0, 1]")
        return cfg


def encode_key(vector: np.ndarray) -> str:
    return ",".join(str(int(v)) for v in vector)


def rows_in(vectors: np.ndarray, keys: list[str]) -> np.ndarray:
    """Which rows of ``vectors`` (shape (n, dim), integers) are among ``keys`` (encoded with
    :func:`encode_key`): a boolean mask of shape (n,). Rows are matched by a 64-bit hash, then
    every hash match is checked exactly, so a collision never hides a row (vectorised: a band of
    175k members against 1,200 trials takes milliseconds, where encoding every row took seconds).
    """
    vectors = np.asarray(vectors, dtype=np.int64)
    mask = np.zeros(len(vectors), dtype=bool)
    wanted = {k for k in keys if k.count(",") == vectors.shape[1] - 1} if vectors.ndim == 2 else set()
    if not wanted or len(vectors) == 0:
        return mask
    coef = np.random.default_rng(0).integers(1, 2**62, size=vectors.shape[1], dtype=np.int64) | 1
    with np.errstate(over="ignore"):
        hashed = (vectors.astype(np.uint64) * coef.astype(np.uint64)).sum(axis=1, dtype=np.uint64)
        targets = np.array([decode_key(k) for k in wanted], dtype=np.int64)
        target_hash = (targets.astype(np.uint64) * coef.astype(np.uint64)).sum(axis=1, dtype=np.uint64)
    for i in np.flatnonzero(np.isin(hashed, target_hash)):
        mask[i] = encode_key(vectors[i]) in wanted
    return mask


def decode_key(text: str) -> list[int]:
    return [int(v) for v in text.split(",")] if text else []


def round_streams(seed: int, band: int, round_: int) -> tuple[np.random.Generator, int]:
    """(generator for picks, integer seed for the GP optimiser) of one band's round.

    Both derive from ``SeedSequence((seed, band, round_))``: distinct tuples give independent
    streams (unlike ``seed + k * band``, where (k, 0) and (0, 1) coincide).
    """
    if min(seed, band, round_) < 0:
        raise GpunasError(f"seed, band and round must be >= 0, got {(seed, band, round_)}")
    picks, gp = np.random.SeedSequence([seed, band, round_]).spawn(2)
    return np.random.default_rng(picks), int(gp.generate_state(1)[0])


def categorical_fields(space: Space) -> np.ndarray:
    """Fields whose choices are names with no order (more than two, not all numbers): one-hot."""
    return np.array([f.size > 2 and not f.numeric for f in space.fields], dtype=bool)


# Weight of the operation counts against the one-hot columns (moving one edge to another operation
# moves the one-hot block by 2 in L1 and the counts by 2 * COUNT_WEIGHT). Chosen on NAS-Bench-201's
# sparse table with held-out search seeds 20-39 (1/6, 1/2 and 1 tried;
# benchmarks/results/tabular_features_heldout.json).
COUNT_WEIGHT = 0.5


def shared_name_lists(space: Space) -> list[list[int]]:
    """Indices of the one-hot fields that share one list of names, per list used by 2+ fields."""
    lists: dict[tuple[Any, ...], list[int]] = {}
    for j, (field, cat) in enumerate(zip(space.fields, categorical_fields(space), strict=True)):
        if cat:
            lists.setdefault(field.choices, []).append(j)
    return [idx for idx in lists.values() if len(idx) > 1]


class Featurizer:
    """Feature rows of a space's vectors: shape (n, width), values in [0, 1] except the operation
    counts (0 .. COUNT_WEIGHT x the number of fields sharing the names) (module docstring)."""

    def __init__(self, space: Space) -> None:
        self.sizes = np.asarray(space.sizes)
        self.categorical = categorical_fields(space)
        self.groups = space.vanishing_groups()
        self.shared = shared_name_lists(space)
        self.space = space
        self.width = (
            int(np.where(self.categorical, self.sizes, 1).sum())
            + len(self.groups)
            + sum(int(self.sizes[idx[0]]) for idx in self.shared)
        )

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.int64))
        if vectors.shape[1] != len(self.sizes):
            raise GpunasError(
                f"vectors have {vectors.shape[1]} fields, space {self.space.name!r} has {len(self.sizes)}"
            )
        absent = self.space.absent(vectors)
        cols = []
        for j, (size, cat) in enumerate(zip(self.sizes, self.categorical, strict=True)):
            if cat:
                block = np.eye(size)[vectors[:, j]]
                block[absent[:, j]] = 0.0
            else:
                block = (vectors[:, j : j + 1] / max(size - 1, 1)).astype(np.float64)
                block[absent[:, j]] = 0.5
            cols.append(block)
        for _, idx in self.groups:  # 1 where the group's fields are in effect
            cols.append((~absent[:, idx].any(axis=1)).astype(np.float64)[:, None])
        for idx in self.shared:  # how many of the fields take each name (absent fields: none)
            size = int(self.sizes[idx[0]])
            cols.append(COUNT_WEIGHT * sum(np.eye(size)[vectors[:, j]] * ~absent[:, j : j + 1] for j in idx))
        return np.hstack(cols) if cols else np.empty((len(vectors), 0))


def _fit(
    done_x: np.ndarray,
    done_y: np.ndarray,
    cfg: SearchConfig,
    gp_seed: int,
    hyperparameters: dict[str, Any] | None = None,
) -> Surrogate:
    """The GP on the finished trials: ``hyperparameters`` (an earlier fit's record) conditioned on
    them when given and valid for them, else fitted anew."""
    if hyperparameters is not None:
        model = Surrogate.with_hyperparameters(done_x, done_y, hyperparameters)
        if model is not None:
            return model
    return Surrogate.fitted(
        done_x,
        done_y,
        seed=gp_seed,
        restarts=cfg.restarts,
        ard_points_per_dim=cfg.ard_points_per_dim,
        max_fit_points=cfg.max_fit_points,
    )


@register_proposer("random")
def propose_random(
    available: np.ndarray, n: int, *, rng: np.random.Generator, **_: Any
) -> tuple[list[int], dict[str, Any]]:
    """Uniformly random members of the pool (the baseline)."""
    return rng.choice(available, size=min(n, len(available)), replace=False).tolist(), {}


@register_proposer("bo")
def propose_bo(
    available: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator,
    pool_x: np.ndarray,
    done_x: np.ndarray,
    done_y: np.ndarray,
    cfg: SearchConfig,
    gp_seed: int,
    hyperparameters: dict[str, Any] | None = None,
    **_: Any,
) -> tuple[list[int], dict[str, Any]]:
    """GP + acquisition over (a random subset of) ``available``, batch by constant liar;
    ``hyperparameters``: an earlier fit's to reuse (:func:`_fit`)."""
    if len(done_y) < cfg.min_points:
        log.info("only %d successful trials (< %d): random proposals this round", len(done_y), cfg.min_points)
        return propose_random(available, n, rng=rng)[0], {"fallback": "random (too few trials)"}
    scored = available if len(available) <= cfg.pool else rng.choice(available, size=cfg.pool, replace=False)
    scored = np.sort(scored)
    candidates = pool_x[scored]
    model = _fit(done_x, done_y, cfg, gp_seed, hyperparameters)
    best = float(done_y.min())  # the lie: the best observed loss
    x_train, y_train = done_x, done_y
    picks: list[int] = []
    mask = np.ones(len(scored), dtype=bool)
    for i in range(min(n, len(scored))):
        if i:  # hyperparameters and normalisation from the real data; the lies only move the posterior
            model = model.condition(x_train, y_train)
        score = model.acquisition(candidates, best, cfg.acquisition, cfg.xi, cfg.kappa)
        score[~mask] = -np.inf
        k = int(np.argmax(score))
        mask[k] = False
        picks.append(int(scored[k]))
        x_train = np.vstack([x_train, candidates[k]])
        y_train = np.append(y_train, best)
    return picks, {"surrogate": model.fit.as_dict(), "scored": len(scored)}


@register_proposer("trust_region")
def propose_trust_region(
    available: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator,
    pool_x: np.ndarray,
    done_x: np.ndarray,
    done_y: np.ndarray,
    cfg: SearchConfig,
    gp_seed: int,
    done_own: np.ndarray | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> tuple[list[int], dict[str, Any]]:
    """BO restricted to a region around the best trials (the idea of TuRBO, Eriksson et al., 2019,
    without its adaptation: TuRBO's region grows after successes, shrinks after failures and
    restarts; this one is a fixed share of the band).

    The region is the ``trust_fraction`` of ``available`` nearest (L1 distance of the features) to
    any of the ``trust_centers`` best trials overall or of the band's own (``done_own`` marks
    them), at least ``4 n`` candidates; the GP is fitted to all trials. Stateless: the region
    follows from the history alone.
    """
    fit = {"cfg": cfg, "gp_seed": gp_seed, "hyperparameters": hyperparameters}
    if len(done_y) < cfg.min_points:
        return propose_bo(available, n, rng=rng, pool_x=pool_x, done_x=done_x, done_y=done_y, **fit)
    # the best trials overall (what is good transfers across bands) and the band's own best
    own = done_own if done_own is not None else np.zeros(len(done_y), dtype=bool)
    top = np.argsort(done_y, kind="stable")[: cfg.trust_centers]
    top_own = np.flatnonzero(own)[np.argsort(done_y[own], kind="stable")[: cfg.trust_centers]]
    centers = done_x[np.union1d(top, top_own)]
    dist = np.abs(pool_x[available][:, None, :] - centers[None, :, :]).sum(axis=2).min(axis=1)
    keep = min(len(available), max(4 * n, int(np.ceil(cfg.trust_fraction * len(available)))))
    region = np.sort(available[np.argsort(dist, kind="stable")[:keep]])
    picks, info = propose_bo(region, n, rng=rng, pool_x=pool_x, done_x=done_x, done_y=done_y, **fit)
    return picks, info | {"trust_region": keep}


def propose(
    pool_vectors: np.ndarray,
    featurizer: Featurizer,
    history_keys: list[str],
    history_scores: np.ndarray,
    history_ok: np.ndarray,
    *,
    n: int,
    round_: int,
    band: int,
    cfg: SearchConfig,
    seed: int,
    history_own: np.ndarray | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> tuple[list[int], str, dict[str, Any]]:
    """Row indices into ``pool_vectors`` (shape (m, dim), Sobol order) for the next ``n`` trials,
    the name of what proposed them (``sobol`` in the initial rounds; ``random`` when the strategy
    fell back to random search for want of trials, with ``info["fallback"]`` saying why; else
    ``search.strategy``) and what it fitted.

    ``history_*`` describe every trial the model may learn from (key = comma-joined encoding,
    score = accuracy in percent, ok = the trial succeeded, own = the trial is from this band;
    all by default); none of them is proposed again. ``hyperparameters``: an earlier GP fit's
    record (``info["surrogate"]``) to condition on the trials instead of fitting anew (the
    asynchronous search, :func:`gpunas.search.asynchronous.reusable_fit`); ignored when it does
    not fit them.
    """
    rng, gp_seed = round_streams(seed, band, round_)
    available = np.flatnonzero(~rows_in(pool_vectors, history_keys))
    if len(available) == 0:
        return [], "exhausted", {}
    if round_ < cfg.init_rounds:
        return available[:n].tolist(), "sobol", {}
    pool_x = featurizer.transform(pool_vectors)
    scores = np.asarray(history_scores, dtype=float)
    ok = np.asarray(history_ok, dtype=bool) & np.isfinite(scores)
    done = [decode_key(k) for k, good in zip(history_keys, ok, strict=True) if good]
    done_x = featurizer.transform(np.array(done)) if done else np.empty((0, featurizer.width))
    done_y = -scores[ok]  # percent: xi and kappa are in accuracy points
    own = np.ones(len(scores), dtype=bool) if history_own is None else np.asarray(history_own, dtype=bool)
    picks, info = PROPOSERS.get(cfg.strategy)(
        available,
        n,
        rng=rng,
        pool_x=pool_x,
        done_x=done_x,
        done_y=done_y,
        cfg=cfg,
        gp_seed=gp_seed,
        done_own=own[ok],
        hyperparameters=hyperparameters,
    )
    # the label is what proposed: a strategy that fell back to random search says so
    proposer = "random" if "fallback" in info else cfg.strategy
    return picks, proposer, info | {"trials_seen": int(ok.sum())}


def propose_for_band(
    space: Space,
    vectors: np.ndarray,
    members: np.ndarray,
    histories: pd.DataFrame,
    band: str,
    *,
    round_: int,
    batch: int,
    cfg: SearchConfig,
    seed: int,
    hyperparameters: dict[str, Any] | None = None,
) -> tuple[np.ndarray, str, dict[str, Any]]:
    """One round of one band: rows of ``vectors`` (from the band's ``members``) to train next.

    ``histories`` holds the trials so far of every band (history table columns ``subspace``,
    ``encoding``, ``accuracy``, ``status``); with ``surrogate: band`` only ``band``'s are used.
    The workflow's ``propose_candidates`` and ``benchmarks/bench_tabular.py`` both call this.
    """
    used = histories if cfg.surrogate == "shared" else histories[histories["subspace"] == band]
    picks, proposer, info = propose(
        vectors[members],
        Featurizer(space),
        used["encoding"].tolist(),
        used["accuracy"].to_numpy(dtype=float),
        (used["status"] == "complete").to_numpy(),
        n=batch,
        round_=round_,
        band=int(band.removeprefix("s")),
        cfg=cfg,
        seed=seed,
        history_own=(used["subspace"] == band).to_numpy(),
        hyperparameters=hyperparameters,
    )
    return np.asarray(members)[picks].astype(np.int64), proposer, info
