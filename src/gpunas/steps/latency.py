"""The rules of the latency phase (rules/latency.smk), one function each, under the rule's name."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.arch import Architecture
from gpunas.errors import GpunasError
from gpunas.evaluators import create_evaluator
from gpunas.io import atomic_write_json
from gpunas.latency import fidelity as fid
from gpunas.latency.cache import NetworkCache, grow, missing_codes, read_cache
from gpunas.latency.estimate import Correction, lut_sums
from gpunas.latency.keys import LayerKey, keys_for_arch, keys_for_space, keys_for_vectors
from gpunas.latency.lut import check_compatible, keys_frame, lut_metadata, read_lut
from gpunas.latency.networks import measure_exported
from gpunas.latency.partition import check_budgets, partition, plot_histogram
from gpunas.latency.protocol import ChunkStore, measure, noise_summary
from gpunas.latency.settings import make_backend, make_protocol
from gpunas.spaces import load_space
from gpunas.spaces.sampling import read_samples, sobol_vectors, write_samples
from gpunas.tables import read_table, write_table

log = logging.getLogger(__name__)


def sample_sobol(
    space: str, m: int, seed: int, output: str | Path, evaluator: dict[str, Any] | None = None
) -> None:
    """2^m scrambled, seeded Sobol candidates of ``space`` (canonical vectors), or the rows of the
    evaluator's table in Sobol order (a table may cover only part of the space)."""
    sp = load_space(space)
    ev = create_evaluator(evaluator or {"type": "train"})
    ev.check_space(sp)
    vectors = ev.candidates(sp, m, seed)
    if vectors is None:
        vectors = sobol_vectors(sp, m=m, seed=seed)
        source = "sobol-scrambled"
    else:
        source = f"table rows in sobol order ({len(vectors)} of {ev.cfg.get('csv')})"
    write_samples(sp, vectors, {}, {"m": m, "seed": seed, "sampler": source}, output)
    log.info(
        "sampled %d candidates of space %s (seed %d, %s) -> %s", len(vectors), sp.name, seed, source, output
    )


def enumerate_layers(
    space: str,
    samples: str | Path | None,
    extra_archs: str | Path | None,
    keys: str,
    conditions: dict[str, Any],
    classes: int,
    reuse: bool,
    slug: str,
    cache: str | Path,
    output_keys: str | Path,
    output_todo: str | Path,
) -> tuple[int, int]:
    """Keys one LUT needs (``keys``: those of the samples, every key of the space, or those of the
    architectures in ``extra_archs``), and those not yet in the device's LUT cache."""
    sp = load_space(space)
    padding = conditions["padding"]
    if keys == "space":
        codes = keys_for_space(sp, classes, padding)
    elif keys == "samples":
        if samples is None:
            raise GpunasError("latency.keys: samples needs the Sobol samples")
        _, vectors, _ = read_samples(sp, samples)
        codes = keys_for_vectors(sp, vectors, classes, padding)
    else:
        archs = read_extra_archs(extra_archs) if extra_archs else []
        codes = np.unique(
            np.array([k.code() for a in archs for k in keys_for_arch(a, classes, padding)], np.int64)
        )
        log.info("%d layer keys of %d architectures (%s)", len(codes), len(archs), extra_archs)
    needed = keys_frame(codes, conditions["batch"], conditions["precision"])
    meta = {"slug": slug, "space": sp.name, "classes": classes, "padding": padding, "mode": keys}
    todo = needed
    if reuse:
        todo = needed[needed["code"].isin(missing_codes(cache, slug, needed["code"].to_numpy(), conditions))]
    write_table(needed, meta, output_keys)
    write_table(todo, meta, output_todo)
    log.info("%d distinct layer keys needed, %d not in the cache -> %s", len(needed), len(todo), output_todo)
    return len(needed), len(todo)


def read_extra_archs(path: str | Path) -> list[Architecture]:
    """Architectures listed in a JSON file ``{"variants": [{"arch": ...}, ...]}`` (e.g. the baselines)."""
    import json

    doc = json.loads(Path(path).read_text())
    return [Architecture.from_string(v["arch"]) for v in doc.get("variants", [])]


def profile_layers(
    todo: str | Path,
    shard: int,
    shards: int,
    cfg: dict[str, Any],
    slug: str,
    classes: int,
    seed: int,
    cache: str | Path,
    output: str | Path,
) -> int:
    """Measure this shard's share of the keys still to profile (keys another job has measured into
    the cache since are not measured again); every row records when and under which protocol."""
    if not 0 <= shard < shards:
        raise GpunasError(f"shard {shard} out of range 0..{shards - 1}")
    df, meta = read_table(todo, "key list")
    if meta.get("slug") != slug:
        raise GpunasError(f"key list {todo} is for {meta.get('slug')!r}, this run targets {slug!r}")
    mine = df.iloc[shard::shards].reset_index(drop=True)
    backend = make_backend(cfg)
    backend.check()
    protocol = make_protocol(cfg, seed + shard)
    conditions = lut_metadata(backend.info(), slug, classes, protocol.as_dict())
    cached = read_cache(cache, slug)
    if cached is not None:  # the device's cache: same conditions (library versions too), or refused
        check_compatible(cached[1], conditions, f"LUT cache {cache}")
        mine = mine[~mine["code"].isin(cached[0]["code"])].reset_index(drop=True)
    keys = [LayerKey.from_code(int(c)) for c in mine["code"]]
    log.info("shard %d/%d: %d keys on %s", shard, shards, len(keys), backend.hardware())
    codes = mine["code"].to_numpy(dtype=np.int64)
    chunks = ChunkStore(Path(output).with_suffix(".parts"), hashlib.sha256(codes.tobytes()).hexdigest())
    stats = measure(keys, backend.layer, protocol, label="layer keys", chunks=chunks)
    out = pd.concat([mine, stats], axis=1)
    out["measured_at"] = conditions["date"]
    out["protocol"] = json.dumps(protocol.as_dict(), sort_keys=True)
    noise = noise_summary(stats, protocol.max_cv)
    if noise.get("noisy"):
        log.warning("shard %d: %s", shard, noise["message"])
    write_table(out, conditions | {"noise": noise}, output)
    chunks.clear()
    return len(keys)


