"""The search against the baselines: per budget, accuracy and latency ratio at matched accuracy,
as a CSV, a Markdown table and a Pareto plot with every family."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.io import atomic_path, atomic_write_text
from gpunas.search.history import read_history

log = logging.getLogger(__name__)


def matched_proxy_ratio(lat_b: float, acc_b: float, searched: pd.DataFrame) -> tuple[float, str]:
    """lat_b / latency of the fastest searched candidate at least as accurate (nan if none)."""
    ok = searched[searched["accuracy"] >= acc_b]
    if ok.empty:
        return float("nan"), ""
    fastest = ok.loc[ok["predicted_ms"].idxmin()]
    return float(lat_b / fastest["predicted_ms"]), str(fastest["arch"])


def search_vs_baselines(
    baselines: str | Path,
    metrics: list[str],
    histories: list[str],
    hub_cards: list[str],
    output_csv: str | Path,
    output_md: str | Path,
    output_png: str | Path,
) -> pd.DataFrame:
    """Per budget: best searched vs best baseline accuracy inside it, and latency ratio at matched accuracy."""
    doc = json.loads(Path(baselines).read_text())
    base = pd.DataFrame([json.loads(Path(p).read_text()) for p in metrics])
    trained = base[base["status"] == "complete"].copy() if len(base) else base
    if len(trained):
        trained["accuracy"] = trained["val_top1"].astype(float)
    hist = pd.concat([read_history(h) for h in histories], ignore_index=True)
    searched = hist[hist["status"] == "complete"]
    cards = {c["subspace"]: c for c in (json.loads(Path(p).read_text()) for p in hub_cards)}
    rows = []
    for sub, budget in doc["budgets_ms"].items():
        card = cards.get(sub, {})
        inside = trained[trained["predicted_ms"] < budget] if len(trained) else trained
        row: dict[str, Any] = {
            "subspace": sub,
            "budget_ms": budget,
            "search_accuracy": card.get("accuracy", np.nan),
            "search_ms": card.get("predicted_ms", np.nan),
            "search_status": card.get("status", "missing"),
        }
        if len(inside):
            b = inside.loc[inside["accuracy"].idxmax()]
            ratio, match = matched_proxy_ratio(float(b["predicted_ms"]), float(b["accuracy"]), searched)
            row |= {
                "baseline_family": b["family"],
                "baseline_variant": b.get("variant") or b["family"],
                "baseline_accuracy": float(b["accuracy"]),
                "baseline_ms": float(b["predicted_ms"]),
                "baseline_arch": b["arch"],
                "accuracy_gain_pts": row["search_accuracy"] - float(b["accuracy"]),
                "latency_ratio_at_matched_accuracy": ratio,
                "matched_search_arch": match,
            }
        else:
            row |= {
                "baseline_family": "",
                "baseline_variant": "",
                "baseline_accuracy": np.nan,
                "baseline_ms": np.nan,
                "baseline_arch": "",
                "accuracy_gain_pts": np.nan,
                "latency_ratio_at_matched_accuracy": np.nan,
                "matched_search_arch": "",
            }
        rows.append(row)
    table = pd.DataFrame(rows)
    with atomic_path(output_csv) as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_text(output_md, comparison_markdown(table, base))
    plot_pareto(searched, trained, doc, cards, str(output_png))
    for r in rows:
        log.info(
            "%s (< %.3f ms): search %.2f%%, best baseline %s %.2f%%, ratio at matched accuracy %.2f",
            r["subspace"],
            r["budget_ms"],
            r["search_accuracy"],
            r["baseline_family"] or "-",
            r["baseline_accuracy"],
            r["latency_ratio_at_matched_accuracy"],
        )
    return table


def comparison_markdown(table: pd.DataFrame, base: pd.DataFrame) -> str:
    def f(v: Any, fmt: str) -> str:
        return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, fmt)

    lines = [
        "# Searched models vs hand-designed baselines",
        "",
        "Latency: corrected LUT prediction (same LUT and correction for every model). Ratio: baseline",
        "latency / latency of the fastest searched candidate at least as accurate (> 1: search is faster).",
        "",
        "| budget | search top-1 | search ms | best baseline | baseline top-1 | baseline ms | gain (pts) | latency ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.to_dict(orient="records"):
        lines.append(
            f"| {r['subspace']} < {r['budget_ms']:.3f} ms | {f(r['search_accuracy'], '.2f')} | "
            f"{f(r['search_ms'], '.3f')} | {r['baseline_variant'] or '-'} | {f(r['baseline_accuracy'], '.2f')} | "
            f"{f(r['baseline_ms'], '.3f')} | {f(r['accuracy_gain_pts'], '+.2f')} | "
            f"{f(r['latency_ratio_at_matched_accuracy'], '.2f')} |"
        )
    lines += [
        "",
        "## Every baseline trained",
        "",
        "| family | variant | sub-space | status | top-1 | predicted ms | arch |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in base.to_dict(orient="records"):
        acc = r.get("val_top1") if r["status"] == "complete" else None
        lines.append(
            f"| {r['family']} | {r.get('variant') or '-'} | {r['subspace']} | {r['status']} {r.get('reason', '') if r['status'] != 'complete' else ''} | "
            f"{f(acc, '.2f')} | {f(r.get('predicted_ms'), '.3f')} | `{r.get('arch', '')}` |"
        )
    return "\n".join(lines) + "\n"


def plot_pareto(
    searched: pd.DataFrame, trained: pd.DataFrame, doc: dict[str, Any], cards: dict[str, Any], path: str
) -> None:
    from gpunas.hub.summary import pareto_front
    from gpunas.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.scatter(searched["predicted_ms"], searched["accuracy"], s=12, c="0.7", label="searched candidates")
    front = pareto_front(searched.assign(status="complete"))
    ax.plot(front["predicted_ms"], front["accuracy"], "-", c="C0", lw=2, label="search Pareto front")
    for i, (fam, label) in enumerate(doc["families"].items()):
        fv = trained[trained["family"] == fam] if len(trained) else trained
        if len(fv):
            fv = fv.drop_duplicates("arch").sort_values("predicted_ms")
            ax.plot(fv["predicted_ms"], fv["accuracy"], "o--", c=f"C{i + 1}", label=label)
            if fam == "gpunet" and "variant" in fv:  # NVIDIA's released models, by their names
                for _, r in fv.iterrows():
                    ax.annotate(r["variant"], (r["predicted_ms"], r["accuracy"]), fontsize=7, c=f"C{i + 1}")
    for budget in doc["budgets_ms"].values():
        ax.axvline(budget, c="0.85", lw=1, zorder=0)
    for c in cards.values():
        if c.get("status") == "ok":
            ax.scatter(
                [c["predicted_ms"]], [c["accuracy"]], marker="*", s=180, c="C0", edgecolors="k", zorder=5
            )
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("proxy val top-1 (%)")
    ax.set_title(f"Search vs hand-designed baselines ({doc['slug']})")
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)
