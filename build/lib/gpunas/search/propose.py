"""Proposals inside one latency sub-space: Sobol initial design, then BO or random search.

The optimiser has no state of its own: each round it is rebuilt from the history (the trained
candidates and their accuracies) and the seed, so identical history + seed give identical
proposals. Bayesian optimisation fits scikit-optimize's Gaussian process on a numeric
featurisation of the encoding (ordinal fields as their index scaled to [0, 1], categorical
fields such as NAS-Bench-201 operations one-hot; the loss is minus the accuracy in percent)
and scores a finite pool of in-band candidates with the acquisition function (EI, LCB or PI),
which is far cheaper than skopt's own acquisition optimiser in 41 dimensions. A batch is filled
with the constant-liar rule: after each pick the GP is refitted with the pick's value set to the
best observed one. Failed trials are never shown to the GP (it would accept a NaN silently and
break), and no trained candidate is proposed again.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from gpunas.errors import GpunasError

log = logging.getLogger(__name__)
_PROPOSERS: dict[str, Callable[..., list[int]]] = {}


def register_proposer(name: str) -> Callable[[Callable[..., list[int]]], Callable[..., list[int]]]:
    def wrap(fn: Callable[..., list[int]]) -> Callable[..., list[int]]:
        _PROPOSERS[name] = fn
        return fn

    return wrap


@dataclass(frozen=True)
class SearchConfig:
    strategy: str = "bo"
    acquisition: str = "EI"
    xi: float = 0.01
    kappa: float = 1.96
    init_rounds: int = 1
    pool: int = 2048
    min_points: int = 3
    restarts: int = 2

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchConfig:
        cfg = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
        if cfg.strategy not in _PROPOSERS:
            raise GpunasError(f"search.strategy: {cfg.strategy!r} is not one of {sorted(_PROPOSERS)}")
        if cfg.acquisition not in ("EI", "LCB", "PI"):
            raise GpunasError(f"search.acquisition: {cfg.acquisition!r} is not one of ['EI', 'LCB', 'PI']")
        return cfg


def encode_key(vector: np.ndarray) -> str:
    return ",".join(str(int(v)) for v in vector)


def decode_key(text: str) -> list[int]:
    return [int(v) for v in text.split(",")] if text else []


def categorical_fields(space: Any) -> np.ndarray:
    """Fields whose choices are names with no order (e.g. NAS-Bench-201 operations): one-hot.
    Numeric fields (kernel, layers, filters, ...) and binary ones stay ordinal."""
    return np.array(
        [f.size > 2 and not all(isinstance(c, (int, float)) for c in f.choices) for f in space.fields],
        dtype=bool,
    )


def features(vectors: np.ndarray, sizes: np.ndarray, categorical: np.ndarray | None = None) -> np.ndarray:
    """Ordinal fields as index / (size - 1) in [0, 1]; categorical fields one-hot."""
    vectors = np.atleast_2d(np.asarray(vectors))
    sizes = np.asarray(sizes)
    if categorical is None or not categorical.any():
        return vectors.astype(np.float64) / np.maximum(sizes - 1, 1)
    cols = []
    for j, (size, cat) in enumerate(zip(sizes, categorical, strict=True)):
        if cat:
            cols.append(np.eye(size)[vectors[:, j]])
        else:
            cols.append((vectors[:, j : j + 1] / max(size - 1, 1)).astype(np.float64))
    return np.hstack(cols)


def fit_gp(x: np.ndarray, y: np.ndarray, seed: int, restarts: int = 2) -> Any:
    from skopt.learning import GaussianProcessRegressor
    from skopt.learning.gaussian_process.kernels import ConstantKernel, Matern

    kernel = ConstantKernel(1.0, (0.01, 1000.0)) * Matern(
        length_scale=np.ones(x.shape[1]), length_scale_bounds=(0.01, 100.0), nu=2.5
    )
    gp = GaussianProcessRegressor(
        kernel=kernel, normalize_y=True, noise="gaussian", n_restarts_optimizer=restarts, random_state=seed
    )
    with warnings.catch_warnings():  # length scales at their bounds are expected with few points
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    return gp


def refit_fixed(gp: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """Refit on new data with the hyperparameters of ``gp`` kept (constant-liar steps)."""
    from skopt.learning import GaussianProcessRegressor

    noise = float(getattr(gp, "noise_", 0.0) or 0.0)
    fixed = GaussianProcessRegressor(
        kernel=gp.kernel_, optimizer=None, normalize_y=True, alpha=max(noise, 1e-10)
    )
    fixed.fit(x, y)
    return fixed


def acquisition(gp: Any, x: np.ndarray, y_best: float, cfg: SearchConfig) -> np.ndarray:
    """Higher is better. The GP models the loss (minus accuracy), as skopt minimises."""
    from skopt.acquisition import gaussian_ei, gaussian_lcb, gaussian_pi

    if cfg.acquisition == "EI":
        return gaussian_ei(x, gp, y_opt=y_best, xi=cfg.xi)
    if cfg.acquisition == "PI":
        return gaussian_pi(x, gp, y_opt=y_best, xi=cfg.xi)
    return -gaussian_lcb(x, gp, kappa=cfg.kappa)


@register_proposer("random")
def propose_random(available: np.ndarray, n: int, *, rng: np.random.Generator, **_: Any) -> list[int]:
    """Uniformly random members of the pool (the baseline)."""
    return rng.choice(available, size=min(n, len(available)), replace=False).tolist()


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
    seed: int,
) -> list[int]:
    """GP + acquisition over (a random subset of) the pool, batch by constant liar."""
    if len(done_y) < cfg.min_points:
        log.info("only %d successful trials (< %d): random proposals this round", len(done_y), cfg.min_points)
        return propose_random(available, n, rng=rng)
    scored = available if len(available) <= cfg.pool else rng.choice(available, size=cfg.pool, replace=False)
    scored = np.sort(scored)
    x_train, y_train = done_x.copy(), done_y.copy()
    lie = float(y_train.min())
    picks: list[int] = []
    mask = np.ones(len(scored), dtype=bool)
    gp = fit_gp(x_train, y_train, seed, cfg.restarts)
    for i in range(min(n, len(scored))):
        if i:  # hyperparameters from the real data; the lies only move the posterior
            gp = refit_fixed(gp, x_train, y_train)
        score = acquisition(gp, pool_x[scored], float(y_train.min()), cfg)
        score[~mask] = -np.inf
        best = int(np.argmax(score))
        mask[best] = False
        picks.append(int(scored[best]))
        x_train = np.vstack([x_train, pool_x[scored[best]]])
        y_train = np.append(y_train, lie)
    return picks


def propose(
    pool_vectors: np.ndarray,
    sizes: np.ndarray,
    history_keys: list[str],
    history_scores: np.ndarray,
    history_ok: np.ndarray,
    *,
    n: int,
    round_: int,
    cfg: SearchConfig,
    seed: int,
    categorical: np.ndarray | None = None,
) -> tuple[list[int], str]:
    """Row indices into ``pool_vectors`` for the next ``n`` trials, and the proposer's name.

    ``history_*`` describe every trained candidate (key = comma-joined encoding, score =
    accuracy, ok = trial succeeded). Pool rows are assumed to be in Sobol order.
    """
    rng = np.random.default_rng([seed, round_])
    keys = np.array([encode_key(v) for v in pool_vectors])
    trained = set(history_keys)
    available = np.flatnonzero([k not in trained for k in keys])
    if len(available) == 0:
        return [], "exhausted"
    if round_ < cfg.init_rounds:
        return available[:n].tolist(), "sobol"
    pool_x = features(pool_vectors, sizes, categorical)
    ok = np.asarray(history_ok, dtype=bool) & np.isfinite(np.asarray(history_scores, dtype=float))
    done_vectors = np.array([decode_key(k) for k, good in zip(history_keys, ok, strict=True) if good])
    done_x = (
        features(done_vectors, sizes, categorical) if len(done_vectors) else np.empty((0, pool_x.shape[1]))
    )
    done_y = -np.asarray(history_scores, dtype=float)[ok]  # percent: xi and kappa are in accuracy points
    fn = _PROPOSERS[cfg.strategy]
    picks = fn(
        available, n, rng=rng, pool_x=pool_x, done_x=done_x, done_y=done_y, cfg=cfg, seed=seed + round_
    )
    return picks, cfg.strategy
