"""The search at a glance: Pareto front of all trials, hub summary, accuracy-vs-latency and progress plots."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.io import atomic_write_json, atomic_write_with
from gpunas.plotting import pyplot, save_figure

log = logging.getLogger(__name__)


def pareto_front(df: pd.DataFrame) -> pd.DataFrame:
    """Trials not beaten by another that is both faster (or equal) and more accurate."""
    ok = df[df["status"] == "complete"].sort_values(["predicted_ms", "accuracy"], ascending=[True, False])
    best, keep = -np.inf, []
    for idx, acc in zip(ok.index, ok["accuracy"], strict=True):
        if acc > best:
            keep.append(idx)
            best = acc
    return ok.loc[keep]


def summarize(
    histories: list[pd.DataFrame],
    tiers: list[dict[str, Any]],
    bands: list[dict[str, Any]],
    out_json: str | Path,
    out_pareto: str | Path,
    out_scatter: str | Path,
    out_progress: str | Path,
) -> dict[str, Any]:
    """Write the Pareto front of all trials (CSV), the hub summary (JSON) and the two plots.

    A search in which every trial failed has nothing to summarise: that is an error (the run ends
    non-zero), with the reasons.
    """
    hist = pd.concat(histories, ignore_index=True)
    check_something_trained(hist)
    front = pareto_front(hist)
    atomic_write_with(out_pareto, lambda tmp: front.to_csv(tmp, index=False))
    doc = {
        "tiers": [
            {
                k: t.get(k)
                for k in ("subspace", "name", "status", "accuracy", "predicted_ms", "params", "arch")
            }
            for t in tiers
        ],
        "trials": len(hist),
        "failed": int((hist["status"] == "failed").sum()),
        "pareto": len(front),
        "tiers_without_model": {t["subspace"]: t.get("reason") for t in tiers if t.get("status") != "ok"},
    }
    for tier, why in doc["tiers_without_model"].items():
        log.warning("tier %s has no model: %s", tier, why)
    atomic_write_json(out_json, doc)
    plot_scatter(hist, front, bands, tiers, str(out_scatter))
    plot_progress(hist, str(out_progress))
    return doc


def check_something_trained(hist: pd.DataFrame) -> None:
    """Refuse a search in which trials ran and every one failed, naming the commonest reasons."""
    failed = hist[hist["status"] == "failed"]
    if len(hist) and len(failed) == len(hist):
        reasons = failed["reason"].value_counts()
        top = "; ".join(f"{n} x {r}" for r, n in reasons.head(3).items())
        raise GpunasError(f"every trial of the search failed ({len(hist)} trials): {top}")


def plot_scatter(
    hist: pd.DataFrame, front: pd.DataFrame, bands: list[dict], tiers: list[dict], path: str
) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    ok = hist[hist["status"] == "complete"]
    for sub, grp in ok.groupby("subspace"):
        ax.scatter(grp["predicted_ms"], grp["accuracy"], s=16, alpha=0.7, label=sub)
    ax.plot(
        front["predicted_ms"],
        front["accuracy"],
        color="black",
        linewidth=1,
        drawstyle="steps-post",
        label="Pareto front",
    )
    for t in tiers:
        if t.get("status") == "ok":
            ax.scatter(
                [t["predicted_ms"]],
                [t["accuracy"]],
                marker="*",
                s=160,
                color="gold",
                edgecolor="black",
                zorder=5,
            )
    for b in bands:
        ax.axvline(b["hi_ms"], color="#c44e52", linestyle="--", linewidth=1)
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title("Trained candidates (stars: hub models; dashed: budgets)")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_progress(hist: pd.DataFrame, path: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for sub, grp in hist.groupby("subspace"):
        per_round = grp.groupby("round")["accuracy"].max().sort_index()
        ax.plot(per_round.index, per_round.cummax().to_numpy(), marker="o", label=sub)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel("best validation top-1 so far (%)")
    ax.set_title("Search progress per sub-space")
    ax.legend(fontsize=8)
    save_figure(fig, path)
