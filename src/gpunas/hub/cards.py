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
