"""Hand-designed baselines, scaled across the search's latency range and treated like candidates.

A :class:`Family` is data: its stages at ImageNet scale (phi = 0) and a compound-scaling rule
(width, depth and resolution multipliers per unit of phi). Variants of a family at
``phi in phis`` are fitted to a search space: widths are scaled so the stem matches the
space's widest stem, resolutions are snapped into the space's resolution range and step.

- ``efficientnet_b0``: MBConv (``irb`` + SE, swish), EfficientNet's scaling 1.1 / 1.2 / 1.15.
- ``efficientnet_x``: EfficientNet-X-B0: space-to-depth conv 2x2 s2, fused MBConv early, MBConv
  with ReLU late; latency-aware compound scaling (log-ratio depth:width:resolution 1:0.56:0.26).
- ``genet``: GENet-large: XX (``basic``) and BL (``bottleneck``) at high resolution, DW (``irb``
  e3, ReLU, no SE) at low resolution.
- ``resnet``: ResNet-18-style basic blocks.
- ``gpunet``: NVIDIA's seven released GPUNets (0, 1, 2, P0, P1, D1, D2), as released and by their
  names (only when the space is the GPUNet space; not scaled).

Stem and space-to-depth stages (``conv``) keep one layer; every other stage's repeats scale
with depth. Every variant is costed with the same LUT and correction as the searched candidates; for each
latency sub-space the largest variant of each family inside the budget is trained with the same
proxy, and :func:`compare` sets them against the search.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.arch import Architecture, StageConfig
from gpunas.io import atomic_write_json, atomic_write_text
from gpunas.latency.estimate import Correction, LutIndex
from gpunas.latency.keys import keys_for_arch
from gpunas.models.blocks_math import make_divisible
from gpunas.nvidia import released_models
from gpunas.space import SearchSpace, load_space

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Family:
    """A baseline family: named variants (architectures) offered for a search space."""

    name: str
    label: str
    spaces: tuple[str, ...] = ()  # non-empty: only offered for these spaces

    def variants(self, space: SearchSpace, phis: list[float]) -> list[tuple[str, float, Architecture]]:
        """(variant name, phi, architecture) of every variant for ``space``."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ScaledFamily(Family):
    """A hand-designed network at ImageNet scale (phi = 0) with its compound-scaling rule."""

    resolution: int
    stages: tuple[StageConfig, ...]
    head_width: int
    width: float  # width multiplier per unit of phi
    depth: float  # depth multiplier per unit of phi
    res: float  # resolution multiplier per unit of phi

    def variants(self, space: SearchSpace, phis: list[float]) -> list[tuple[str, float, Architecture]]:
        return [
            (f"{self.name} phi {float(phi):g}", float(phi), scale(self, space, float(phi))) for phi in phis
        ]


@dataclass(frozen=True, kw_only=True)
class ReleasedFamily(Family):
    """NVIDIA's seven released GPUNets as they are (not scaled), by NVIDIA's names."""

    def variants(self, space: SearchSpace, phis: list[float]) -> list[tuple[str, float, Architecture]]:
        return [(name, float("nan"), arch) for name, arch in released_models().items()]


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    if family.name in _FAMILIES:
        raise ValueError(f"baseline family {family.name!r} registered twice")
    _FAMILIES[family.name] = family
    return family


def family_names() -> list[str]:
    return sorted(_FAMILIES)


def get_family(name: str) -> Family:
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown baseline family {name!r}; known: {family_names()}") from None


def _stages(rows: list[tuple]) -> tuple[StageConfig, ...]:
    """(block, layers, kernel, stride, out, act, expansion, se) rows -> stages 0..n-1."""
    return tuple(
        StageConfig(i, b, n, k, s, c, a, expansion=e, se=bool(se))
        for i, (b, n, k, s, c, a, e, se) in enumerate(rows)
    )


