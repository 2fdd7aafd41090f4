"""The scaling stage (rules/scaling.smk): one function per rule, called by gpunas.steps.scaling.

Search once, scale by latency (:mod:`gpunas.scaling.compound`): a base network (the hub model of
the smallest budget, or any architecture by config) is grown by a grid of (alpha, beta, gamma) at
phi = 1; every grid point's family (phi = 1..members) is listed for the LUT (its own part,
``scaling``), costed with the LUT and the fidelity correction, each grid point trained with the
proxy, and the coefficients chosen twice: by the latency-aware reward (LACS, EfficientNet-X) and
by accuracy alone at the grid's equal FLOPs (EfficientNet). Each rule's family is placed into the
budgets; each budget's largest member inside it is a finalist.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.baselines.costing import predict
from gpunas.errors import GpunasError
from gpunas.io import atomic_path, atomic_write_json
from gpunas.latency.estimate import Correction
from gpunas.latency.lut import read_lut
from gpunas.models.counting import arch_stats
from gpunas.parse import parse_arch
from gpunas.scaling.compound import (
    MNASNET_W,
    Coefficients,
    choose,
    coefficient_grid,
    family,
    latency_reward,
    resolution_step,
    stage_steps,
)
from gpunas.spaces import load_space

log = logging.getLogger(__name__)
RULES = {"lacs": "latency-aware reward (EfficientNet-X)", "flops": "accuracy at equal FLOPs (EfficientNet)"}


def base_architecture(base: str, hubs: list[str], space: Any) -> tuple[str, str, str | None]:
    """(arch string, where it came from, the hub tier's band or None): ``base = "hub"`` takes the hub model of the smallest
    budget that has one; anything else is read by :func:`gpunas.parse.parse_arch` (an arch string,
    an integer vector of ``space``, an NVIDIA JSON file or a released GPUNet's name).

    Raises:
        GpunasError: ``hub`` with no tier holding a model, or an unreadable architecture.
    """
    if base != "hub":
        return parse_arch(base, space).to_string(), f"config: {base[:60]}", None
    cards = [json.loads((Path(h) / "card.json").read_text()) for h in hubs]
    ok = sorted((c for c in cards if c.get("status") == "ok"), key=lambda c: c["budget_ms"])
    if not ok:
        raise GpunasError("scaling.base: hub, but no hub tier has a model to scale")
    return ok[0]["arch"], f"hub tier {ok[0]['subspace']} ({ok[0]['name']})", ok[0]["subspace"]


def spread(items: list[Any], count: int) -> list[Any]:
    """``count`` of ``items`` evenly spaced over their order (all of them when 0 or more than there are)."""
    if count <= 0 or count >= len(items):
        return list(items)
    return [items[i] for i in np.unique(np.round(np.linspace(0, len(items) - 1, count)).astype(int))]


def unkeyable(arch: Any) -> str | None:
    """Why ``arch``'s layers cannot be LUT keys (a field beyond the key's range, e.g. more than
    4,095 channels), or None when they can."""
    from gpunas.latency.keys import keys_for_arch

    try:
        for key in keys_for_arch(arch, 1, "same"):
            key.code()
    except GpunasError as exc:
        return str(exc)
    return None


def list_scaling(
    space: str | Path,
    hubs: list[str],
    base: str,
    grid: dict[str, Any],
    points: int,
    members: int,
    output: str | Path,
) -> dict[str, Any]:
    """The grid points (each its phi = 1 architecture) and every point's family, phi = 1..members
    (``variants``: what the LUT part ``scaling`` costs). A member whose layers a LUT key cannot
    hold (more than 4,095 channels) ends its family early, with a warning and a record in
    ``dropped``.

    Raises:
        GpunasError: a grid point that cannot be keyed already at phi 1.
    """
    sp = load_space(space)
    arch_text, source, band = base_architecture(base, hubs, sp)
    from gpunas.arch import Architecture

    arch = Architecture.from_string(arch_text)
    steps, res_step = stage_steps(sp, arch), resolution_step(sp)
    coefs = spread(coefficient_grid(**grid), points)
    doc: dict[str, Any] = {
        "base": {"arch": arch_text, "source": source, "subspace": band},
        "points": {},
        "variants": [],
    }
    doc["dropped"] = []
    for i, c in enumerate(coefs):
        name = f"g{i:02d}"
        grown = family(arch, c, members, steps, res_step)
        doc["points"][name] = {"point": name, **c.as_dict(), "arch": grown[0][1].to_string(), "skip": False}
        for phi, a in grown:
            variant = {"point": name, "phi": phi, "variant": f"{name} phi {phi}", "arch": a.to_string()}
            why = unkeyable(a)
            if why and phi > 1:
                log.warning("scaling: %s left out of its family: %s", variant["variant"], why)
                doc["dropped"].append(variant | {"reason": why})
                break
            if why:
                raise GpunasError(
                    f"scaling: grid point {name} ({c}) at phi 1 cannot be costed: {why}; "
                    "lower scaling.grid.max_width"
                )
            doc["variants"].append(variant | c.as_dict())
    atomic_write_json(output, doc)
    log.info(
        "scaling %s: %d grid points x %d members (%d architectures)",
        source,
        len(coefs),
        members,
        len(doc["variants"]),
    )
    return doc


def cost_scaling(
    grid: str | Path, lut: str | Path, fidelity: str | Path, slug: str, output: str | Path
) -> dict[str, Any]:
    """Every listed architecture's predicted latency (ms; LUT sum with the applied correction) and
    multiply-accumulates; the grid points carry their phi = 1 member's."""
    doc = json.loads(Path(grid).read_text())
    table, meta = read_lut(lut, expect_slug=slug)
    archs = [v["arch"] for v in doc["variants"]]
    ms = predict(archs, table, Correction.read(fidelity), meta["classes"], meta["padding"])
    from gpunas.arch import Architecture

    for v, m in zip(doc["variants"], ms, strict=True):
        v["predicted_ms"] = float(m)
        v["macs"] = int(sum(r.macs for r in arch_stats(Architecture.from_string(v["arch"]), meta["classes"])))
    first = {v["point"]: v for v in doc["variants"] if v["phi"] == 1}
    for name, p in doc["points"].items():
        p |= {"predicted_ms": first[name]["predicted_ms"], "macs": first[name]["macs"]}
    atomic_write_json(output, doc)
    log.info("costed %d scaled architectures: %.4f..%.4f ms", len(ms), float(ms.min()), float(ms.max()))
    return doc


def training_cost(benchmarks: list[str]) -> dict[str, float | int]:
    """Trainings, wall-seconds (GPU-seconds on a one-GPU job) and CPU-seconds summed over
    Snakemake benchmark files (``s`` and ``cpu_time`` columns; a missing file counts nothing).

    Raises:
        GpunasError: a benchmark file without those columns.
    """
    out: dict[str, float | int] = {"trainings": 0, "wall_s": 0.0, "cpu_s": 0.0}
    for path in benchmarks:
        if not Path(path).exists():
            continue
        frame = pd.read_csv(path, sep="\t")
        if not {"s", "cpu_time"} <= set(frame.columns):
            raise GpunasError(f"{path}: a benchmark file needs the columns 's' and 'cpu_time'")
        out["trainings"] += 1
        out["wall_s"] += float(frame["s"].iloc[-1])
        out["cpu_s"] += float(pd.to_numeric(frame["cpu_time"], errors="coerce").fillna(0).iloc[-1])
    return out


def route_costs(
    search_benchmarks: list[str], scaling_benchmarks: list[str], base_subspace: str | None
) -> dict[str, dict[str, Any]]:
    """What each route spent on proxy trainings before its finalists (the finalists' trainings are
    the same for every route): the search in every band; the search of the base's band only (none
    when the base came from the config) plus the scaling grid, shared by both scaling rules.
    Benchmark paths of the search are ``.../train_candidate/<band>/r<round>/s<slot>.tsv``."""
    once = [b for b in search_benchmarks if base_subspace and Path(b).parts[-3] == base_subspace]
    grid, per_budget, search_once = (
        training_cost(scaling_benchmarks),
        training_cost(search_benchmarks),
        training_cost(once),
    )
    scaled = {k: search_once[k] + grid[k] for k in grid}
    band = f"band {base_subspace}" if base_subspace else "no search (base from the config)"
    return {
        "search": per_budget | {"what": "search in every band"},
        "lacs": scaled | {"what": f"search in {band} + the scaling grid"},
        "flops": scaled | {"what": f"search in {band} + the scaling grid"},
    }


def choose_scaling(
    costed: str | Path,
    metrics: list[str],
    subspaces: str | Path,
    reward: dict[str, Any],
    output_json: str | Path,
    output_csv: str | Path,
    output_png: str | Path,
    search_benchmarks: list[str] | None = None,
    scaling_benchmarks: list[str] | None = None,
) -> dict[str, Any]:
    """The grid with its proxy accuracies and rewards, the coefficients each rule chooses, each
    rule's family placed into the budgets (``families[rule][budget]``: its largest member inside),
    and each route's training cost (:func:`route_costs`)."""
    doc = json.loads(Path(costed).read_text())
    records = {json.loads(Path(m).read_text())["point"]: json.loads(Path(m).read_text()) for m in metrics}
    budgets = {s["id"]: s["hi_ms"] for s in json.loads(Path(subspaces).read_text())["subspaces"]}
    rows = []
    for name, p in doc["points"].items():
        r = records.get(name, {})
        acc = r.get("val_top1") if r.get("status") == "complete" else None
        rows.append(
            p | {"accuracy": acc, "latency_ms": p["predicted_ms"], "status": r.get("status", "missing")}
        )
    lat = [r["latency_ms"] for r in rows]
    target = float(reward.get("target_ms") or np.median(lat))
    w = float(reward.get("w", MNASNET_W))
    for r in rows:
        r["reward"] = (
            latency_reward(r["accuracy"], r["latency_ms"], target, w) if r["accuracy"] is not None else None
        )
    chosen = {rule: choose(rows, rule, target_ms=target, w=w)["point"] for rule in RULES}
    families = {rule: _placed(doc["variants"], point, budgets) for rule, point in chosen.items()}
    out = {
        "base": doc["base"],
        "reward": {"target_ms": target, "w": w, "formula": "ACC * (LAT / T) ** w (MnasNet)"},
        "rules": RULES,
        "grid": rows,
        "chosen": {
            rule: {"point": p, **Coefficients(**_coefs(doc["points"][p])).as_dict()}
            for rule, p in chosen.items()
        },
        "families": families,
        "budgets_ms": budgets,
        "dropped": doc.get("dropped", []),
        "costs": route_costs(search_benchmarks or [], scaling_benchmarks or [], doc["base"].get("subspace")),
    }
    atomic_write_json(output_json, out)
    with atomic_path(output_csv) as tmp:
        pd.DataFrame(rows).drop(columns=["skip"], errors="ignore").to_csv(tmp, index=False)
    plot(out, str(output_png))
    for rule, f in families.items():
        log.info(
            "%s: %s %s; members in budgets %s",
            rule,
            f["point"],
            out["chosen"][rule],
            {s: (m or {}).get("phi") for s, m in f["budgets"].items()},
        )
    return out


def _placed(variants: list[dict[str, Any]], point: str, budgets: dict[str, float]) -> dict[str, Any]:
    """The family of grid point ``point`` (its members by phi) and its largest member inside each budget."""
    members = sorted((v for v in variants if v["point"] == point), key=lambda v: v["phi"])
    placed = {}
    for sub, budget in budgets.items():
        inside = [v for v in members if v["predicted_ms"] < budget]
        placed[sub] = max(inside, key=lambda v: v["predicted_ms"]) if inside else None
    return {"point": point, "members": members, "budgets": placed}


def _coefs(p: dict[str, Any]) -> dict[str, float]:
    return {k: p[k] for k in ("alpha", "beta", "gamma")}


def plot(doc: dict[str, Any], path: str) -> None:
    """Grid points (proxy accuracy vs predicted latency) and each rule's family, with the budgets."""
    from gpunas.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    grid = [r for r in doc["grid"] if r["accuracy"] is not None]
    ax.scatter(
        [r["latency_ms"] for r in grid], [r["accuracy"] for r in grid], c="0.6", label="grid point (phi 1)"
    )
    by_point: dict[str, list[str]] = {}
    for rule, f in doc["families"].items():  # rules that chose the same point share one marker
        by_point.setdefault(f["point"], []).append(rule)
    for i, (point, rules) in enumerate(by_point.items()):
        p = next(r for r in doc["grid"] if r["point"] == point)
        if p["accuracy"] is not None:
            ax.scatter(
                [p["latency_ms"]],
                [p["accuracy"]],
                marker="*",
                s=150,
                color=f"C{i}",
                label=f"{' = '.join(rules)}: {point} (a {p['alpha']:g}, b {p['beta']:g}, g {p['gamma']:g})",
            )
        for m in doc["families"][rules[0]]["members"]:
            ax.axvline(m["predicted_ms"], color=f"C{i}", lw=0.8, ls=":")
    for sub, b in doc["budgets_ms"].items():
        ax.axvline(b, color="k", lw=1, ls="--")
        ax.annotate(sub, (b, ax.get_ylim()[1]), fontsize=8, ha="right", va="top")
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("proxy validation top-1 (%)")
    ax.set_title(
        "Compound scaling grid at phi 1; dotted: each rule's family members; dashed: budgets", fontsize=9
    )
    ax.legend(fontsize=7)
    save_figure(fig, path)
