"""Finalists on the held-out test split: the hub models and the baselines inside each budget,
retrained with the reference schedule and several seeds, compared with 95% intervals.

The search and the hub's selection only ever see the validation split; the test split
(``data.test_images``) is read by the finalists alone, so a hub model's test accuracy is not
the maximum of noisy draws on the split that picked it. Every finalist is trained with the
same reference schedule (``final.train`` over ``train``) and the same ``final.seeds`` seeds.

Slots are fixed by the config, so the DAG is known before any result: one per tier
(``hub/<tier>``) and one per baseline variant (``baselines/<family>/v<NN>``). A baseline variant
is a finalist when it is among the ``final.variants_per_family`` largest variants of its family
inside some budget; the others, and tiers without a model, are skipped.

Intervals: mean +- t(0.975, n - 1) x sd / sqrt(n) over seeds (Student's t; n = 2 seeds gives
wide intervals, which is the honest answer for 2 seeds). Two models are *distinguishable* when
their intervals do not overlap; only then is a latency ratio at matched accuracy reported.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gpunas.io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)


def interval(values: list[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper): Student's t interval of the mean; (mean, nan, nan) for fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def separated(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Whether two intervals (mean, lower, upper) do not overlap."""
    if not all(np.isfinite([a[1], a[2], b[1], b[2]])):
        return False
    return a[1] > b[2] or b[1] > a[2]


def pick_finalists(
    cards: list[dict[str, Any]], variants: list[dict[str, Any]], budgets: dict[str, float], per_family: int
) -> dict[str, dict[str, Any]]:
    """Finalists by slot: every tier with a model, and per budget the ``per_family`` largest variants
    of each family inside it (0: all variants inside). Variants carry their family's slot index."""
    out: dict[str, dict[str, Any]] = {}
    for card in cards:
        slot = f"hub/{card['subspace']}"
        if card.get("status") == "ok":
            out[slot] = {
                "slot": slot,
                "kind": "hub",
                "arch": card["arch"],
                "predicted_ms": card["predicted_ms"],
                "tier": card["subspace"],
                "skip": False,
            }
        else:
            out[slot] = {
                "slot": slot,
                "kind": "hub",
                "tier": card["subspace"],
                "skip": True,
                "reason": f"tier {card['subspace']} has no model ({card.get('status')})",
            }
    chosen: dict[str, set[str]] = {}
    for sub, budget in budgets.items():
        for family in sorted({v["family"] for v in variants}):
            inside = sorted(
                (v for v in variants if v["family"] == family and v["predicted_ms"] < budget),
                key=lambda v: v["predicted_ms"],
                reverse=True,
            )
            for v in inside[: per_family or None]:
                chosen.setdefault(v["slot"], set()).add(sub)
    for v in variants:
        slot = v["slot"]
        if slot in chosen:
            out[slot] = {
                "slot": slot,
                "kind": "baseline",
                "family": v["family"],
                "variant": v["variant"],
                "arch": v["arch"],
                "predicted_ms": v["predicted_ms"],
                "budgets": sorted(chosen[slot]),
                "skip": False,
            }
        else:
            out[slot] = {
                "slot": slot,
                "kind": "baseline",
                "family": v["family"],
                "variant": v["variant"],
                "skip": True,
                "reason": "not among the largest variants of its family inside any budget",
            }
    return out


def _best_baseline_inside(
    finalists: dict[str, dict[str, Any]], budget: float, stats_of: dict[str, tuple[float, float, float]]
) -> tuple[int, dict[str, Any] | None]:
    """(how many baselines with results are inside ``budget``, the most accurate of them)."""
    inside = [
        f
        for f in finalists.values()
        if f["kind"] == "baseline" and not f["skip"] and f["predicted_ms"] < budget and f["slot"] in stats_of
    ]
    return len(inside), max(inside, key=lambda f: stats_of[f["slot"]][0]) if inside else None


