"""Latency sub-spaces: bands of predicted latency cut at budget edges.

Sub-space ``s<i>`` holds the candidates with ``edge[i-1] <= latency < edge[i]`` (``edge[-1] = 0``).
Edges (``budgets``) are explicit milliseconds (``kind: edges_ms``; GPUNet's groups, e.g. 0.5,
0.65, 0.85 ... ms) or quantiles of the predicted latency of the samples (``kind: quantiles``). Candidates slower than the last edge belong to none.
Ids are known from the config alone, so the search DAG can be built before any latency exists.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from gpunas.errors import GpunasError
from gpunas.plotting import pyplot, save_figure


def subspace_ids(spec: dict[str, Any]) -> list[str]:
    return [f"s{i}" for i in range(len(spec.get("budgets") or []))]


def check_spec(spec: dict[str, Any]) -> tuple[str, list[float]]:
    """Validate the ``subspaces`` config (``kind``: edges_ms | quantiles, ``budgets``)."""
    mode = spec.get("kind")
    if mode not in ("edges_ms", "quantiles"):
        raise GpunasError(f"subspaces.kind: {mode!r} is not one of ['edges_ms', 'quantiles']")
    if not isinstance(spec.get("budgets"), list):
        raise GpunasError("subspaces.budgets: needs a list of numbers")
    values = [float(v) for v in spec["budgets"]]
    if not values:
        raise GpunasError("subspaces.budgets: needs at least one value")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise GpunasError(f"subspaces.budgets: values must be strictly increasing, got {values}")
    if values[0] <= 0:
        raise GpunasError(f"subspaces.budgets: values must be > 0, got {values[0]}")
    if mode == "quantiles" and values[-1] > 1:
        raise GpunasError(f"subspaces.budgets: quantiles must be <= 1, got {values[-1]}")
    return mode, values


def budget_edges(latency: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    mode, values = check_spec(spec)
    if mode == "edges_ms":
        return np.array(values)
    edges = np.quantile(latency, values)
    if values[-1] == 1.0:  # include the slowest sample in the last band
        edges[-1] = np.nextafter(edges[-1], np.inf)
    return edges


def assign(latency: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band index of each latency (-1 when above the last edge)."""
    band = np.searchsorted(edges, latency, side="right")
    return np.where(band < len(edges), band, -1)


def partition(latency: np.ndarray, spec: dict[str, Any]) -> dict[str, Any]:
    """Sub-spaces with members (row indices), counts and latency ranges."""
    latency = np.asarray(latency, dtype=np.float64)
    edges = budget_edges(latency, spec)
    band = assign(latency, edges)
    subspaces = []
    for i, hi in enumerate(edges):
        lo = 0.0 if i == 0 else float(edges[i - 1])
        members = np.flatnonzero(band == i)
        lat = latency[members]
        subspaces.append(
            {
                "id": f"s{i}",
                "name": f"< {hi:.3g} ms",
                "lo_ms": lo,
                "hi_ms": float(hi),
                "count": len(members),
                "empty": len(members) == 0,
                "under_budget": int((latency < hi).sum()),
                "min_ms": float(lat.min()) if len(lat) else None,
                "median_ms": float(np.median(lat)) if len(lat) else None,
                "max_ms": float(lat.max()) if len(lat) else None,
                "members": members.tolist(),
            }
        )
    return {
        "mode": check_spec(spec)[0],
        "edges_ms": edges.tolist(),
        "samples": len(latency),
        "above_last_edge": int((band == -1).sum()),
        "subspaces": subspaces,
    }


def check_budgets(result: dict[str, Any], latency: np.ndarray, unit: str = "ms") -> list[str]:
    """Refuse a partition in which no budget holds a candidate; return one warning per budget that
    holds none (its tier will have no model) when others do.

    Raises :class:`GpunasError` (one line: the budgets, the fastest sample's predicted latency
    and the unit) before any training is planned on nothing.
    """
    empty = [s for s in result["subspaces"] if s.get("under_budget", s["count"]) == 0]
    fastest = float(np.min(latency)) if len(latency) else float("nan")
    if len(empty) == len(result["subspaces"]):
        edges = ", ".join(f"{e:.4g}" for e in result["edges_ms"])
        raise GpunasError(
            f"subspaces.budgets: no candidate is under any budget ({edges} {unit}): the fastest of the "
            f"{len(latency):,} samples is predicted at {fastest:.4g} {unit}; budgets and latencies are in "
            f"{unit} (a table in microseconds, or budgets below the device's fastest network?)"
        )
    return [
        f"budget {s['id']} (< {s['hi_ms']:.4g} {unit}) holds no candidate: the fastest sample is predicted "
        f"at {fastest:.4g} {unit}; tier {s['id']} will have no model"
        for s in empty
    ]


def plot_histogram(latency: np.ndarray, result: dict[str, Any], path: str, title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.hist(latency, bins=80, color="#4c72b0", alpha=0.85)
    for sub in result["subspaces"]:
        ax.axvline(sub["hi_ms"], color="#c44e52", linestyle="--", linewidth=1)
        label = f"{sub['id']}: {sub['count']}" + (" (empty)" if sub["empty"] else "")
        ax.text(sub["hi_ms"], ax.get_ylim()[1] * 0.95, label, rotation=90, ha="right", va="top", fontsize=8)
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("candidates")
    ax.set_title(title)
    save_figure(fig, path)


def read_subspace(path: str | Path, subspace: str) -> dict[str, Any]:
    """One sub-space (id, name, band, members...) of a ``partition_subspaces`` output."""
    doc = json.loads(Path(path).read_text())
    for sub in doc["subspaces"]:
        if sub["id"] == subspace:
            return sub
    raise GpunasError(f"{path}: no sub-space {subspace!r} (have {[s['id'] for s in doc['subspaces']]})")
