"""Finalists on the held-out test split: the hub models and the baselines inside each budget,
retrained with the reference schedule and several seeds, compared with 95% intervals.

The search and the hub's selection only ever see the validation split; the test split
(``data.test_images``) is read by the finalists alone, so a hub model's test accuracy is not
the maximum of noisy draws on the split that picked it. Every finalist is trained with the
same reference schedule (``final.train`` over ``train``) and the same ``final.seeds`` seeds.

Slots: one per tier (``hub/<tier>``) and one per baseline variant (``baselines/<family>/v<NN>``).
A baseline variant is a finalist when it is among the ``final.variants_per_family`` largest
variants of its family inside some budget; the others, and tiers without a model, are skipped.
Trainings: one per *distinct network* (:func:`network_key` of the architecture; the schedule is
the same for all) and seed, planned once ``select_finalists`` (a Snakemake checkpoint) has chosen,
so a network under several slots (one model winning two tiers) is trained once and reported under
each, and no job exists for a skipped slot.

Statistics (:func:`seed_variance`, :func:`accuracy_interval`, :func:`difference_interval`). A
finalist's test accuracy varies for two reasons: its training seed, and which images the test
split happens to hold. Every finalist is scored on the *same* test images and each training keeps
its per-image correctness (``test_correct``), so two models are compared image by image:

- seed variance: the variance of one seed's accuracy around its model's mean, pooled over every
  finalist with 2 or more seeds (one estimate with many degrees of freedom, instead of 1 per model
  at 2 seeds; the assumption: seed noise is alike across these networks);
- image variance: of the per-image difference of the two models' seed-averaged correctness,
  divided by the number of test images (the paired term: images both get right or both get wrong
  cancel, which gives the comparison far more power than the seeds alone);
- difference = mean_A - mean_B, interval +- t(0.975, pooled df) x sqrt(seed variance x (1/s_A +
  1/s_B) + image variance) (the two sources add by the law of total variance). Method: the paired
  comparison on a shared test set (Dietterich 1998, "Approximate statistical tests for comparing
  supervised classification learning algorithms") with the training-seed variance added as
  Bouthillier et al. 2021 ("Accounting for variance in machine learning benchmarks") recommend.

A verdict ("search more accurate" / "baseline more accurate") and a latency ratio at matched
accuracy are given only when the difference's interval excludes 0. ``detectable_pts`` is the
interval's half-width: the smallest difference this run could have told from 0. One model's
accuracy interval is the same variance (seed variance / s + the variance of its per-image
correctness / images) on the logit scale, so it stays inside [0, 100]. Finalists without per-image
results (a table evaluator) use the seed term alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Scores:
    """One finalist's test results: ``seeds``, accuracy in % per seed, shape (s,); ``correct``, per
    seed and test image, bool, shape (s, images), or None when a result lacks it."""

    seeds: np.ndarray
    correct: np.ndarray | None

    @property
    def mean(self) -> float:
        return float(self.seeds.mean())

    def per_image(self) -> np.ndarray | None:
        """Seed-averaged correctness per test image, shape (images,), or None."""
        return None if self.correct is None else self.correct.mean(axis=0)


def collect_scores(results: list[dict[str, Any]], key: str = "slot") -> dict[str, Scores]:
    """The complete test results of each finalist (by ``key``: ``slot``, or ``network`` to count a
    network reported under several slots once); per-image correctness where every seed has it."""
    from gpunas.training.train import unpack_correct

    seeds: dict[str, list[float]] = {}
    bits: dict[str, list[np.ndarray | None]] = {}
    for r in results:
        if r.get("status") == "complete" and r.get("test_top1") is not None:
            seeds.setdefault(r[key], []).append(float(r["test_top1"]))
            packed = r.get("test_correct")
            bits.setdefault(r[key], []).append(unpack_correct(packed) if packed else None)
    out = {}
    for slot, acc in seeds.items():
        rows = bits[slot]
        same = all(b is not None for b in rows) and len({len(b) for b in rows}) == 1
        out[slot] = Scores(np.array(acc), np.vstack(rows) if same else None)
    return out


def seed_variance(scores: dict[str, Scores]) -> tuple[float, int]:
    """(variance of one seed's test accuracy around its model's mean, points^2; degrees of freedom),
    pooled over every finalist with 2 or more seeds; (nan, 0) when none has 2."""
    ss = sum(float(((s.seeds - s.mean) ** 2).sum()) for s in scores.values() if len(s.seeds) > 1)
    df = sum(len(s.seeds) - 1 for s in scores.values() if len(s.seeds) > 1)
    return (ss / df, df) if df else (float("nan"), 0)


def pooled_seed_variance(results: list[dict[str, Any]]) -> tuple[float, int]:
    """:func:`seed_variance` over the distinct networks of ``results`` (a network reported under
    several slots counts once; records without ``network`` count by slot)."""
    if results and all("network" in r for r in results):
        once = {(r["network"], r.get("seed")): r for r in results}  # one record per network and seed
        return seed_variance(collect_scores(list(once.values()), "network"))
    return seed_variance(collect_scores(results))


def scored(results: list[dict[str, Any]]) -> tuple[dict[str, Scores], float, int]:
    """Each slot's :class:`Scores` and the pooled seed variance with its degrees of freedom."""
    return (collect_scores(results), *pooled_seed_variance(results))


