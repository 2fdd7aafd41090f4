"""Final validation: every hub model measured end to end on the target runtime, against the LUT.

The validation backend follows the LUT's device unless configured: a CPU LUT validates with ONNX
Runtime on the CPU; a GPU LUT with a TensorRT FP16 engine built from the hub's ``model.onnx``
when TensorRT is installed, else with PyTorch CUDA (events, CUDA graphs, fp16). The protocol is
the LUT's (interleaved repeats, warm-up, median of medians). A model whose measured median breaks
its sub-space's budget is flagged (``inside_budget: no``), never dropped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.errors import GpunasError
from gpunas.io import atomic_path
from gpunas.latency.backends import BackendUnavailableError, Runner, import_tensorrt
from gpunas.latency.cache import NetworkCache, network_key
from gpunas.latency.lut import lut_metadata, read_lut
from gpunas.latency.protocol import measure
from gpunas.latency.settings import make_backend, protocol_from

log = logging.getLogger(__name__)

COLUMNS = [
    "model",
    "tier",
    "status",
    "backend",
    "device",
    "precision",
    "hardware",
    "predicted_ms",
    "measured_ms",
    "mad_ms",
    "cv",
    "error_pct",
    "budget_ms",
    "inside_budget",
    "accuracy",
    "arch",
]


def resolve_backend(latency: dict[str, Any], validation: dict[str, Any]) -> dict[str, Any]:
    """The backend config of the validation (``backend: auto`` follows the LUT's device)."""
    cfg = {**latency, **{k: v for k, v in validation.items() if k in ("device", "precision", "threads")}}
    backend = validation.get("backend", "auto")
    if backend == "auto":
        if latency["device"] == "cpu":
            backend = "onnxruntime"
        else:
            try:
                import_tensorrt()
                backend = "tensorrt"
            except BackendUnavailableError as exc:
                log.info("validation on a GPU without TensorRT (%s): using PyTorch CUDA", exc)
                backend, cfg["device"] = "torch", "cuda"
    if backend == "tensorrt":
        cfg["device"] = "cuda"
    return {**cfg, "backend": backend}


def hub_runner(backend: Any, hub_dir: Path, card: dict[str, Any]) -> Runner:
    """A runner of the hub model itself: its exported ONNX (ORT, TensorRT) or its weights (torch)."""
    from gpunas.hub import load_model

    shape = [backend.batch, 3, card["resolution"], card["resolution"]]
    return backend.exported((hub_dir / "model.onnx").read_bytes(), lambda: load_model(hub_dir)[0], shape)


def measure_hub(
    ok: list[tuple[Path, dict[str, Any]]],
    backend: Any,
    protocol: Any,
    meta: dict[str, Any],
    slug: str,
    cache: str | Path | None,
) -> list[dict[str, Any]]:
    """Latency statistics of each hub model, from the network cache where it applies."""
    if not ok:
        return []
    classes = ok[0][1].get("num_classes", meta.get("classes"))
    conditions = lut_metadata(backend.info(), slug, classes, protocol.as_dict())
    store = None
    if cache is not None and all(
        conditions.get(k) == meta.get(k) for k in ("backend", "device", "precision")
    ):
        try:
            store = NetworkCache(cache, conditions)
        except GpunasError as exc:
            log.info("validation does not use the network cache: %s", exc)
    keys = [network_key(c["arch"], c.get("num_classes", classes)) for _, c in ok]
    known = store.lookup(keys) if store is not None else {}
    todo = [(d, c) for (d, c), k in zip(ok, keys, strict=True) if k not in known]
    if todo:
        stats = measure(todo, lambda dc: hub_runner(backend, *dc), protocol, label="hub models")
        stats.insert(0, "key", [network_key(c["arch"], c.get("num_classes", classes)) for _, c in todo])
        stats["measured_at"] = conditions["date"]
        if store is not None:
            store.add(stats)
        known |= {r["key"]: r for r in stats.to_dict(orient="records")}
    log.info("%d hub models: %d measured, %d from the network cache", len(ok), len(todo), len(ok) - len(todo))
    return [dict(known[k]) | {"cached": (d, c) not in todo} for (d, c), k in zip(ok, keys, strict=True)]


def validate(
    hub_dirs: list[str],
    lut: str | Path,
    latency: dict[str, Any],
    validation: dict[str, Any],
    slug: str,
    seed: int,
    output_csv: str | Path,
    output_png: str | Path,
    cache: str | Path | None = None,
) -> pd.DataFrame:
    """Measure every hub model as it ships; ``cache``: the device's network cache, used when the
    validation measures under the LUT's conditions (a model measured before is not measured again)."""
    _, meta = read_lut(lut, expect_slug=slug)
    cfg = resolve_backend(latency, validation)
    backend = make_backend(cfg)
    backend.check()
    p = {**meta.get("protocol", {}), **validation.get("protocol", {})}
    protocol = protocol_from(p, seed)
    cards = [(Path(d), json.loads((Path(d) / "card.json").read_text())) for d in hub_dirs]
    ok = [(d, c) for d, c in cards if c["status"] == "ok"]
    measured = {
        c["subspace"]: row
        for (_, c), row in zip(ok, measure_hub(ok, backend, protocol, meta, slug, cache), strict=True)
    }
    base = {
        "backend": cfg["backend"],
        "device": cfg["device"],
        "precision": cfg["precision"],
        "hardware": backend.hardware(),
    }
    rows = []
    for _, c in cards:
        row = {
            "model": c["subspace"],
            "tier": c["name"],
            "status": c["status"],
            **base,
            "budget_ms": c["budget_ms"],
        }
        m = measured.get(c["subspace"])
        if m is not None:
            err = (m["latency_ms"] - c["predicted_ms"]) / c["predicted_ms"] * 100
            row |= {
                "predicted_ms": c["predicted_ms"],
                "measured_ms": m["latency_ms"],
                "mad_ms": m["mad_ms"],
                "cv": m["cv"],
                "error_pct": err,
                "inside_budget": "yes" if m["latency_ms"] < c["budget_ms"] else "no",
                "accuracy": c["accuracy"],
                "arch": c["arch"],
            }
            if row["inside_budget"] == "no":
                log.warning(
                    "%s breaks its budget: measured %.4f ms >= %.4f ms",
                    c["subspace"],
                    m["latency_ms"],
                    c["budget_ms"],
                )
        rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    with atomic_path(output_csv) as tmp:
        table.to_csv(tmp, index=False)
    plot(
        table,
        str(output_png),
        f"{cfg['backend']} on {base['hardware']} ({cfg['precision']}, batch {cfg['batch']})",
    )
    done = table.dropna(subset=["measured_ms"])
    if len(done):
        log.info(
            "validated %d hub models: median |error| %.1f%%, %d outside their budget",
            len(done),
            float(np.median(np.abs(done["error_pct"]))),
            int((done["inside_budget"] == "no").sum()),
        )
    return table


def plot(table: pd.DataFrame, path: str, title: str) -> None:
    from gpunas.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    done = table.dropna(subset=["measured_ms"]).reset_index(drop=True)
    x = np.arange(len(done))
    ax.bar(x - 0.2, done["predicted_ms"], 0.4, label="predicted (LUT + correction)", color="C0")
    colors = ["C3" if b == "no" else "C2" for b in done["inside_budget"]]
    ax.bar(
        x + 0.2, done["measured_ms"], 0.4, yerr=done["mad_ms"], label="measured median (+-MAD)", color=colors
    )
    for i, r in done.iterrows():
        ax.hlines(r["budget_ms"], i - 0.45, i + 0.45, colors="k", linestyles="--", lw=1)
        flag = "  OVER BUDGET" if r["inside_budget"] == "no" else ""
        ax.annotate(
            f"{r['error_pct']:+.1f}%{flag}",
            (i, max(r["measured_ms"], r["budget_ms"])),
            ha="center",
            va="bottom",
            fontsize=8,
            color="C3" if flag else "k",
        )
    ax.set_xticks(x, [f"{m}\n{t}" for m, t in zip(done["model"], done["tier"], strict=True)])
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"Hub validation: {title}\n(dashed: budget; red: measured over budget)", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)