def _verdict(h: tuple[float, float, float], b: tuple[float, float, float]) -> str:
    if not separated(h, b):
        return "not distinguishable"
    return "search more accurate" if h[0] > b[0] else "baseline more accurate"


def finalists_vs_baselines(
    finalists: dict[str, dict[str, Any]], results: list[dict[str, Any]], budgets: dict[str, float]
) -> pd.DataFrame:
    """Per budget: the tier's model against the best baseline inside the budget, on the test split."""
    acc: dict[str, list[float]] = {}
    for r in results:
        if r.get("status") == "complete" and r.get("test_top1") is not None:
            acc.setdefault(r["slot"], []).append(float(r["test_top1"]))
    stats_of = {slot: interval(v) for slot, v in acc.items()}
    hubs = {f["tier"]: f for f in finalists.values() if f["kind"] == "hub" and not f["skip"]}
    rows = []
    for sub, budget in budgets.items():
        row: dict[str, Any] = {"subspace": sub, "budget_ms": budget}
        hub = hubs.get(sub)
        h = stats_of.get(hub["slot"]) if hub else None
        if hub and h:
            row |= {
                "search_arch": hub["arch"],
                "search_ms": hub["predicted_ms"],
                "search_seeds": len(acc[hub["slot"]]),
                "search_test_top1": h[0],
                "search_ci_low": h[1],
                "search_ci_high": h[2],
            }
        row["baselines_inside"], best = _best_baseline_inside(finalists, budget, stats_of)
        if best is not None:
            b = stats_of[best["slot"]]
            row |= {
                "baseline": best["variant"],
                "baseline_family": best["family"],
                "baseline_arch": best["arch"],
                "baseline_ms": best["predicted_ms"],
                "baseline_seeds": len(acc[best["slot"]]),
                "baseline_test_top1": b[0],
                "baseline_ci_low": b[1],
                "baseline_ci_high": b[2],
            }
            if h:
                row["gain_pts"] = h[0] - b[0]
                row["verdict"] = _verdict(h, b)
                if row["verdict"] != "not distinguishable":
                    row["latency_ratio_at_matched_accuracy"] = matched_test_ratio(best, b, hubs, stats_of)
        rows.append(row)
    return pd.DataFrame(rows)


def matched_test_ratio(
    baseline: dict[str, Any],
    b: tuple[float, float, float],
    hubs: dict[str, Any],
    stats_of: dict[str, tuple[float, float, float]],
) -> float:
    """Baseline latency / latency of the fastest hub model whose interval lies wholly above or on the
    baseline's mean (nan when none): above 1, the search reaches the accuracy faster."""
    ok = [f for f in hubs.values() if f["slot"] in stats_of and stats_of[f["slot"]][1] >= b[0]]
    if not ok:
        return float("nan")
    return float(baseline["predicted_ms"] / min(f["predicted_ms"] for f in ok))


def _num(value: Any, fmt: str) -> str:
    ok = value is not None and not (isinstance(value, float) and not np.isfinite(value))
    return format(value, fmt) if ok else "-"


def _ci(row: dict[str, Any], prefix: str) -> str:
    mean, lo, hi = (row.get(f"{prefix}{k}") for k in ("test_top1", "ci_low", "ci_high"))
    if mean is None or not np.isfinite(mean):
        return "-"
    return f"{mean:.2f} [{lo:.2f}, {hi:.2f}]" if lo is not None and np.isfinite(lo) else f"{mean:.2f}"


