"""How well the LUT sum predicts whole-network latency, and the correction fitted from it.

K random members of each latency band (bands cut on the raw LUT sum with the configured
budgets) are measured as whole networks with the same backend and protocol. Reported before and
after the correction ``measured ~= a * lut_sum + b * layers + c``: MAPE, share within +-10%,
Kendall tau and Spearman rho. The "after" figures use leave-one-out predictions, so the
correction is not scored on the networks it was fitted to.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from gpunas.latency.estimate import Correction
from gpunas.plotting import pyplot, save_figure


def metrics(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    err = (predicted - measured) / measured
    tau = stats.kendalltau(predicted, measured).statistic
    rho = stats.spearmanr(predicted, measured).statistic
    return {
        "mape_pct": float(np.mean(np.abs(err)) * 100),
        "bias_pct": float(np.mean(err) * 100),
        "within_10pct": float(np.mean(np.abs(err) <= 0.10)),
        "kendall_tau": float(tau),
        "spearman": float(rho),
    }


def loo_predictions(lut_sum: np.ndarray, layers: np.ndarray, measured: np.ndarray) -> np.ndarray:
    out = np.empty_like(measured)
    for i in range(len(measured)):
        keep = np.arange(len(measured)) != i
        out[i] = Correction.fit(lut_sum[keep], layers[keep], measured[keep]).apply(
            lut_sum[i : i + 1], layers[i : i + 1]
        )[0]
    return out


def pick_networks(band: np.ndarray, per_band: int, seed: int) -> np.ndarray:
    """Up to ``per_band`` random row indices from each band >= 0 (seeded)."""
    rng = np.random.default_rng(seed)
    picks = []
    for b in np.unique(band[band >= 0]):
        members = np.flatnonzero(band == b)
        picks.append(rng.choice(members, size=min(per_band, len(members)), replace=False))
    return np.sort(np.concatenate(picks)) if picks else np.array([], dtype=np.int64)


def evaluate(lut_sum: np.ndarray, layers: np.ndarray, measured: np.ndarray) -> dict[str, Any]:
    if len(measured) < 5:
        raise ValueError(f"fidelity needs at least 5 measured networks, got {len(measured)}")
    corr = Correction.fit(lut_sum, layers, measured)
    loo = loo_predictions(lut_sum, layers, measured)
    return {
        "networks": len(measured),
        "correction": {"a": corr.a, "b": corr.b, "c": corr.c, "formula": "a * lut_sum + b * layers + c"},
        "before": metrics(lut_sum, measured),
        "after": metrics(loo, measured),
        "after_in_sample": metrics(corr.apply(lut_sum, layers), measured),
        "loo_predicted_ms": loo.tolist(),
    }


def plot_scatter(
    lut_sum: np.ndarray, corrected: np.ndarray, measured: np.ndarray, path: str, title: str
) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    lim = [0, max(lut_sum.max(), corrected.max(), measured.max()) * 1.05]
    ax.plot(lim, lim, color="grey", linewidth=1)
    ax.fill_between(
        lim, [v * 0.9 for v in lim], [v * 1.1 for v in lim], color="grey", alpha=0.15, label="+-10%"
    )
    ax.scatter(lut_sum, measured, s=14, label="LUT sum", color="#dd8452")
    ax.scatter(corrected, measured, s=14, label="corrected (leave-one-out)", color="#4c72b0")
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("measured whole-network latency (ms)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path)
