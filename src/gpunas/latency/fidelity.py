"""How well the LUT sum predicts the latency of the networks gpunas ships, and the correction.

Networks are picked over the whole range of the samples' LUT sums (equal-count strata of the
sorted sums, one random member each, the fastest and the slowest sample always), so no band's
prediction is an extrapolation. Each is measured *as it ships*: the ONNX export of the built
model (:mod:`gpunas.models.export`), the graph validation measures and the hub delivers, which a
runtime optimises as a whole (a chain of per-layer graphs is not what ships).

The correction ``measured ~= a * lut_sum + b * layers + c`` is fitted with ``a >= 0`` (and a
simpler ``a * lut_sum + c``), scored by leave-one-out, refused when it predicts a non-positive
latency for any sample, and **applied only if its leave-one-out error beats the raw LUT sum**;
otherwise the raw sum is used and the reason recorded. Reported before and after: MAPE, bias,
share within +-10%, Kendall tau, Spearman rho; and how noisy the measurements were.
"""

from __future__ import annotations

import logging
import textwrap
from typing import Any

import numpy as np
from scipy import optimize, stats

from gpunas.errors import GpunasError
from gpunas.latency.estimate import Correction
from gpunas.plotting import pyplot, save_figure

log = logging.getLogger(__name__)
# (name, which of (lut_sum, layers, 1) the model uses)
MODELS = {"a*lut_sum+b*layers+c": (True, True, True), "a*lut_sum+c": (True, False, True)}


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


def fit_bounded(lut_sum: np.ndarray, layers: np.ndarray, measured: np.ndarray, model: str) -> Correction:
    """Least squares with ``a >= 0`` for one of :data:`MODELS` (unused terms are 0)."""
    use = MODELS[model]
    cols = [c for c, u in zip((lut_sum, layers, np.ones_like(lut_sum)), use, strict=True) if u]
    lower = [0.0] + [-np.inf] * (len(cols) - 1)
    fit = optimize.lsq_linear(np.column_stack(cols), measured, bounds=(lower, np.inf))
    coef = iter(fit.x)
    return Correction(*(float(next(coef)) if u else 0.0 for u in use))


def loo_predictions(lut_sum: np.ndarray, layers: np.ndarray, measured: np.ndarray, model: str) -> np.ndarray:
    out = np.empty_like(measured)
    for i in range(len(measured)):
        keep = np.arange(len(measured)) != i
        corr = fit_bounded(lut_sum[keep], layers[keep], measured[keep], model)
        out[i] = corr.apply(lut_sum[i : i + 1], layers[i : i + 1])[0]
    return out


