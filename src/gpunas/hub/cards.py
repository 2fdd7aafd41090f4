"""Hub cards as Markdown: what a tier's model is, how it was trained, how to load it."""

from __future__ import annotations

from typing import Any


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
        f"| predicted latency | {card['predicted_ms']:.4f} ms: {100 * card['budget_used']:.0f}% of the budget "
        f"(< {card['budget_ms']:.4g} ms) |",
        f"| from band | {card['band']}{' (a lower band won: ' + card['note'] + ')' if card.get('note') else ''} |",
        f"| parameters | {card['params']:,} |",
        f"| MACs | {card['macs']:,} |",
        f"| input | RGB in [0, 1], N x 3 x {card['resolution']} x {card['resolution']} (NCHW), normalised inside the model |",
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
        *_input_section(card),
        "```python",
        "from gpunas.hub import classify, load_model, read_image",
        f"model, card = load_model('results/hub/{card['subspace']}')  # torch module, eval mode",
        "x = read_image('cat.png', card)  # 1 x 3 x R x R, RGB in [0, 1], resized as in training",
        "logits = model(x)  # no normalisation: the model does it",
        f"print(classify('results/hub/{card['subspace']}', ['cat.png'], top=3))",
        "```",
        "",
        "ONNX Runtime, same input: `onnxruntime.InferenceSession('model.onnx').run(None, {'input': x.numpy()})`.",
    ]
    return "\n".join(lines) + "\n"


def _input_section(card: dict[str, Any]) -> list[str]:
    """What the model takes: the card's ``preprocessing`` in words (also in the ONNX metadata)."""
    prep = card.get("preprocessing")
    if not prep:
        return []
    fmt = ", ".join
    res = card["resolution"]
    return [
        "## Input",
        "",
        f"- RGB, float32, values in [0, 1], shape N x 3 x {res} x {res} (NCHW); ONNX input `input`, output `logits`.",
        f"- Resize: the training stored images at {prep['decode_size']} x {prep['decode_size']} (Pillow, "
        f"bilinear) and resized them to {res} x {res} ({prep['interpolation']}, PyTorch `align_corners=False`); "
        f"no crop (crop_pct {prep['crop_pct']}).",
        f"- Normalisation is inside the model (its first module, ONNX `Sub`/`Div`): mean "
        f"[{fmt(f'{v:.4f}' for v in prep['mean'])}], std [{fmt(f'{v:.4f}' for v in prep['std'])}] "
        "(the training split's per-channel statistics). Do not normalise again.",
        "- The same facts are in `card.json` (`preprocessing`) and in `model.onnx`'s metadata "
        "(`gpunas.preprocessing`, `mean`, `std`, `input_size`, `interpolation`).",
        "",
    ]