def markdown(
    table: pd.DataFrame,
    finalists: dict[str, dict[str, Any]],
    results: list[dict[str, Any]],
    seeds: int,
    schedule: str,
) -> str:
    """The comparison per budget, then every finalist with its seeds."""
    lines = [
        "# Finalists on the held-out test split",
        "",
        f"Every finalist retrained with the reference schedule ({schedule}) and {seeds} seeds; test top-1 (%)",
        "as mean [95% t-interval over seeds]. The test split was never seen by training, search or",
        "selection. Latency: corrected LUT prediction. A verdict and a latency ratio at matched accuracy",
        "only when the intervals separate; otherwise 'not distinguishable'.",
        "",
        "| budget | search (hub) | search ms | best baseline inside | baseline | baseline ms | gain (pts) | verdict | latency ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.to_dict(orient="records"):
        lines.append(
            f"| {r['subspace']} < {r['budget_ms']:.3f} ms | {_ci(r, 'search_')} | {_num(r.get('search_ms'), '.3f')} | "
            f"{r.get('baseline') or '-'} | {_ci(r, 'baseline_')} | {_num(r.get('baseline_ms'), '.3f')} | "
            f"{_num(r.get('gain_pts'), '+.2f')} | {r.get('verdict') or '-'} | "
            f"{_num(r.get('latency_ratio_at_matched_accuracy'), '.2f')} |"
        )
    by_slot: dict[str, list[float]] = {}
    for res in results:
        if res.get("test_top1") is not None:
            by_slot.setdefault(res["slot"], []).append(res["test_top1"])
    lines += [
        "",
        "## Every finalist",
        "",
        "| slot | model | predicted ms | test top-1 per seed | mean [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for slot, f in sorted(finalists.items()):
        if f["skip"]:
            continue
        m, lo, hi = interval(by_slot.get(slot, []))
        name = f.get("variant") or f"hub {f['tier']}"
        seeds_txt = ", ".join(f"{v:.2f}" for v in by_slot.get(slot, [])) or "-"
        lines.append(
            f"| {slot} | {name} | {f['predicted_ms']:.3f} | {seeds_txt} | {_ci({'test_top1': m, 'ci_low': lo, 'ci_high': hi}, '')} |"
        )
    return "\n".join(lines) + "\n"


def plot(
    table: pd.DataFrame, finalists: dict[str, dict[str, Any]], results: list[dict[str, Any]], path: str
) -> None:
    """Test accuracy (mean and 95% interval) against predicted latency: hub models and baselines."""
    from gpunas.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    by_slot: dict[str, list[float]] = {}
    for res in results:
        if res.get("test_top1") is not None:
            by_slot.setdefault(res["slot"], []).append(res["test_top1"])
    families = sorted({f["family"] for f in finalists.values() if f["kind"] == "baseline"})
    for f in finalists.values():
        if f["skip"] or f["slot"] not in by_slot:
            continue
        m, lo, hi = interval(by_slot[f["slot"]])
        err = [[m - lo], [hi - m]] if np.isfinite(lo) else None
        if f["kind"] == "hub":
            ax.errorbar(
                [f["predicted_ms"]], [m], yerr=err, fmt="*", ms=14, c="C0", mec="k", capsize=3, zorder=5
            )
        else:
            c = f"C{families.index(f['family']) + 1}"
            ax.errorbar([f["predicted_ms"]], [m], yerr=err, fmt="o", ms=5, c=c, capsize=2, alpha=0.8)
    for r in table.to_dict(orient="records"):
        ax.axvline(r["budget_ms"], c="0.85", lw=1, zorder=0)
    handles = [plt.Line2D([], [], marker="*", ls="", c="C0", mec="k", ms=12, label="hub models (search)")]
    handles += [
        plt.Line2D([], [], marker="o", ls="", c=f"C{i + 1}", label=fam) for i, fam in enumerate(families)
    ]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("test top-1 (%), mean and 95% interval over seeds")
    ax.set_title("Finalists on the held-out test split (grey: budgets)", fontsize=10)
    save_figure(fig, path)


def write(
    table: pd.DataFrame,
    finalists: dict[str, dict[str, Any]],
    results: list[dict[str, Any]],
    seeds: int,
    schedule: str,
    output_csv: str | Path,
    output_md: str | Path,
    output_png: str | Path,
) -> None:
    with atomic_path(output_csv) as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_text(output_md, markdown(table, finalists, results, seeds, schedule))
    plot(table, finalists, results, str(output_png))


def read_results(paths: list[str]) -> list[dict[str, Any]]:
    return [json.loads(Path(p).read_text()) for p in paths]