def merge_lut(keys: str | Path, shards: list[str], cache: str | Path, slug: str, output: str | Path) -> int:
    """The LUT of the needed keys from the new shards and the cache; the cache grows."""
    needed, _ = read_table(keys, "key list")
    parts = [read_lut(p, expect_slug=slug) for p in shards]
    lut, meta = grow(cache, slug, needed, parts)
    write_table(lut, meta, output)
    log.info("LUT: %d keys -> %s", len(lut), output)
    return len(lut)


def check_lut_fidelity(
    space: str,
    samples: str | Path,
    lut: str | Path,
    networks: int,
    cfg: dict[str, Any],
    slug: str,
    classes: int,
    seed: int,
    cache: str | Path,
    output_json: str | Path,
    output_png: str | Path,
) -> dict[str, Any]:
    """Networks over the samples' whole latency range, measured as they ship (their exported
    ONNX; from the network cache when measured before), against their LUT sum; the correction,
    applied only when it beats the raw sum; how noisy the layers and networks measured."""
    sp = load_space(space)
    _, vectors, _ = read_samples(sp, samples)
    table, meta = read_lut(lut, expect_slug=slug)
    backend = make_backend(cfg)
    backend.check()
    protocol = make_protocol(cfg, seed)
    conditions = lut_metadata(backend.info(), slug, classes, protocol.as_dict())
    store = NetworkCache(cache, conditions)

    def measure_networks(archs: list[Any]) -> pd.DataFrame:
        return measure_exported(archs, classes, backend, protocol, store)

    report = fid.check(sp, vectors, table, meta, networks, measure_networks, classes, seed)
    lut_noise = noise_summary(table, meta.get("protocol", {}).get("max_cv", 0.1))
    net_noise = noise_summary(
        pd.DataFrame({"cv": [r["measured_cv"] for r in report["rows"]]}), protocol.max_cv
    )
    noisy = bool(lut_noise.get("noisy") or net_noise.get("noisy"))
    report["noise"] = {
        "layers": lut_noise,
        "networks": net_noise,
        "noisy": noisy,
        "summary": "; ".join(n["message"] for n in (lut_noise, net_noise) if n.get("message")),
    }
    if noisy:
        log.warning("NOISY latency measurements: %s", report["noise"]["summary"])
    report |= {"slug": slug, "hardware": backend.hardware()}
    atomic_write_json(output_json, report)
    fid.plot_report(report, str(output_png))
    return report


def estimate_latency(
    space: str,
    samples: str | Path,
    lut: str | Path | None,
    fidelity: str | Path | None,
    slug: str,
    output: str | Path,
    evaluator: dict[str, Any],
) -> None:
    """Predicted latency of every sample: corrected LUT sum, or what the evaluator knows (a table)."""
    sp = load_space(space)
    _, vectors, smeta = read_samples(sp, samples)
    corr = Correction()
    raw = create_evaluator(evaluator).latency(sp, vectors)
    if raw is not None:
        layers = np.zeros(len(raw), dtype=np.int64)
    else:
        if lut is None:
            raise GpunasError(f"estimate_latency: evaluator {evaluator.get('type')!r} needs a LUT")
        table, meta = read_lut(lut, expect_slug=slug)
        raw, layers = lut_sums(sp, vectors, table, meta["classes"], meta["padding"])
        corr = Correction.read(fidelity) if fidelity else Correction()
    predicted = corr.apply(raw, layers)
    extra = {"lut_sum_ms": raw, "layers": layers.astype(np.int16), "predicted_ms": predicted}
    write_samples(sp, vectors, extra, {**smeta, "slug": slug, "correction": corr.__dict__}, output)
    log.info(
        "costed %d candidates: predicted %.3f..%.3f ms", len(predicted), predicted.min(), predicted.max()
    )


def partition_subspaces(
    samples: str | Path, subspaces: dict[str, Any], output_json: str | Path, output_png: str | Path
) -> dict[str, Any]:
    """Latency bands of the costed samples: members, counts, ranges, and a histogram."""
    df, meta = read_table(samples, "samples")
    if "predicted_ms" not in df.columns:
        raise GpunasError(f"samples {samples} have no predicted_ms column (run estimate_latency)")
    latency = df["predicted_ms"].to_numpy()
    result = partition(latency, subspaces)
    result["slug"] = meta.get("slug")
    result["space"] = meta.get("space")
    result["empty_budgets"] = check_budgets(result, latency)
    for line in result["empty_budgets"]:
        log.warning("%s", line)
    for sub in result["subspaces"]:
        if sub["empty"]:
            log.warning(
                "sub-space %s (%s) is EMPTY: no sampled candidate in [%.4g, %.4g) ms",
                sub["id"],
                sub["name"],
                sub["lo_ms"],
                sub["hi_ms"],
            )
        else:
            log.info(
                "sub-space %s (%s): %d candidates, %.4g..%.4g ms",
                sub["id"],
                sub["name"],
                sub["count"],
                sub["min_ms"],
                sub["max_ms"],
            )
    atomic_write_json(output_json, result)
    plot_histogram(latency, result, str(output_png), f"{meta.get('space')} on {meta.get('slug')}")
    return result