def _quantile(df: int, level: float) -> float:
    return float(stats.t.ppf(0.5 + level / 2, df)) if df else float(stats.norm.ppf(0.5 + level / 2))


def accuracy_interval(s: Scores, var_seed: float, df: int, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper) test accuracy in %, inside [0, 100]: the seed and image variance on the
    logit scale (delta method). Without a seed variance (every finalist has 1 seed) the image term
    alone; without per-image results the seed term alone; nan bounds when neither is known."""
    mean = s.mean
    var = var_seed / len(s.seeds) if np.isfinite(var_seed) else 0.0  # points^2
    per_image = s.per_image()
    if per_image is not None:
        var += 1e4 * float(per_image.var(ddof=1)) / len(per_image) if len(per_image) > 1 else 0.0
    if var == 0.0 and not (np.isfinite(var_seed) or per_image is not None):
        return mean, float("nan"), float("nan")
    n = len(per_image) if per_image is not None else 1000
    p = min(max(mean / 100, 0.5 / n), 1 - 0.5 / n)  # away from 0 and 1, where the logit is infinite
    half = _quantile(df, level) * np.sqrt(var) / 100 / (p * (1 - p))
    logit = np.log(p / (1 - p))
    lo, hi = (100 / (1 + np.exp(-(logit + k * half))) for k in (-1, 1))
    return mean, float(lo), float(hi)


def difference_interval(
    a: Scores, b: Scores, var_seed: float, df: int, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean_a - mean_b, lower, upper) in accuracy points: paired over the shared test images, plus
    the pooled seed variance (module docstring). Unpaired results use the seed term alone; nan
    bounds when there is no variance to go by."""
    diff = a.mean - b.mean
    var = var_seed * (1 / len(a.seeds) + 1 / len(b.seeds)) if np.isfinite(var_seed) else 0.0
    pa, pb = a.per_image(), b.per_image()
    paired = pa is not None and pb is not None and len(pa) == len(pb) and len(pa) > 1
    if paired:
        var += 1e4 * float((pa - pb).var(ddof=1)) / len(pa)
    if not (np.isfinite(var_seed) or paired):
        return diff, float("nan"), float("nan")
    half = _quantile(df, level) * float(np.sqrt(var))
    return diff, diff - half, diff + half


def network_key(arch: str) -> str:
    """The key of a distinct finalist network: ``n`` and the first 10 hex digits of the SHA-256 of its
    architecture string (every finalist trains with the same schedule, so the string decides)."""
    import hashlib

    return "n" + hashlib.sha256(arch.encode()).hexdigest()[:10]


