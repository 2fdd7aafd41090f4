"""The surrogate model of the search: a Gaussian process from scikit-optimize, behind one class.

This is the only module that imports scikit-optimize (and, through it, scikit-learn's GP), so the
rest of the search is independent of their versions. scikit-optimize is archived upstream and
branches on scikit-learn's major version; ``pyproject.toml`` pins scikit-learn below the next
major version (``tests/unit/test_search.py`` checks the pin).

The model (Rasmussen & Williams, *Gaussian Processes for Machine Learning*, 2006, ch. 2 and 5):

- targets are normalised once, by the mean and standard deviation of the *real* observations;
  constant-liar steps (:meth:`Surrogate.condition`) add fantasised points in the same units and
  keep the fitted hyperparameters, so a lie moves the posterior but not the scale;
- kernel ``C * Matern(nu=2.5) + White``: one length scale for all features while there are fewer
  than ``ard_points_per_dim`` observations per feature, then one per feature (ARD), so the number
  of fitted hyperparameters grows with the data instead of 41 length scales fitted to 4 points;
  the white-noise term stays in the kernel (no zero-noise refits);
- acquisition functions are scikit-optimize's (EI, PI, LCB) on the loss (minus accuracy), with
  ``xi`` given in accuracy points and converted to the normalised units.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurrogateFit:
    """What was fitted: for the proposals file and the log."""

    points: int
    features: int
    fitted_on: int
    ard: bool
    length_scales: tuple[float, ...]
    amplitude: float
    noise: float
    at_bounds: bool
    # the kernel's log-hyperparameters (scikit-learn's ``kernel_.theta``); ``refit``: fitted here,
    # not taken from an earlier fit (:meth:`Surrogate.with_hyperparameters`)
    theta: tuple[float, ...] = ()
    refit: bool = True

    def as_dict(self) -> dict[str, Any]:
        ls = np.asarray(self.length_scales)
        return {
            "points": self.points,
            "fitted_on": self.fitted_on,
            "features": self.features,
            "kernel": "ard" if self.ard else "isotropic",
            "length_scale_min": float(ls.min()),
            "length_scale_max": float(ls.max()),
            "amplitude": self.amplitude,
            "noise": self.noise,
            "at_bounds": self.at_bounds,
            "theta": list(self.theta),
            "refit": self.refit,
        }


LENGTH_SCALE_BOUNDS = (0.01, 100.0)
AMPLITUDE_BOUNDS = (0.01, 100.0)
NOISE_BOUNDS = (1e-6, 1.0)


class Surrogate:
    """A GP over feature rows ``x`` (shape (n, d), values in [0, 1]) of the losses ``y`` (shape (n,)).

    Raises ``ValueError`` for mismatched shapes or non-finite targets.
    """

    def __init__(self, gp: Any, mean: float, scale: float, fit: SurrogateFit) -> None:
        self.gp, self.mean, self.scale, self.fit = gp, mean, scale, fit

    @classmethod
    def fitted(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        seed: int,
        restarts: int = 2,
        ard_points_per_dim: float = 2.0,
        max_fit_points: int = 0,
    ) -> Surrogate:
        """Fit kernel hyperparameters by maximum marginal likelihood (``restarts`` extra starts).

        With more than ``max_fit_points`` observations (> 0), the hyperparameters are fitted to a
        seeded subset of that size (the best quarter always in it), and the model is then
        conditioned on all observations: the fit's cost stops growing with the history.
        """
        x, y = _check(x, y)
        mean, scale = float(y.mean()), float(y.std())
        scale = scale if scale > 0 else 1.0
        if 0 < max_fit_points < len(y):
            best = np.argsort(y, kind="stable")[: max_fit_points // 4]
            rest = np.setdiff1d(np.arange(len(y)), best)
            pick = np.random.default_rng(seed).choice(rest, max_fit_points - len(best), replace=False)
            sub = np.sort(np.concatenate([best, pick]))
            model = cls._fit(x[sub], y[sub], mean, scale, seed, restarts, ard_points_per_dim, len(y))
            return model.condition(x, y)
        return cls._fit(x, y, mean, scale, seed, restarts, ard_points_per_dim, len(y))

    @classmethod
    def _fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        mean: float,
        scale: float,
        seed: int,
        restarts: int,
        ard_points_per_dim: float,
        points: int,
    ) -> Surrogate:
        from sklearn.exceptions import ConvergenceWarning
        from skopt.learning import GaussianProcessRegressor

        ard = len(y) >= ard_points_per_dim * x.shape[1]
        kernel = _kernel(x.shape[1], ard)
        gp = GaussianProcessRegressor(
            kernel=kernel, normalize_y=False, noise=None, n_restarts_optimizer=restarts, random_state=seed
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            gp.fit(x, (y - mean) / scale)
        at_bounds = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        for w in caught:  # anything else is a real problem: raise it again, visibly
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        params = gp.kernel_.get_params()
        fit = SurrogateFit(
            points=points,
            features=x.shape[1],
            ard=ard,
            fitted_on=len(y),
            length_scales=tuple(np.atleast_1d(params["k1__k2__length_scale"]).tolist()),
            amplitude=float(params["k1__k1__constant_value"]),
            noise=float(params["k2__noise_level"]),
            at_bounds=at_bounds,
        )
        if at_bounds:  # expected with few points: a hyperparameter sits at its bound
            log.debug("GP fit on %d points: a hyperparameter is at its bound (%s)", len(y), fit.as_dict())
        return cls(gp, mean, scale, replace(fit, theta=tuple(gp.kernel_.theta.tolist())))

    @classmethod
    def with_hyperparameters(cls, x: np.ndarray, y: np.ndarray, fit: dict[str, Any]) -> Surrogate | None:
        """The model of an earlier fit (``fit``: a :meth:`SurrogateFit.as_dict`, its ``theta`` and
        ``kernel``) conditioned on ``x`` (n, d) and ``y`` (n,), no hyperparameter optimised: a
        Cholesky factorisation instead of a fit. Targets are normalised by ``y``'s own mean and
        standard deviation, as a fit would. None when the earlier kernel does not fit ``x`` (another
        width, or a ``theta`` of the wrong length)."""
        from skopt.learning import GaussianProcessRegressor

        x, y = _check(x, y)
        theta = np.asarray(fit.get("theta") or [], dtype=float)
        kernel = _kernel(x.shape[1], fit.get("kernel") == "ard")
        if (
            fit.get("features") != x.shape[1]
            or theta.shape != kernel.theta.shape
            or not np.isfinite(theta).all()
        ):
            return None
        mean, scale = float(y.mean()), float(y.std())
        scale = scale if scale > 0 else 1.0
        gp = GaussianProcessRegressor(
            kernel=kernel.clone_with_theta(theta), optimizer=None, normalize_y=False, noise=None
        )
        gp.fit(x, (y - mean) / scale)
        params = gp.kernel_.get_params()
        return cls(
            gp,
            mean,
            scale,
            SurrogateFit(
                points=len(y),
                features=x.shape[1],
                ard=fit.get("kernel") == "ard",
                fitted_on=int(fit.get("fitted_on", 0)),
                length_scales=tuple(np.atleast_1d(params["k1__k2__length_scale"]).tolist()),
                amplitude=float(params["k1__k1__constant_value"]),
                noise=float(params["k2__noise_level"]),
                at_bounds=bool(fit.get("at_bounds", False)),
                theta=tuple(theta.tolist()),
                refit=False,
            ),
        )

    def condition(self, x: np.ndarray, y: np.ndarray) -> Surrogate:
        """The same kernel (hyperparameters kept, targets in the real observations' units) on new data."""
        from skopt.learning import GaussianProcessRegressor

        x, y = _check(x, y)
        gp = GaussianProcessRegressor(kernel=self.gp.kernel_, optimizer=None, normalize_y=False, noise=None)
        gp.fit(x, (y - self.mean) / self.scale)
        return Surrogate(gp, self.mean, self.scale, self.fit)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the loss at ``x``, in the targets' units."""
        mu, std = _Posterior(self.gp).predict(np.asarray(x, dtype=np.float64), return_std=True)
        return mu * self.scale + self.mean, std * self.scale

    def acquisition(self, x: np.ndarray, y_best: float, kind: str, xi: float, kappa: float) -> np.ndarray:
        """Acquisition value of each row of ``x`` (higher is better); ``y_best``, ``xi`` in loss units."""
        from skopt.acquisition import gaussian_ei, gaussian_lcb, gaussian_pi

        x = np.asarray(x, dtype=np.float64)
        best = (y_best - self.mean) / self.scale
        if kind == "EI":
            return gaussian_ei(x, _Posterior(self.gp), y_opt=best, xi=xi / self.scale)
        if kind == "PI":
            return gaussian_pi(x, _Posterior(self.gp), y_opt=best, xi=xi / self.scale)
        if kind == "LCB":
            return -gaussian_lcb(x, _Posterior(self.gp), kappa=kappa)
        raise ValueError(f"acquisition {kind!r} is not one of ['EI', 'LCB', 'PI']")


class _Posterior:
    """scikit-optimize's GP posterior (mean and standard deviation) with the variance computed by
    a matrix product: ``diag(K* K^-1 K*^T)`` as ``sum((K* @ K^-1) * K*, axis=1)`` instead of
    scikit-optimize's ``einsum("ki,kj,ij->k", ...)``, which loops in O(queries x trials^2) outside
    BLAS (11 s for 8,192 candidates and 1,200 trials; ``benchmarks/bench_proposal_scale.py``). The
    same formula and the same fitted matrices (``K_inv_``, ``alpha_``), so the same values up to
    rounding; an unfitted GP (the prior) is passed through."""

    def __init__(self, gp: Any) -> None:
        self.gp = gp

    def predict(self, x: np.ndarray, return_std: bool = False, **kwargs: Any) -> Any:
        gp = self.gp
        if kwargs or not return_std or not hasattr(gp, "X_train_"):
            return gp.predict(x, return_std=return_std, **kwargs)
        k_trans = gp.kernel_(x, gp.X_train_)
        mean = gp.y_train_std_ * (k_trans @ gp.alpha_) + gp.y_train_mean_
        var = gp.kernel_.diag(x) - np.sum((k_trans @ gp.K_inv_) * k_trans, axis=1)
        var = np.clip(var, 0.0, None) * gp.y_train_std_**2  # negative only by rounding
        return mean, np.sqrt(var)


def _kernel(features: int, ard: bool) -> Any:
    """``C * Matern(nu=2.5) + White`` over ``features`` columns, one length scale per column with
    ``ard`` (the module docstring)."""
    from skopt.learning.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    return ConstantKernel(1.0, AMPLITUDE_BOUNDS) * Matern(
        length_scale=np.ones(features) if ard else 1.0, length_scale_bounds=LENGTH_SCALE_BOUNDS, nu=2.5
    ) + WhiteKernel(0.01, NOISE_BOUNDS)


def _check(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(y) == 0:
        raise ValueError(
            f"surrogate needs x of shape (n, d) and y of shape (n,), n > 0; got {x.shape}, {y.shape}"
        )
    if not np.isfinite(y).all():
        raise ValueError("surrogate targets must be finite (failed trials are left out)")
    return x, y