# EfficientNet-B0 (Tan & Le 2019): MBConv stages, SE 0.25, swish.
register_family(ScaledFamily(
    name="efficientnet_b0", label="EfficientNet-B0 (MBConv)", resolution=224, stages=
    _stages([("conv", 1, 3, 2, 32, "swish", 1, 0), ("irb", 1, 3, 1, 16, "swish", 1, 1),
             ("irb", 2, 3, 2, 24, "swish", 6, 1), ("irb", 2, 5, 2, 40, "swish", 6, 1),
             ("irb", 3, 3, 2, 80, "swish", 6, 1), ("irb", 3, 5, 1, 112, "swish", 6, 1),
             ("irb", 4, 5, 2, 192, "swish", 6, 1), ("irb", 1, 3, 1, 320, "swish", 6, 1)]),
    head_width=1280, width=1.1, depth=1.2, res=1.15,
))  # fmt: skip
# EfficientNet-X-B0 (Li et al. 2021, GPUNET.md section 6): space-to-depth, fused early, ReLU late.
register_family(ScaledFamily(
    name="efficientnet_x", label="EfficientNet-X-B0 (fused + space-to-depth)", resolution=224, stages=
    _stages([("conv", 1, 3, 2, 32, "swish", 1, 0), ("conv", 1, 2, 2, 64, "relu", 1, 0),
             ("irb", 1, 3, 1, 16, "relu", 1, 1), ("fused_irb", 2, 3, 1, 24, "swish", 6, 1),
             ("fused_irb", 2, 5, 2, 40, "swish", 6, 1), ("irb", 3, 3, 2, 80, "relu", 6, 1),
             ("irb", 3, 5, 1, 112, "relu", 6, 1), ("irb", 4, 5, 2, 192, "relu", 6, 1),
             ("irb", 1, 3, 1, 320, "relu", 6, 1)]),
    head_width=1280, width=1.2**0.56, depth=1.2, res=1.2**0.26,
))  # fmt: skip
# GENet-large (Lin et al. 2020, GPUNET.md section 5): XX, BL early (full convs), DW late.
register_family(ScaledFamily(
    name="genet", label="GENet (XX / BL / DW)", resolution=256, stages=
    _stages([("conv", 1, 3, 2, 32, "relu", 1, 0), ("basic", 1, 3, 2, 128, "relu", 1, 0),
             ("basic", 2, 3, 2, 192, "relu", 1, 0), ("bottleneck", 6, 3, 2, 640, "relu", 4, 0),
             ("irb", 5, 3, 2, 640, "relu", 3, 0), ("irb", 4, 3, 1, 640, "relu", 3, 0)]),
    head_width=2560, width=1.1, depth=1.2, res=1.15,
))  # fmt: skip
# ResNet-18 style: basic blocks; a stride-2 conv replaces the max-pool.
register_family(ScaledFamily(
    name="resnet", label="ResNet-18 style (basic blocks)", resolution=224, stages=
    _stages([("conv", 1, 3, 2, 32, "relu", 1, 0), ("conv", 1, 3, 2, 64, "relu", 1, 0),
             ("basic", 2, 3, 1, 64, "relu", 1, 0), ("basic", 2, 3, 2, 128, "relu", 1, 0),
             ("basic", 2, 3, 2, 256, "relu", 1, 0), ("basic", 2, 3, 2, 512, "relu", 1, 0)]),
    head_width=512, width=1.1, depth=1.2, res=1.15,
))  # fmt: skip
# NVIDIA's seven released GPUNets (gpunas/data/gpunet_release), offered when searching the GPUNet space.
register_family(ReleasedFamily(name="gpunet", label="GPUNet (NVIDIA's released models)", spaces=("gpunet",)))


def families_for(space: SearchSpace, names: list[str]) -> list[Family]:
    """The requested families that apply to ``space`` (``gpunet`` only for the GPUNet space)."""
    return [f for f in map(get_family, names) if not f.spaces or space.name in f.spaces]


def _snap_resolution(space: SearchSpace, value: float) -> int:
    choices = np.array([int(r) for r in space.choices_of("resolution")])
    return int(choices[np.argmin(np.abs(choices - value))])


def scale(family: ScaledFamily, space: SearchSpace, phi: float) -> Architecture:
    """The family's variant at ``phi``, fitted to the space's stem width and resolution range."""
    stem_max = max(int(v) for v in space.choices_of("stage0.filters"))
    w = family.width**phi * stem_max / family.stages[0].out_channels
    d = family.depth**phi
    res_min = min(int(r) for r in space.choices_of("resolution"))
    resolution = _snap_resolution(space, res_min * family.res**phi)
    stages = tuple(
        replace(
            st,
            out_channels=make_divisible(st.out_channels * w),
            layers=st.layers if st.block == "conv" else max(1, math.ceil(st.layers * d)),
        )
        for st in family.stages
    )
    return Architecture(resolution, stages, make_divisible(family.head_width * min(w, 1.0)))