def distinct_networks(finalists: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The networks to train, by :func:`network_key`: each finalist that is not skipped, once per
    distinct architecture, with the slots it is reported under (a network that wins several tiers,
    or a baseline variant that is also a tier's model, is trained once)."""
    out: dict[str, dict[str, Any]] = {}
    for slot, f in sorted(finalists.items()):
        if f["skip"]:
            continue
        net = out.setdefault(
            f["network"], {"arch": f["arch"], "predicted_ms": f["predicted_ms"], "slots": []}
        )
        net["slots"].append(slot)
    return out


def results_by_slot(
    networks: dict[str, dict[str, Any]], results: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each network's results (records with ``network``) once under every slot it is reported under."""
    return [r | {"slot": slot} for r in results for slot in networks[r["network"]]["slots"]]


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
                "network": network_key(card["arch"]),
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
                "network": network_key(v["arch"]),
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


def pick_scaled(scaling: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Finalists of the scaling stage by slot (``scaling/<rule>/<tier>``): each rule's largest family
    member inside each budget (``results/scaling/scaling.json``), or why there is none."""
    out: dict[str, dict[str, Any]] = {}
    for rule, fam in scaling.get("families", {}).items():
        for sub, member in fam["budgets"].items():
            slot = f"scaling/{rule}/{sub}"
            base = {"slot": slot, "kind": "scaled", "route": rule, "tier": sub}
            if member is None:
                out[slot] = base | {
                    "skip": True,
                    "reason": f"no member of the {rule} family inside budget {sub}",
                }
            else:
                out[slot] = base | {
                    "variant": member["variant"],
                    "arch": member["arch"],
                    "network": network_key(member["arch"]),
                    "predicted_ms": member["predicted_ms"],
                    "skip": False,
                }
    return out


def _scaled_routes(
    finalists: dict[str, dict[str, Any]],
    sub: str,
    hub: dict[str, Any] | None,
    scores: dict[str, Scores],
    stats_of: dict[str, Any],
    var_seed: float,
    df: int,
) -> dict[str, Any]:
    """The scaled routes' columns of a budget's row: each route's model, accuracy with its interval,
    and the difference (search - route) with its paired interval and verdict."""
    row: dict[str, Any] = {}
    for f in finalists.values():
        if f["kind"] != "scaled" or f["tier"] != sub or f["skip"] or f["slot"] not in stats_of:
            continue
        r, st = f["route"], stats_of[f["slot"]]
        row |= {
            f"{r}_variant": f["variant"],
            f"{r}_ms": f["predicted_ms"],
            f"{r}_test_top1": st[0],
            f"{r}_ci_low": st[1],
            f"{r}_ci_high": st[2],
        }
        if hub is not None and hub["slot"] in scores:
            d = difference_interval(scores[hub["slot"]], scores[f["slot"]], var_seed, df)
            row |= {
                f"{r}_gain_pts": d[0],
                f"{r}_gain_ci_low": d[1],
                f"{r}_gain_ci_high": d[2],
                f"{r}_verdict": _verdict(d).replace("baseline", f"{r} route"),
            }
    return row


def _best_baseline_inside(
    finalists: dict[str, dict[str, Any]], budget: float, stats_of: dict[str, Any]
) -> tuple[int, dict[str, Any] | None]:
    """(how many baselines with results are inside ``budget``, the most accurate of them)."""
    inside = [
        f
        for f in finalists.values()
        if f["kind"] == "baseline" and not f["skip"] and f["predicted_ms"] < budget and f["slot"] in stats_of
    ]
    return len(inside), max(inside, key=lambda f: stats_of[f["slot"]][0]) if inside else None


def _verdict(d: tuple[float, float, float]) -> str:
    """From the difference (search - baseline) and its interval: a verdict only when it excludes 0."""
    if not (np.isfinite(d[1]) and np.isfinite(d[2])) or d[1] <= 0 <= d[2]:
        return "not distinguishable"
    return "search more accurate" if d[0] > 0 else "baseline more accurate"


def finalists_vs_baselines(
    finalists: dict[str, dict[str, Any]], results: list[dict[str, Any]], budgets: dict[str, float]
) -> pd.DataFrame:
    """Per budget: the tier's model against the best baseline inside the budget, on the test split:
    each accuracy with its interval, the difference (search - baseline) with its paired interval,
    the smallest detectable difference, and a verdict from the difference (module docstring)."""
    scores, var_seed, df = scored(results)
    stats_of = {slot: accuracy_interval(s, var_seed, df) for slot, s in scores.items()}
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
                "search_seeds": len(scores[hub["slot"]].seeds),
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
                "baseline_seeds": len(scores[best["slot"]].seeds),
                "baseline_test_top1": b[0],
                "baseline_ci_low": b[1],
                "baseline_ci_high": b[2],
            }
            if h:
                a_s, b_s = scores[hub["slot"]], scores[best["slot"]]
                d = difference_interval(a_s, b_s, var_seed, df)
                paired = a_s.correct is not None and b_s.correct is not None
                row |= {
                    "gain_pts": d[0],
                    "gain_ci_low": d[1],
                    "gain_ci_high": d[2],
                    "detectable_pts": (d[2] - d[1]) / 2,
                    "method": ("paired images + pooled seed variance" if paired else "pooled seed variance")
                    + f" (df {df})",
                    "verdict": _verdict(d),
                }
                if row["verdict"] != "not distinguishable":
                    row["latency_ratio_at_matched_accuracy"] = matched_test_ratio(
                        best, b_s, hubs, scores, var_seed, df
                    )
        row |= _scaled_routes(finalists, sub, hub, scores, stats_of, var_seed, df)
        rows.append(row)
    return pd.DataFrame(rows)


def matched_test_ratio(
    baseline: dict[str, Any],
    b: Scores,
    hubs: dict[str, Any],
    scores: dict[str, Scores],
    var_seed: float,
    df: int,
) -> float:
    """Baseline latency / latency of the fastest hub model whose difference to the baseline has an
    interval wholly at or above 0 (at least as accurate, at 95%; nan when none): above 1, the search
    reaches the accuracy faster."""
    ok = [
        f
        for f in hubs.values()
        if f["slot"] in scores and difference_interval(scores[f["slot"]], b, var_seed, df)[1] >= 0
    ]
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


def _costs_markdown(costs: dict[str, dict[str, Any]]) -> list[str]:
    """The lines of the routes' training costs before their finalists (none without a scaling stage)."""
    if not costs:
        return []
    lines = [
        "",
        "What each route trained before its finalists (the finalists' trainings are the same for every",
        "route); seconds summed over the jobs' Snakemake benchmark files (wall-seconds = GPU-seconds",
        "of one-GPU jobs):",
        "",
        "| route | what | trainings | wall-seconds | CPU-seconds |",
        "|---|---|---|---|---|",
    ]
    return lines + [
        f"| {r} | {c['what']} | {c['trainings']} | {c['wall_s']:,.0f} | {c['cpu_s']:,.0f} |"
        for r, c in costs.items()
    ]


def _routes_markdown(
    table: pd.DataFrame, finalists: dict[str, dict[str, Any]], costs: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    """The lines of the scaled routes' table and their costs (none without a scaling stage)."""
    lines: list[str] = []
    routes = sorted({f["route"] for f in finalists.values() if f["kind"] == "scaled"})
    if routes:
        lines += [
            "",
            "## Search once and scale, against the search in each budget",
            "",
            "The base network scaled by the coefficients each rule chose (lacs: the latency-aware reward;",
            "flops: accuracy at equal FLOPs); in each budget its largest family member inside. Difference:",
            "search - route, same method as above.",
            "",
            "| budget | route | model | ms | test top-1 [95%] | search - route (pts) [95%] | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in table.to_dict(orient="records"):
            for route in routes:
                if not isinstance(r.get(f"{route}_variant"), str):
                    continue
                diff = _num(r.get(f"{route}_gain_pts"), "+.2f")
                if diff != "-" and np.isfinite(r.get(f"{route}_gain_ci_low", np.nan)):
                    diff += f" [{r[f'{route}_gain_ci_low']:+.2f}, {r[f'{route}_gain_ci_high']:+.2f}]"
                lines.append(
                    f"| {r['subspace']} | {route} | {r[f'{route}_variant']} | {r[f'{route}_ms']:.3f} | "
                    f"{_ci(r, f'{route}_')} | {diff} | {r.get(f'{route}_verdict') or '-'} |"
                )
        lines += _costs_markdown(costs or {})
    return lines


def markdown(
    table: pd.DataFrame,
    finalists: dict[str, dict[str, Any]],
    results: list[dict[str, Any]],
    seeds: int,
    schedule: str,
    costs: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The comparison per budget (and the scaled routes with their ``costs``), then every finalist
    with its seeds."""
    lines = [
        "# Finalists on the held-out test split",
        "",
        f"Every finalist retrained with the reference schedule ({schedule}) and {seeds} seeds; test top-1 (%)",
        "as mean [95% interval: pooled seed variance and test-image variance, on the logit scale]. The",
        "difference (search - baseline) is compared image by image on the shared test split, plus the",
        "pooled seed variance (Dietterich 1998; Bouthillier et al. 2021); 'detectable' is its interval's",
        "half-width. The test split was never seen by training, search or selection. Latency: corrected",
        "LUT prediction. A verdict and a latency ratio at matched accuracy only when the difference's",
        "interval excludes 0; otherwise 'not distinguishable'.",
        "",
        "| budget | search (hub) | search ms | best baseline inside | baseline | baseline ms | difference (pts) [95%] | detectable (pts) | verdict | latency ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.to_dict(orient="records"):
        diff = _num(r.get("gain_pts"), "+.2f")
        if diff != "-" and np.isfinite(r.get("gain_ci_low", np.nan)):
            diff += f" [{r['gain_ci_low']:+.2f}, {r['gain_ci_high']:+.2f}]"
        lines.append(
            f"| {r['subspace']} < {r['budget_ms']:.3f} ms | {_ci(r, 'search_')} | {_num(r.get('search_ms'), '.3f')} | "
            f"{r.get('baseline') or '-'} | {_ci(r, 'baseline_')} | {_num(r.get('baseline_ms'), '.3f')} | "
            f"{diff} | {_num(r.get('detectable_pts'), '.2f')} | {r.get('verdict') or '-'} | "
            f"{_num(r.get('latency_ratio_at_matched_accuracy'), '.2f')} |"
        )
    lines += _routes_markdown(table, finalists, costs)
    scores, var_seed, df = scored(results)
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
        sc = scores.get(slot)
        m, lo, hi = accuracy_interval(sc, var_seed, df) if sc else (float("nan"),) * 3
        name = f.get("variant") or f"hub {f['tier']}"
        seeds_txt = ", ".join(f"{v:.2f}" for v in sc.seeds) if sc else "-"
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
    scores, var_seed, df = scored(results)
    families = sorted({f["family"] for f in finalists.values() if f["kind"] == "baseline"})
    for f in finalists.values():
        if f["skip"] or f["slot"] not in scores:
            continue
        m, lo, hi = accuracy_interval(scores[f["slot"]], var_seed, df)
        err = [[m - lo], [hi - m]] if np.isfinite(lo) else None
        if f["kind"] == "hub":
            ax.errorbar(
                [f["predicted_ms"]], [m], yerr=err, fmt="*", ms=14, c="C0", mec="k", capsize=3, zorder=5
            )
        elif f["kind"] == "scaled":
            c = "C8" if f["route"] == "lacs" else "C9"
            ax.errorbar([f["predicted_ms"]], [m], yerr=err, fmt="D", ms=7, c=c, mec="k", capsize=2, zorder=4)
        else:
            c = f"C{families.index(f['family']) + 1}"
            ax.errorbar([f["predicted_ms"]], [m], yerr=err, fmt="o", ms=5, c=c, capsize=2, alpha=0.8)
    for r in table.to_dict(orient="records"):
        ax.axvline(r["budget_ms"], c="0.85", lw=1, zorder=0)
    handles = [plt.Line2D([], [], marker="*", ls="", c="C0", mec="k", ms=12, label="hub models (search)")]
    handles += [
        plt.Line2D([], [], marker="o", ls="", c=f"C{i + 1}", label=fam) for i, fam in enumerate(families)
    ]
    routes = sorted({f["route"] for f in finalists.values() if f["kind"] == "scaled"})
    handles += [
        plt.Line2D([], [], marker="D", ls="", c="C8" if r == "lacs" else "C9", mec="k", label=f"scaled ({r})")
        for r in routes
    ]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("test top-1 (%), mean and 95% interval (seeds and test images)")
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
    costs: dict[str, dict[str, Any]] | None = None,
) -> None:
    with atomic_path(output_csv) as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_text(output_md, markdown(table, finalists, results, seeds, schedule, costs))
    plot(table, finalists, results, str(output_png))


def read_results(paths: list[str]) -> list[dict[str, Any]]:
    return [json.loads(Path(p).read_text()) for p in paths]
