"""Entry points of the latency-phase rules (one function per rule, explicit arguments)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.io import atomic_write_json
from gpunas.latency import fidelity as fid
from gpunas.latency.backends import Backend, create_backend
from gpunas.latency.estimate import Correction, lut_sums
from gpunas.latency.keys import LayerKey, keys_for_space, keys_for_vectors
from gpunas.latency.lut import (
    check_compatible,
    device_slug,
    keys_frame,
    lut_metadata,
    merge,
    read_lut,
    read_table,
    write_table,
)
from gpunas.latency.partition import assign, budget_edges, partition, plot_histogram
from gpunas.latency.protocol import Protocol, measure
from gpunas.sampling import sobol_vectors
from gpunas.space import SearchSpace, load_space
from gpunas.tabular import cached_evaluator

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------- config
def make_backend(cfg: dict[str, Any]) -> Backend:
    """The backend described by the ``latency`` config section."""
    return create_backend(
        cfg["backend"],
        device=cfg["device"],
        precision=cfg["precision"],
        batch=cfg["batch"],
        threads=cfg["threads"],
        padding=cfg.get("padding", "same"),
        options=cfg.get("options", {}),
    )


def resolve_slug(cfg: dict[str, Any]) -> str:
    """Device slug of the LUT path; ``hardware: auto`` detects this machine's CPU or GPU."""
    hardware = cfg["hardware"]
    if hardware == "auto":
        hardware = make_backend(cfg).hardware()
    return device_slug(cfg["backend"], cfg["device"], hardware, cfg["precision"], cfg["batch"])


def make_protocol(cfg: dict[str, Any], seed: int) -> Protocol:
    p = cfg.get("protocol", {})
    return Protocol(
        repeats=p.get("repeats", 5),
        warmup=p.get("warmup", 5),
        runs=p.get("runs", 20),
        chunk=p.get("chunk", 256),
        seed=seed,
    )


# ------------------------------------------------------------------------------ samples
def write_samples(
    space: SearchSpace, vectors: np.ndarray, extra: dict[str, np.ndarray], meta: dict, path: str | Path
) -> None:
    df = pd.DataFrame(vectors, columns=[f.name for f in space.fields])
    df.insert(0, "sample", np.arange(len(df), dtype=np.int64))
    for name, values in extra.items():
        df[name] = values
    write_table(df, {"space": space.name, **meta}, path)


def read_samples(space: SearchSpace, path: str | Path) -> tuple[pd.DataFrame, np.ndarray, dict]:
    df, meta = read_table(path, "samples")
    if meta.get("space") != space.name:
        raise ValueError(f"samples {path} belong to space {meta.get('space')!r}, not {space.name!r}")
    names = [f.name for f in space.fields]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ValueError(f"samples {path} lack fields {missing[:3]}")
    return df, df[names].to_numpy(), meta


def sample_sobol(space: str, m: int, seed: int, output: str | Path) -> None:
    sp = load_space(space)
    vectors = sobol_vectors(sp, m=m, seed=seed)
    write_samples(sp, vectors, {}, {"m": m, "seed": seed, "sampler": "sobol-scrambled"}, output)
    log.info(
        "sampled 2^%d = %d candidates of space %s (seed %d) -> %s", m, len(vectors), sp.name, seed, output
    )


