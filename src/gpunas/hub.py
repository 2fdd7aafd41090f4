"""The model hub: the best searched network of each latency sub-space, with card and files.

``results/hub/<subspace>/`` holds ``card.json`` + ``card.md`` always, and for a tier with a
winner also ``encoding.json``, ``arch.txt``, ``arch.json`` (NVIDIA's layer list),
``weights.pt`` and ``model.onnx`` (checked against PyTorch). :func:`load_model` returns a hub
model with its weights, ready for inference.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpunas.arch import Architecture
from gpunas.io import atomic_path, atomic_write_json, atomic_write_text, atomic_write_with
from gpunas.nvidia import to_nvidia
from gpunas.plotting import pyplot, save_figure
from gpunas.search.steps import read_history, read_subspace

log = logging.getLogger(__name__)
ONNX_TOLERANCE = 1e-4


def pick_winner(history: pd.DataFrame, lo_ms: float, hi_ms: float) -> pd.Series | None:
    """Most accurate successful trial whose predicted latency is inside [lo, hi); ties: faster."""
    ok = history[
        (history["status"] == "complete")
        & np.isfinite(history["accuracy"].astype(float))
        & (history["predicted_ms"] >= lo_ms)
        & (history["predicted_ms"] < hi_ms)
    ]
    if ok.empty:
        return None
    return ok.sort_values(
        ["accuracy", "predicted_ms", "round", "slot"], ascending=[False, True, True, True]
    ).iloc[0]


def export_onnx(model: Any, resolution: int, path: Path) -> float:
    """Export with the TorchScript-based exporter; return max |ORT - torch| on random inputs."""
    import onnxruntime as ort
    import torch

    model.eval()
    x = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(0))

    def write(tmp: Path) -> None:
        torch.onnx.export(
            model, (x,), str(tmp), dynamo=False, input_names=["input"], output_names=["logits"],
            opset_version=17, dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )  # fmt: skip

    atomic_write_with(path, write)
    with torch.inference_mode():
        ref = model(x).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    return float(np.abs(got - ref).max())


def select_hub(
    history: str | Path, subspaces: str | Path, subspace: str, train: dict[str, Any], data: dict[str, Any],
    seed: int, outdir: str | Path, evaluator: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    import torch

    from gpunas.models.builder import build_model

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    sub = read_subspace(subspaces, subspace)
    hist = read_history(history)
    card: dict[str, Any] = {
        "subspace": subspace,
        "name": sub["name"],
        "budget_ms": sub["hi_ms"],
        "band_ms": [sub["lo_ms"], sub["hi_ms"]],
        "trials": len(hist),
        "failed": int((hist["status"] == "failed").sum()),
        "training": train,
        "data": data,
        "seed": seed,
    }
    best = pick_winner(hist, sub["lo_ms"], sub["hi_ms"])
    if sub["empty"]:
        card |= {"status": "empty", "reason": "no sampled candidate has a predicted latency in this band"}
    elif best is None:
        reasons = sorted(set(hist.loc[hist["status"] == "failed", "reason"]))
        card |= {
            "status": "all_failed",
            "reason": "every trial of this sub-space failed",
            "failures": reasons[:10],
        }
    elif evaluator and evaluator.get("type") == "table":  # lookups: no weights, no ONNX
        encoding = [int(v) for v in best["encoding"].split(",")]
        atomic_write_json(out / "encoding.json", encoding)
        atomic_write_text(out / "arch.txt", best["arch"] + "\n")
        card |= {
            "status": "ok",
            "evaluator": evaluator,
            "accuracy": float(best["accuracy"]),
            "predicted_ms": float(best["predicted_ms"]),
            "arch": best["arch"],
            "encoding": encoding,
            "trial": {"round": int(best["round"]), "slot": int(best["slot"])},
            "files": ["encoding.json", "arch.txt"],
        }
    else:
        arch = Architecture.from_string(best["arch"])
        ckpt = torch.load(Path(best["trial_dir"]) / "weights.pt", map_location="cpu", weights_only=True)
        model = build_model(arch, ckpt["num_classes"])
        model.load_state_dict(ckpt["state_dict"])
        with atomic_path(out / "weights.pt") as tmp:
            shutil.copyfile(Path(best["trial_dir"]) / "weights.pt", tmp)
        diff = export_onnx(model, arch.resolution, out / "model.onnx")
        if diff > ONNX_TOLERANCE:
            raise ValueError(
                f"ONNX export of {subspace} differs from PyTorch by {diff:.2e} (> {ONNX_TOLERANCE})"
            )
        atomic_write_json(out / "encoding.json", [int(v) for v in best["encoding"].split(",")])
        atomic_write_text(out / "arch.txt", arch.to_string() + "\n")
        atomic_write_json(out / "arch.json", to_nvidia(arch, ckpt["num_classes"]))
        card |= {
            "status": "ok",
            "accuracy": float(best["accuracy"]),
            "predicted_ms": float(best["predicted_ms"]),
            "params": int(best["params"]),
            "macs": int(best["macs"]),
            "arch": arch.to_string(),
            "encoding": [int(v) for v in best["encoding"].split(",")],
            "resolution": arch.resolution,
            "num_classes": int(ckpt["num_classes"]),
            "norm": ckpt.get("norm"),
            "trial": {"round": int(best["round"]), "slot": int(best["slot"]), "dir": best["trial_dir"]},
            "onnx_max_abs_diff": diff,
            "files": ["encoding.json", "arch.txt", "arch.json", "weights.pt", "model.onnx"],
        }
    atomic_write_json(out / "card.json", card)
    atomic_write_text(out / "card.md", card_markdown(card))
    log.info("hub %s: %s %s", subspace, card["status"], card.get("accuracy", card.get("reason")))
    return card


def card_markdown(card: dict[str, Any]) -> str:
    lines = [f"# gpunas hub model: {card['subspace']} ({card['name']})", ""]
    if card["status"] != "ok":
        lines += [
            f"**No model**: {card['reason']}.",
            "",
            f"Trials: {card['trials']}, failed: {card['failed']}.",
        ]
        lines += [f"- {r}" for r in card.get("failures", [])]
        return "\n".join(lines) + "\n"
    if "evaluator" in card:
        ev = card["evaluator"]
        lines += [
            f"Table lookup ({ev['csv']}): {ev['accuracy']} = {card['accuracy']:.2f}%, "
            f"{ev['latency']} = {card['predicted_ms']:.4g} ms (budget < {card['budget_ms']:.4g} ms).",
            "",
            f"    {card['arch']}",
            "",
            f"Encoding: `{card['encoding']}`",
        ]
        return "\n".join(lines) + "\n"
    t = card["training"]
    lines += [
        "| | |",
        "|---|---|",
        f"| validation top-1 (proxy task) | {card['accuracy']:.2f}% |",
        f"| predicted latency | {card['predicted_ms']:.4f} ms (budget < {card['budget_ms']:.4g} ms) |",
        f"| parameters | {card['params']:,} |",
        f"| MACs | {card['macs']:,} |",
        f"| input | 3 x {card['resolution']} x {card['resolution']} |",
        f"| training budget | {t.get('epochs')} epochs, batch {t.get('batch_size')}, AdamW lr {t.get('lr')} |",
        f"| data | {card['data'].get('source')} ({card['data'].get('train_images')} train / {card['data'].get('val_images')} val images) |",
        f"| seed | {card['seed']} |",
        f"| ONNX vs PyTorch | max abs diff {card['onnx_max_abs_diff']:.1e} |",
        "",
        "Architecture:",
        "",
        f"    {card['arch']}",
        "",
        f"Encoding: `{card['encoding']}`",
        "",
        "Files: " + ", ".join(f"`{f}`" for f in card["files"]),
        "",
        "```python",
        "from gpunas.hub import load_model",
        f"model, card = load_model('results/hub/{card['subspace']}')",
        "```",
    ]
    return "\n".join(lines) + "\n"


def load_model(hub_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """A hub model with its trained weights (eval mode) and its card."""
    import torch

    from gpunas.models.builder import build_model

    hub_dir = Path(hub_dir)
    card = json.loads((hub_dir / "card.json").read_text())
    if card.get("status") != "ok":
        raise ValueError(f"{hub_dir}: this tier has no model ({card.get('reason')})")
    arch = Architecture.from_string((hub_dir / "arch.txt").read_text().strip())
    ckpt = torch.load(hub_dir / "weights.pt", map_location="cpu", weights_only=True)
    model = build_model(arch, ckpt["num_classes"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), card


def pareto_front(df: pd.DataFrame) -> pd.DataFrame:
    """Trials not beaten by another that is both faster (or equal) and more accurate."""
    ok = df[df["status"] == "complete"].sort_values(["predicted_ms", "accuracy"], ascending=[True, False])
    best, keep = -np.inf, []
    for idx, acc in zip(ok.index, ok["accuracy"], strict=True):
        if acc > best:
            keep.append(idx)
            best = acc
    return ok.loc[keep]


def summarize_search(
    histories: list[str], cards: list[str], subspaces: str | Path, out_json: str | Path, out_pareto: str | Path,
    out_scatter: str | Path, out_progress: str | Path,
) -> dict[str, Any]:  # fmt: skip
    hist = pd.concat([read_history(h) for h in histories], ignore_index=True)
    tiers = [json.loads(Path(c).read_text()) for c in cards]
    front = pareto_front(hist)
    atomic_write_with(out_pareto, lambda tmp: front.to_csv(tmp, index=False))
    doc = {
        "tiers": [
            {
                k: t.get(k)
                for k in ("subspace", "name", "status", "accuracy", "predicted_ms", "params", "arch")
            }
            for t in tiers
        ],
        "trials": len(hist),
        "failed": int((hist["status"] == "failed").sum()),
        "pareto": len(front),
    }
    atomic_write_json(out_json, doc)
    bands = json.loads(Path(subspaces).read_text())["subspaces"]
    plot_scatter(hist, front, bands, tiers, str(out_scatter))
    plot_progress(hist, str(out_progress))
    return doc


def plot_scatter(
    hist: pd.DataFrame, front: pd.DataFrame, bands: list[dict], tiers: list[dict], path: str
) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    ok = hist[hist["status"] == "complete"]
    for sub, grp in ok.groupby("subspace"):
        ax.scatter(grp["predicted_ms"], grp["accuracy"], s=16, alpha=0.7, label=sub)
    ax.plot(front["predicted_ms"], front["accuracy"], color="black", linewidth=1, drawstyle="steps-post",
            label="Pareto front")  # fmt: skip
    for t in tiers:
        if t.get("status") == "ok":
            ax.scatter([t["predicted_ms"]], [t["accuracy"]], marker="*", s=160, color="gold", edgecolor="black",
                       zorder=5)  # fmt: skip
    for b in bands:
        ax.axvline(b["hi_ms"], color="#c44e52", linestyle="--", linewidth=1)
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title("Trained candidates (stars: hub models; dashed: budgets)")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_progress(hist: pd.DataFrame, path: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for sub, grp in hist.groupby("subspace"):
        per_round = grp.groupby("round")["accuracy"].max().sort_index()
        ax.plot(per_round.index, per_round.cummax().to_numpy(), marker="o", label=sub)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel("best validation top-1 so far (%)")
    ax.set_title("Search progress per sub-space")
    ax.legend(fontsize=8)
    save_figure(fig, path)
