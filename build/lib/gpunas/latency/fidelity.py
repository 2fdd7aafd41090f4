"""How well the LUT sum predicts whole-network latency, and the correction fitted from it.

K random members of each latency band (bands cut on the raw LUT sum with the configured
budgets) are measured as whole networks with the same backend and protocol. Reported before and
after the correction ``measured ~= a * lut_sum + b * layers + c``: MAPE, share within +-10%,
Kendall tau and Spearman rho. The "after" figures use leave-one-out predictions, so the
correction is not scored on the networks it was fitted to.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy import stats

from gpunas.errors import GpunasError
from gpunas.latency.estimate import Correction
from gpunas.plotting import pyplot, save_figure

log = logging.getLogger(__name__)


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
        raise GpunasError(f"fidelity needs at least 5 measured networks, got {len(measured)}")
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


def check(
    space: Any, vectors: np.ndarray, table: Any, meta: dict[str, Any], subspaces: dict[str, Any],
    per_subspace: int, backend: Any, protocol: Any, classes: int, seed: int,
) -> dict[str, Any]:  # fmt: skip
    """Measure ``per_subspace`` networks of every band (cut on the raw LUT sum) and evaluate the LUT."""
    from gpunas.latency.estimate import lut_sums
    from gpunas.latency.partition import assign, budget_edges
    from gpunas.latency.protocol import measure

    raw, layers = lut_sums(space, vectors, table, classes, meta["padding"])
    band = assign(raw, budget_edges(raw, subspaces))
    picks = pick_networks(band, per_subspace, seed)
    archs = [space.decode(vectors[i]) for i in picks]
    stats = measure(archs, lambda a: backend.network(a, classes), protocol, label="networks")
    measured = stats["latency_ms"].to_numpy()
    report = evaluate(raw[picks], layers[picks].astype(float), measured)
    report |= {
        "hardware": backend.hardware(),
        "per_subspace": per_subspace,
        "rows": [
            {"sample": int(i), "band": int(band[i]), "arch": a.to_string(), "layers": int(layers[i]),
             "lut_sum_ms": float(raw[i]), "measured_ms": float(m), "measured_cv": float(cv)}
            for i, a, m, cv in zip(picks, archs, measured, stats["cv"], strict=True)
        ],
    }  # fmt: skip
    log.info("fidelity on %d networks: before %s after %s", len(picks), report["before"], report["after"])
    return report


def plot_report(report: dict[str, Any], path: str) -> None:
    """The scatter of a fidelity report: LUT sum and corrected prediction against measured."""
    rows = report["rows"]
    title = (
        f"{report.get('slug', '')}\nbefore: MAPE {report['before']['mape_pct']:.1f}%, "
        f"tau {report['before']['kendall_tau']:.2f}; after: MAPE {report['after']['mape_pct']:.1f}%, "
        f"tau {report['after']['kendall_tau']:.2f}"
    )
    plot_scatter(
        np.array([r["lut_sum_ms"] for r in rows]), np.array(report["loo_predicted_ms"]),
        np.array([r["measured_ms"] for r in rows]), path, title,
    )  # fmt: skip
