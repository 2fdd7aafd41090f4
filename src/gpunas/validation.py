"""Final validation: every hub model measured end to end on the target runtime, against the LUT.

The validation backend follows the LUT's device unless configured: a CPU LUT validates with ONNX
Runtime on the CPU; a GPU LUT with a TensorRT FP16 engine built from the hub's ``model.onnx``
when TensorRT is installed, else with PyTorch CUDA (events, CUDA graphs, fp16). The protocol is
the LUT's with the validation's settings over it (by default more repeats, spread over time), and
everything is measured now, never read from the network cache: the point is the machine as it is.

A few fidelity networks (``validation.drift.references``, spread over the latency range) are
re-timed in the same interleaved rounds as the hub models; their ratio to their fidelity
measurement is the machine's drift since the LUT (:mod:`gpunas.latency.drift`: reported always,
applied to the predictions only when uniform). Each hub model gets the median of its round
medians with a distribution-free interval, and ``inside_budget`` is yes / no / undecided from that
interval. A model outside its budget is flagged, never dropped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.arch import Architecture
from gpunas.io import atomic_path, atomic_write_json
from gpunas.latency.backends import BackendUnavailableError, Runner, import_tensorrt
from gpunas.latency.drift import DEFAULTS as DRIFT_DEFAULTS
from gpunas.latency.drift import budget_verdict, drift_summary, median_interval, pick_references
from gpunas.latency.lut import read_lut
from gpunas.latency.networks import exported_runner
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
    "drift",
    "predicted_now_ms",
    "measured_ms",
    "low_ms",
    "high_ms",
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


def read_references(fidelity: str | Path | None, count: int) -> list[dict[str, Any]]:
    """``count`` of the fidelity report's networks spread over its latency range (none without a
    report), each with the latency it measured then (``measured_ms``)."""
    if not fidelity or count <= 0:
        return []
    rows = json.loads(Path(fidelity).read_text()).get("rows", [])
    return pick_references(rows, count)


def validate(
    hub_dirs: list[str],
    lut: str | Path,
    latency: dict[str, Any],
    validation: dict[str, Any],
    slug: str,
    seed: int,
    output_csv: str | Path,
    output_png: str | Path,
    fidelity: str | Path | None = None,
    output_json: str | Path | None = None,
) -> pd.DataFrame:
    """Measure every hub model as it ships, and the drift since the LUT on ``fidelity``'s networks.

    Writes the table (``output_csv``, one row per hub tier, :data:`COLUMNS`; latencies in ms), its
    plot and, with ``output_json``, the drift report (:func:`gpunas.latency.drift.drift_summary`
    and each reference's latency then and now)."""
    _, meta = read_lut(lut, expect_slug=slug)
    cfg = resolve_backend(latency, validation)
    backend = make_backend(cfg)
    backend.check()
    p = {**meta.get("protocol", {}), **validation.get("protocol", {})}
    protocol = protocol_from(p, seed)
    confidence = float(validation.get("confidence", 0.95))
    drift_cfg = {**DRIFT_DEFAULTS, **validation.get("drift", {})}
    cards = [(Path(d), json.loads((Path(d) / "card.json").read_text())) for d in hub_dirs]
    ok = [(d, c) for d, c in cards if c["status"] == "ok"]
    refs = read_references(fidelity, int(drift_cfg["references"]))
    classes = int(meta.get("classes") or (ok[0][1].get("num_classes") if ok else 0) or 0)

    def prepare(item: tuple[str, Any]) -> Runner:
        kind, what = item
        if kind == "hub":
            return hub_runner(backend, *what)
        return exported_runner(Architecture.from_string(what["arch"]), classes, backend)

    items = [("hub", dc) for dc in ok] + [("reference", r) for r in refs]
    stats = (
        measure(items, prepare, protocol, label="hub models and references", keep_rounds=True).to_dict(
            orient="records"
        )
        if items
        else []
    )
    hub_stats, ref_stats = stats[: len(ok)], stats[len(ok) :]
    drift = drift_summary(
        [r["measured_ms"] for r in refs],
        [s["latency_ms"] for s in ref_stats],
        float(drift_cfg["tolerance"]),
        float(drift_cfg["threshold"]),
    )
    log.info("drift since the LUT: %s", drift["reason"])
    factor = drift["applied"]
    base = {
        "backend": cfg["backend"],
        "device": cfg["device"],
        "precision": cfg["precision"],
        "hardware": backend.hardware(),
    }
    measured = {c["subspace"]: m for (_, c), m in zip(ok, hub_stats, strict=True)}
    rows = [_row(c, base, measured.get(c["subspace"]), factor, confidence) for _, c in cards]
    table = pd.DataFrame(rows, columns=COLUMNS)
    with atomic_path(output_csv) as tmp:
        table.to_csv(tmp, index=False)
    if output_json is not None:
        atomic_write_json(
            output_json,
            {
                **drift,
                **drift_cfg,
                "confidence": confidence,
                "protocol": protocol.as_dict(),
                "reference_networks": [
                    {
                        "arch": r["arch"],
                        "then_ms": float(r["measured_ms"]),
                        "now_ms": s["latency_ms"],
                        "now_interval_ms": list(median_interval(s["rounds_ms"], confidence)),
                        "now_cv": s["cv"],
                    }
                    for r, s in zip(refs, ref_stats, strict=True)
                ],
            },
        )
    measured_drift = "not measured" if drift["drift"] is None else f"x{drift['drift']:.3f}"
    plot(
        table,
        str(output_png),
        f"{cfg['backend']} on {base['hardware']} ({cfg['precision']}, batch {cfg['batch']}); "
        f"drift {measured_drift}, {'applied' if factor != 1.0 else 'not applied'}",
    )
    done = table.dropna(subset=["measured_ms"])
    if len(done):
        log.info(
            "validated %d hub models: median |error| %.1f%%; inside budget: %d yes, %d no, %d undecided",
            len(done),
            float(np.median(np.abs(done["error_pct"]))),
            int((done["inside_budget"] == "yes").sum()),
            int((done["inside_budget"] == "no").sum()),
            int((done["inside_budget"] == "undecided").sum()),
        )
    return table


def _row(
    card: dict[str, Any], base: dict[str, Any], m: dict[str, Any] | None, factor: float, confidence: float
) -> dict[str, Any]:
    """One tier's row of the validation table (no latency columns without a measurement)."""
    row = {
        "model": card["subspace"],
        "tier": card["name"],
        "status": card["status"],
        **base,
        "budget_ms": card["budget_ms"],
    }
    if m is None:
        return row
    low, high = median_interval(m["rounds_ms"], confidence)
    predicted_now = card["predicted_ms"] * factor
    verdict = budget_verdict(low, high, card["budget_ms"], factor)
    if verdict != "yes":
        log.warning(
            "%s inside its budget: %s (measured %.4f ms, %.0f%% interval [%.4f, %.4f], in the LUT's time "
            "/ %.3f; budget < %.4f ms)",
            card["subspace"],
            verdict,
            m["latency_ms"],
            100 * confidence,
            low,
            high,
            factor,
            card["budget_ms"],
        )
    return row | {
        "predicted_ms": card["predicted_ms"],
        "drift": factor,
        "predicted_now_ms": predicted_now,
        "measured_ms": m["latency_ms"],
        "low_ms": low,
        "high_ms": high,
        "mad_ms": m["mad_ms"],
        "cv": m["cv"],
        "error_pct": (m["latency_ms"] - predicted_now) / predicted_now * 100,
        "inside_budget": verdict,
        "accuracy": card["accuracy"],
        "arch": card["arch"],
    }


def plot(table: pd.DataFrame, path: str, title: str) -> None:
    from gpunas.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    done = table.dropna(subset=["measured_ms"]).reset_index(drop=True)
    x = np.arange(len(done))
    ax.bar(x - 0.2, done["predicted_now_ms"], 0.4, label="predicted (LUT + correction, x drift)", color="C0")
    colors = [{"no": "C3", "undecided": "C1"}.get(b, "C2") for b in done["inside_budget"]]
    err = np.vstack([done["measured_ms"] - done["low_ms"], done["high_ms"] - done["measured_ms"]])
    ax.bar(x + 0.2, done["measured_ms"], 0.4, yerr=err, label="measured median (interval)", color=colors)
    for i, r in done.iterrows():
        ax.hlines(r["budget_ms"] * r["drift"], i - 0.45, i + 0.45, colors="k", linestyles="--", lw=1)
        flag = {"no": "  OVER BUDGET", "undecided": "  UNDECIDED"}.get(r["inside_budget"], "")
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
    ax.set_title(
        f"Hub validation: {title}\n(dashed: budget x drift; red: over budget; orange: undecided)", fontsize=9
    )
    ax.legend(fontsize=8)
    save_figure(fig, path)