def variants(space: SearchSpace, names: list[str], phis: list[float]) -> pd.DataFrame:
    """One row per distinct (family, architecture): family, variant name, phi, arch string."""
    rows, seen = [], set()
    for fam in families_for(space, names):
        for name, phi, arch in fam.variants(space, phis):
            text = arch.to_string()
            if (fam.name, text) not in seen:
                seen.add((fam.name, text))
                rows.append({"family": fam.name, "variant": name, "phi": phi, "arch": text})
    return pd.DataFrame(rows, columns=["family", "variant", "phi", "arch"])


def variant_codes(space: SearchSpace, cfg: dict[str, Any], classes: int, padding: str) -> np.ndarray:
    """Layer-key codes of every baseline variant (profiled into the LUT with the space's keys)."""
    table = variants(space, cfg["families"], cfg["phis"])
    codes = {
        k.code() for a in table["arch"] for k in keys_for_arch(Architecture.from_string(a), classes, padding)
    }
    return np.array(sorted(codes), dtype=np.int64)


def predict(archs: list[str], lut: pd.DataFrame, corr: Correction, classes: int, padding: str) -> np.ndarray:
    """Corrected LUT latency of arbitrary architectures (the same model as the candidates')."""
    index = LutIndex(lut)
    out = []
    for text in archs:
        keys = keys_for_arch(Architecture.from_string(text), classes, padding)
        codes = np.array([k.code() for k in keys], dtype=np.int64)
        out.append(float(corr.apply(index.lookup(codes).sum(), len(keys))))
    return np.array(out)


def design(
    space: str, lut: str | Path, fidelity: str | Path, subspaces: str | Path, cfg: dict[str, Any],
    slug: str, output: str | Path,
) -> dict[str, Any]:  # fmt: skip
    """Cost every variant; for each (family, sub-space) pick the largest variant inside the budget."""
    from gpunas.latency.lut import read_lut
    from gpunas.latency.steps import read_correction

    sp = load_space(space)
    table, meta = read_lut(lut, expect_slug=slug)
    corr = read_correction(fidelity)
    var = variants(sp, cfg["families"], cfg["phis"])
    var["predicted_ms"] = predict(list(var["arch"]), table, corr, meta["classes"], meta["padding"])
    subs = json.loads(Path(subspaces).read_text())["subspaces"]
    picks: dict[str, dict[str, Any]] = {}
    for fam in families_for(sp, cfg["families"]):
        fv = var[var["family"] == fam.name]
        for s in subs:
            inside = fv[fv["predicted_ms"] < s["hi_ms"]]
            key = f"{fam.name}/{s['id']}"
            if inside.empty:
                picks[key] = {"family": fam.name, "subspace": s["id"], "skip": True,
                              "reason": f"no {fam.name} variant is faster than {s['hi_ms']:.3f} ms"}  # fmt: skip
                continue
            best = inside.loc[inside["predicted_ms"].idxmax()]
            picks[key] = {"family": fam.name, "subspace": s["id"], "skip": False, "arch": best["arch"],
                          "variant": best["variant"], "phi": None if pd.isna(best["phi"]) else float(best["phi"]),
                          "predicted_ms": float(best["predicted_ms"])}  # fmt: skip
    doc = {
        "slug": slug,
        "families": {f.name: f.label for f in families_for(sp, cfg["families"])},
        "budgets_ms": {s["id"]: s["hi_ms"] for s in subs},
        "variants": var.astype(object).where(var.notna(), None).to_dict(orient="records"),
        "picks": picks,
    }
    atomic_write_json(output, doc)
    log.info("%d baseline variants costed; %d of %d (family, sub-space) pairs have one inside the budget",
             len(var), sum(not p["skip"] for p in picks.values()), len(picks))  # fmt: skip
    return doc