# ------------------------------------------------------------------------------- layers
def enumerate_layers(
    space: str,
    samples: str | Path | None,
    cfg: dict[str, Any],
    classes: int,
    slug: str,
    cache: str | Path,
    output_keys: str | Path,
    output_todo: str | Path,
    baselines: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """Keys needed (by the samples, or all keys of the space, plus the baselines' variants) and
    those not yet in the cache."""
    sp = load_space(space)
    padding = cfg.get("padding", "same")
    if cfg["keys"] == "space":
        codes = keys_for_space(sp, classes, padding)
    else:
        if samples is None:
            raise ValueError("latency.keys: samples needs the Sobol samples")
        _, vectors, _ = read_samples(sp, samples)
        codes = keys_for_vectors(sp, vectors, classes, padding)
    if baselines and baselines.get("enabled", True):
        from gpunas.baselines import variant_codes

        extra = variant_codes(sp, baselines, classes, padding)
        log.info("%d layer keys of the hand-designed baselines", len(extra))
        codes = np.union1d(codes, extra)
    needed = keys_frame(codes, cfg["batch"], cfg["precision"])
    meta = {"slug": slug, "space": sp.name, "classes": classes, "padding": padding, "mode": cfg["keys"]}
    todo = needed
    if Path(cache).exists() and cfg.get("reuse", True):
        cached, cmeta = read_lut(cache, expect_slug=slug)
        check_compatible({**cmeta, "classes": classes, "padding": padding}, cmeta, f"LUT cache {cache}")
        todo = needed[~needed["code"].isin(cached["code"])]
    write_table(needed, meta, output_keys)
    write_table(todo, meta, output_todo)
    log.info("%d distinct layer keys needed, %d not in the cache -> %s", len(needed), len(todo), output_todo)
    return len(needed), len(todo)


def profile_layers(
    todo: str | Path,
    shard: int,
    shards: int,
    cfg: dict[str, Any],
    slug: str,
    classes: int,
    seed: int,
    output: str | Path,
) -> int:
    """Measure this shard's share of the keys still to profile."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} out of range 0..{shards - 1}")
    df, meta = read_table(todo, "key list")
    if meta.get("slug") != slug:
        raise ValueError(f"key list {todo} is for {meta.get('slug')!r}, this run targets {slug!r}")
    mine = df.iloc[shard::shards].reset_index(drop=True)
    backend = make_backend(cfg)
    backend.check()
    protocol = make_protocol(cfg, seed + shard)
    keys = [LayerKey.from_code(int(c)) for c in mine["code"]]
    log.info("shard %d/%d: %d keys on %s", shard, shards, len(keys), backend.hardware())
    stats = measure(keys, backend.layer, protocol, label="layer keys")
    out = pd.concat([mine, stats], axis=1)
    write_table(out, lut_metadata(backend.info(), slug, classes, protocol.as_dict()), output)
    return len(keys)


def merge_lut(keys: str | Path, shards: list[str], cache: str | Path, slug: str, output: str | Path) -> int:
    needed, _ = read_table(keys, "key list")
    parts = [read_lut(p, expect_slug=slug) for p in shards]
    cached = read_lut(cache, expect_slug=slug) if Path(cache).exists() else None
    lut, allrows, meta = merge(needed, parts, cached)
    write_table(allrows, {**meta, "keys": len(allrows)}, cache)
    write_table(lut, meta, output)
    log.info("LUT: %d keys (%d in the cache) -> %s", len(lut), len(allrows), output)
    return len(lut)


# ---------------------------------------------------------------------------- fidelity
def check_lut_fidelity(
    space: str,
    samples: str | Path,
    lut: str | Path,
    subspaces: dict[str, Any],
    per_subspace: int,
    cfg: dict[str, Any],
    slug: str,
    classes: int,
    seed: int,
    output_json: str | Path,
    output_png: str | Path,
) -> dict[str, Any]:
    sp = load_space(space)
    _, vectors, _ = read_samples(sp, samples)
    table, meta = read_lut(lut, expect_slug=slug)
    raw, layers = lut_sums(sp, vectors, table, classes, meta["padding"])
    band = assign(raw, budget_edges(raw, subspaces))
    picks = fid.pick_networks(band, per_subspace, seed)
    backend = make_backend(cfg)
    backend.check()
    archs = [sp.decode(vectors[i]) for i in picks]
    stats = measure(archs, lambda a: backend.network(a, classes), make_protocol(cfg, seed), label="networks")
    measured = stats["latency_ms"].to_numpy()
    report = fid.evaluate(raw[picks], layers[picks].astype(float), measured)
    report |= {
        "slug": slug,
        "hardware": backend.hardware(),
        "per_subspace": per_subspace,
        "rows": [
            {"sample": int(i), "band": int(band[i]), "arch": a.to_string(), "layers": int(layers[i]),
             "lut_sum_ms": float(raw[i]), "measured_ms": float(m), "measured_cv": float(cv)}
            for i, a, m, cv in zip(picks, archs, measured, stats["cv"], strict=True)
        ],
    }  # fmt: skip
    atomic_write_json(output_json, report)
    title = (
        f"{slug}\nbefore: MAPE {report['before']['mape_pct']:.1f}%, tau {report['before']['kendall_tau']:.2f}; "
        f"after: MAPE {report['after']['mape_pct']:.1f}%, tau {report['after']['kendall_tau']:.2f}"
    )
    fid.plot_scatter(raw[picks], np.array(report["loo_predicted_ms"]), measured, str(output_png), title)
    log.info("fidelity on %d networks: before %s after %s", len(picks), report["before"], report["after"])
    return report


def read_correction(path: str | Path) -> Correction:
    try:
        doc = json.loads(Path(path).read_text())
        c = doc["correction"]
        return Correction(float(c["a"]), float(c["b"]), float(c["c"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"fidelity report {path} is unreadable or lacks 'correction' ({exc})") from None


# --------------------------------------------------------------------- costing, bands
def estimate_latency(
    space: str,
    samples: str | Path,
    lut: str | Path | None,
    fidelity: str | Path | None,
    slug: str,
    output: str | Path,
    evaluator: dict[str, Any] | None = None,
) -> None:
    """Predicted latency of every sample: corrected LUT sum, or a table lookup (evaluator: table)."""
    sp = load_space(space)
    _, vectors, smeta = read_samples(sp, samples)
    corr = Correction()
    if evaluator and evaluator.get("type") == "table":
        ev = cached_evaluator(sp, evaluator)
        raw = ev.latency[ev.rows_for(vectors)]
        layers = np.zeros(len(raw), dtype=np.int64)
    else:
        if lut is None:
            raise ValueError("estimate_latency needs a LUT unless evaluator.type is table")
        table, meta = read_lut(lut, expect_slug=slug)
        raw, layers = lut_sums(sp, vectors, table, meta["classes"], meta["padding"])
        corr = read_correction(fidelity) if fidelity else Correction()
    predicted = corr.apply(raw, layers)
    extra = {"lut_sum_ms": raw, "layers": layers.astype(np.int16), "predicted_ms": predicted}
    write_samples(sp, vectors, extra, {**smeta, "slug": slug, "correction": corr.__dict__}, output)
    log.info(
        "costed %d candidates: predicted %.3f..%.3f ms", len(predicted), predicted.min(), predicted.max()
    )


def partition_subspaces(
    samples: str | Path, subspaces: dict[str, Any], output_json: str | Path, output_png: str | Path
) -> dict[str, Any]:
    df, meta = read_table(samples, "samples")
    if "predicted_ms" not in df.columns:
        raise ValueError(f"samples {samples} have no predicted_ms column (run estimate_latency)")
    latency = df["predicted_ms"].to_numpy()
    result = partition(latency, subspaces)
    result["slug"] = meta.get("slug")
    result["space"] = meta.get("space")
    for sub in result["subspaces"]:
        if sub["empty"]:
            log.warning("sub-space %s (%s) is EMPTY: no sampled candidate in [%.4g, %.4g) ms",
                        sub["id"], sub["name"], sub["lo_ms"], sub["hi_ms"])  # fmt: skip
        else:
            log.info("sub-space %s (%s): %d candidates, %.4g..%.4g ms",
                     sub["id"], sub["name"], sub["count"], sub["min_ms"], sub["max_ms"])  # fmt: skip
    atomic_write_json(output_json, result)
    plot_histogram(latency, result, str(output_png), f"{meta.get('space')} on {meta.get('slug')}")
    return result