def pick_networks(raw: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` sample indices over the whole range of ``raw``: one random member of each of
    ``count`` equal-count strata of the sorted sums, the fastest and the slowest always."""
    order = np.argsort(raw, kind="stable")
    count = min(count, len(order))
    rng = np.random.default_rng(seed)
    strata = np.array_split(order, count)
    picks = [int(rng.choice(s)) for s in strata]
    picks[0], picks[-1] = int(order[0]), int(order[-1])
    return np.array(sorted(set(picks)), dtype=np.int64)


def evaluate(
    lut_sum: np.ndarray, layers: np.ndarray, measured: np.ndarray, population: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    """Fit the corrections, score them by leave-one-out, choose one only if it beats the raw sum.

    ``population``: (lut sums, layer counts) of every sample the correction will be applied to;
    a correction predicting a non-positive latency for any of them is refused.
    """
    if len(measured) < 5:
        raise GpunasError(f"fidelity needs at least 5 measured networks, got {len(measured)}")
    raw = metrics(lut_sum, measured)
    candidates = {}
    for model in MODELS:
        corr = fit_bounded(lut_sum, layers, measured, model)
        loo = loo_predictions(lut_sum, layers, measured, model)
        lowest = float(min(corr.apply(*population).min(), loo.min()))
        candidates[model] = {
            "correction": corr,
            "loo": loo,
            "loo_mape_pct": metrics(loo, measured)["mape_pct"],
            "positive": lowest > 0,
            "lowest_prediction_ms": lowest,
        }
    usable = {m: c for m, c in candidates.items() if c["positive"]}
    best = min(usable, key=lambda m: usable[m]["loo_mape_pct"]) if usable else None
    if best is None:
        applied, reason = None, "every correction predicts a non-positive latency for some sample"
    elif usable[best]["loo_mape_pct"] < raw["mape_pct"]:
        applied = best
        reason = (
            f"{best}: leave-one-out MAPE {usable[best]['loo_mape_pct']:.1f}% beats the raw LUT sum's "
            f"{raw['mape_pct']:.1f}%"
        )
    else:
        applied = None
        reason = (
            f"no correction beats the raw LUT sum (leave-one-out MAPE {usable[best]['loo_mape_pct']:.1f}% "
            f"vs {raw['mape_pct']:.1f}%): the raw sum is used"
        )
    corr = candidates[applied]["correction"] if applied else Correction()
    loo = candidates[applied]["loo"] if applied else lut_sum
    return {
        "networks": len(measured),
        "correction": {
            "a": corr.a,
            "b": corr.b,
            "c": corr.c,
            "formula": "a * lut_sum + b * layers + c",
            "applied": applied is not None,
            "model": applied,
            "reason": reason,
        },
        "candidates": {
            m: {
                "a": c["correction"].a,
                "b": c["correction"].b,
                "c": c["correction"].c,
                "loo_mape_pct": c["loo_mape_pct"],
                "positive": c["positive"],
                "lowest_prediction_ms": c["lowest_prediction_ms"],
            }
            for m, c in candidates.items()
        },
        "before": raw,
        "after": metrics(loo, measured),
        "after_in_sample": metrics(corr.apply(lut_sum, layers), measured),
        "loo_predicted_ms": loo.tolist(),
    }


def check(
    space: Any,
    vectors: np.ndarray,
    table: Any,
    meta: dict[str, Any],
    count: int,
    measure_networks: Any,
    classes: int,
    seed: int,
) -> dict[str, Any]:
    """Pick ``count`` networks over the samples' range, measure them as shipped, evaluate the LUT.

    ``measure_networks(archs) -> DataFrame`` measures (or finds in the network cache) the
    exported models of the architectures.
    """
    from gpunas.latency.estimate import lut_sums

    raw, layers = lut_sums(space, vectors, table, classes, meta["padding"])
    picks = pick_networks(raw, count, seed)
    archs = [space.decode(vectors[i]) for i in picks]
    stats_ = measure_networks(archs)
    measured = stats_["latency_ms"].to_numpy()
    report = evaluate(raw[picks], layers[picks].astype(float), measured, (raw, layers.astype(float)))
    report |= {
        "graph": "exported model (the ONNX the hub ships), batch and precision of the LUT",
        "coverage_ms": [float(raw.min()), float(raw.max())],
        "rows": [
            {
                "sample": int(i),
                "arch": a.to_string(),
                "layers": int(layers[i]),
                "lut_sum_ms": float(raw[i]),
                "measured_ms": float(m),
                "measured_cv": float(cv),
                "cached": bool(c),
            }
            for i, a, m, cv, c in zip(picks, archs, measured, stats_["cv"], stats_["cached"], strict=True)
        ],
    }
    log.info(
        "fidelity on %d networks: before %s after %s; %s",
        len(picks),
        report["before"],
        report["after"],
        report["correction"]["reason"],
    )
    return report


def plot_report(report: dict[str, Any], path: str) -> None:
    """The scatter of a fidelity report: LUT sum and the applied prediction against measured."""
    rows = report["rows"]
    c = report["correction"]
    noise = report.get("noise", {})
    spread = ", ".join(
        f"{what} median CV {100 * n['median_cv']:.1f}%"
        for what, n in (("layers", noise.get("layers", {})), ("networks", noise.get("networks", {})))
        if n.get("items")
    )
    title = (
        f"{report.get('slug', '')}\nraw LUT sum: MAPE {report['before']['mape_pct']:.1f}%, "
        f"tau {report['before']['kendall_tau']:.2f}; applied ({c['model'] or 'raw sum'}, leave-one-out): "
        f"MAPE {report['after']['mape_pct']:.1f}%, tau {report['after']['kendall_tau']:.2f}"
        + "\n"
        + textwrap.fill(f"why: {c.get('reason', '')}", 95)
        + (f"\nrepeat-to-repeat noise: {spread}" if spread else "")
        + ("\n" + textwrap.fill("NOISY MEASUREMENTS: " + noise["summary"], 95) if noise.get("noisy") else "")
    )
    plot_scatter(
        np.array([r["lut_sum_ms"] for r in rows]),
        np.array(report["loo_predicted_ms"]),
        np.array([r["measured_ms"] for r in rows]),
        path,
        title,
    )


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
    ax.scatter(corrected, measured, s=14, label="applied prediction (leave-one-out)", color="#4c72b0")
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("measured latency of the exported model (ms)")
    ax.set_title(title, fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path)