def train_job(
    baselines: str | Path, family: str, subspace: str, data: dict[str, Any], train: dict[str, Any],
    seed: int, threads: int, attempts: int, output: str | Path, mem_mb: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train one picked baseline with the search's proxy (same child process, data and seed)."""
    from gpunas.search.trial import run_trial, training_spec

    pick = json.loads(Path(baselines).read_text())["picks"].get(f"{family}/{subspace}")
    if pick is None:
        raise ValueError(f"{baselines}: no baseline entry for {family}/{subspace}")
    base = {"family": family, "subspace": subspace}
    if pick["skip"]:
        metrics = base | {"status": "skipped", "reason": pick["reason"], "val_top1": None}
    else:
        spec = training_spec(pick["arch"], data, train, seed, threads)
        result = run_trial(
            spec,
            Path(output).parent,
            threads,
            attempts,
            reuse=train.get("reuse_finished", True),
            mem_mb=mem_mb,
        )
        metrics = base | {k: pick.get(k) for k in ("arch", "variant", "phi", "predicted_ms")} | result
    atomic_write_json(output, metrics)
    log.info("baseline %s/%s: %s %s", family, subspace, metrics["status"],
             metrics.get("val_top1") if metrics["status"] == "complete" else metrics.get("reason"))  # fmt: skip
    return metrics


def matched_ratio(lat_b: float, acc_b: float, searched: pd.DataFrame) -> tuple[float, str]:
    """lat_b / latency of the fastest searched candidate at least as accurate (nan if none)."""
    ok = searched[searched["accuracy"] >= acc_b]
    if ok.empty:
        return float("nan"), ""
    fastest = ok.loc[ok["predicted_ms"].idxmin()]
    return float(lat_b / fastest["predicted_ms"]), str(fastest["arch"])


def compare(
    baselines: str | Path, metrics: list[str], histories: list[str], hub_cards: list[str],
    output_csv: str | Path, output_md: str | Path, output_png: str | Path,
) -> pd.DataFrame:  # fmt: skip
    """Per budget: best searched vs best baseline accuracy inside it, and latency ratio at matched accuracy."""
    from gpunas.search.steps import read_history

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
            ratio, match = matched_ratio(float(b["predicted_ms"]), float(b["accuracy"]), searched)
            row |= {"baseline_family": b["family"], "baseline_variant": b.get("variant") or b["family"],
                    "baseline_accuracy": float(b["accuracy"]),
                    "baseline_ms": float(b["predicted_ms"]), "baseline_arch": b["arch"],
                    "accuracy_gain_pts": row["search_accuracy"] - float(b["accuracy"]),
                    "latency_ratio_at_matched_accuracy": ratio, "matched_search_arch": match}  # fmt: skip
        else:
            row |= {"baseline_family": "", "baseline_variant": "", "baseline_accuracy": np.nan, "baseline_ms": np.nan,
                    "baseline_arch": "", "accuracy_gain_pts": np.nan,
                    "latency_ratio_at_matched_accuracy": np.nan, "matched_search_arch": ""}  # fmt: skip
        rows.append(row)
    table = pd.DataFrame(rows)
    from gpunas.io import atomic_path

    with atomic_path(output_csv) as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_text(output_md, comparison_markdown(table, base))
    plot_pareto(searched, trained, doc, cards, str(output_png))
    for r in rows:
        log.info("%s (< %.3f ms): search %.2f%%, best baseline %s %.2f%%, ratio at matched accuracy %.2f",
                 r["subspace"], r["budget_ms"], r["search_accuracy"], r["baseline_family"] or "-",
                 r["baseline_accuracy"], r["latency_ratio_at_matched_accuracy"])  # fmt: skip
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
    lines += ["", "## Every baseline trained", "", "| family | variant | sub-space | status | top-1 | predicted ms | arch |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in base.to_dict(orient="records"):
        acc = r.get("val_top1") if r["status"] == "complete" else None
        lines.append(f"| {r['family']} | {r.get('variant') or '-'} | {r['subspace']} | {r['status']} {r.get('reason', '') if r['status'] != 'complete' else ''} | "
                     f"{f(acc, '.2f')} | {f(r.get('predicted_ms'), '.3f')} | `{r.get('arch', '')}` |")  # fmt: skip
    return "\n".join(lines) + "\n"


def plot_pareto(
    searched: pd.DataFrame, trained: pd.DataFrame, doc: dict[str, Any], cards: dict[str, Any], path: str
) -> None:
    from gpunas.hub import pareto_front
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
