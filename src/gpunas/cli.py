"""The ``gpunas`` command: inspect architectures, spaces, LUTs and the model hub of a run.

The search itself runs as a Snakemake workflow (``snakemake --cores 2``); this command looks at
what it uses and produces. Errors in user input are reported as one line on stderr with exit
code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from gpunas.arch import format_number
from gpunas.errors import GpunasError
from gpunas.models.counting import arch_stats
from gpunas.parse import nvidia_source, parse_arch
from gpunas.spaces import load_space


def _describe(args: argparse.Namespace) -> int:
    space = load_space(args.space) if args.space else None
    arch = parse_arch(args.arch, space or load_space("gpunet"))
    if args.resolution is not None:
        if args.resolution < 8:
            raise GpunasError(f"--resolution must be >= 8, got {args.resolution}")
        arch = dataclasses.replace(arch, resolution=args.resolution)
    if args.classes < 1:
        raise GpunasError(f"--classes must be >= 1, got {args.classes}")
    rows = arch_stats(arch, args.classes, args.padding)
    params, macs = sum(r.params for r in rows), sum(r.macs for r in rows)
    source = nvidia_source(args.arch)
    out = sys.stdout
    if args.json:
        layers = [r.row() for r in rows]
        if source is not None:  # layer i is record i + 1 of the file; the head row is its tail record
            for i, row in enumerate(layers):
                row["record"] = i + 1
        doc = {
            "arch": arch.to_string(),
            "resolution": arch.resolution,
            "classes": args.classes,
            "padding": args.padding,
            "params": params,
            "macs": macs,
            "layers": layers,
        }
        if source is not None:
            doc["source"] = str(source)
        if space is not None:
            doc["space"] = space.name
            where = (lambda i: f"{source}: record {i + 1}") if source is not None else None
            doc["encoding"] = space.encode(arch, where)
        out.write(json.dumps(doc, indent=2) + "\n")
        return 0
    out.write(f"{arch.to_string()}\n\n")
    header = f"{'layer':<11}{'type':<11}{'in':>5}{'out':>6}{'k':>3}{'s':>3}{'e':>6} {'act':<6}{'se':<4}"
    header += f"{'output':>16}{'params':>12}{'MACs':>15}"
    out.write(header + "\n" + "-" * len(header) + "\n")
    for r in rows:
        shape = f"{r.out_channels}x{r.out_hw}x{r.out_hw}" if r.block != "head" else f"{r.out_channels}"
        out.write(
            f"{r.name:<11}{r.block:<11}{r.in_channels:>5}{r.out_channels:>6}{r.kernel:>3}{r.stride:>3}"
            f"{format_number(r.expansion):>6} {r.act:<6}{'yes' if r.se else '-':<4}{shape:>16}{r.params:>12,}{r.macs:>15,}\n"
        )
    out.write("-" * len(header) + "\n")
    out.write(f"total: {params:,} parameters, {macs / 1e9:.3f} GMACs at {arch.resolution} px\n")
    return 0


def _space(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    summary = space.summary()
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return 0
    sys.stdout.write(
        f"space {space.name} ({space.source}): {space.dim} integers, "
        f"{summary['cardinality']:.3e} distinct architectures\n"
    )
    for f in summary["fields"]:
        sys.stdout.write(f"  [{f['index']:2d}] {f['name']:<18} {f['size']:>3} choices {f['choices']}\n")
    return 0


def _hub_list(args: argparse.Namespace) -> int:
    from pathlib import Path

    hub = Path(args.results) / "hub"
    cards = sorted(hub.glob("*/card.json"), key=lambda p: int(p.parent.name.lstrip("s") or 0))
    if not cards:
        raise GpunasError(f"{hub}: no hub cards (run the workflow first: snakemake --cores 2)")
    measured: dict[str, dict[str, Any]] = {}
    validation = Path(args.results) / "validation" / "validation.csv"
    if validation.exists():
        import pandas as pd

        val = pd.read_csv(validation).dropna(subset=["measured_ms"])
        measured = {str(r["model"]): r for r in val.to_dict(orient="records")}
    tiers = [json.loads(c.read_text()) for c in cards]
    for t in tiers:
        v = measured.get(t["subspace"], {})
        t["measured_ms"] = v.get("measured_ms")
        t["inside_budget"] = v.get("inside_budget")  # yes / no / undecided (validation's interval)
    if args.json:
        sys.stdout.write(json.dumps(tiers, indent=2) + "\n")
        return 0
    sys.stdout.write(
        f"{'tier':<5}{'budget':>12}{'status':>12}{'top-1 %':>9}{'pred ms':>10}{'used':>6}{'meas ms':>10}"
        f"{'inside':>10}{'band':>6}{'params':>11}  arch\n"
    )
    for t in tiers:
        ok = t["status"] == "ok"
        acc = f"{t['accuracy']:.2f}" if ok else "-"
        pred = f"{t['predicted_ms']:.4f}" if ok else "-"
        used = f"{100 * t['budget_used']:.0f}%" if ok and "budget_used" in t else "-"
        meas = f"{t['measured_ms']:.4f}" if t.get("measured_ms") is not None else "-"
        band = t.get("band", "-") if ok else "-"
        params = f"{t['params']:,}" if ok and t.get("params", -1) >= 0 else "-"
        what = t.get("arch") if ok else t.get("reason", "")
        sys.stdout.write(
            f"{t['subspace']:<5}{t['name']:>12}{t['status']:>12}{acc:>9}{pred:>10}{used:>6}{meas:>10}"
            f"{t.get('inside_budget') or '-':>10}{band:>6}"
            f"{params:>11}  {what}\n"
        )
    return 0


def _hub_predict(args: argparse.Namespace) -> int:
    from gpunas.hub import classify

    for path, top in zip(args.images, classify(args.tier, args.images, top=args.top), strict=True):
        sys.stdout.write(f"{path}\t" + "\t".join(f"{name} {100 * p:.1f}%" for name, p in top) + "\n")
    return 0


def _config_reference(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gpunas.config import reference_markdown

    text = reference_markdown()
    if not args.output:
        sys.stdout.write(text)
        return 0
    for path in args.output:
        Path(path).write_text(text)
        logging.getLogger(__name__).info("wrote %s", path)
    return 0


def _lut_show(args: argparse.Namespace) -> int:
    from gpunas.latency.lut import read_lut

    df, meta = read_lut(args.lut)
    slowest = df.sort_values("latency_ms", ascending=False).head(args.top)
    info = {
        "metadata": meta,
        "keys": len(df),
        "total_ms": float(df["latency_ms"].sum()),
        "median_ms": float(df["latency_ms"].median()),
        "median_cv": float(df["cv"].median()),
        "slowest": slowest[["key", "latency_ms", "cv"]].to_dict("records"),
    }
    if args.json:
        sys.stdout.write(json.dumps(info, indent=2, default=str) + "\n")
        return 0
    for key in (
        "slug",
        "backend",
        "device",
        "hardware",
        "precision",
        "batch",
        "threads",
        "padding",
        "classes",
        "unit",
        "date",
    ):
        sys.stdout.write(f"{key:<10} {meta.get(key)}\n")
    sys.stdout.write(f"{'versions':<10} {meta.get('versions')}\n{'protocol':<10} {meta.get('protocol')}\n")
    sys.stdout.write(
        f"keys       {len(df):,} (median {info['median_ms']:.4f} ms, median CV {info['median_cv']:.3f})\n"
    )
    sys.stdout.write(f"slowest {args.top}:\n")
    for row in info["slowest"]:
        sys.stdout.write(f"  {row['latency_ms']:10.4f} ms  cv {row['cv']:.3f}  {row['key']}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    parser = argparse.ArgumentParser(
        prog="gpunas",
        description="Inspect what gpunas's search uses and produces: architectures, search spaces, latency "
        "lookup tables and the model hub. The search itself runs as a Snakemake workflow: "
        "`snakemake --cores 2` in the repository (see README.md and docs/).",
        epilog="examples:\n"
        "  gpunas describe GPUNet-0                      a released GPUNet: stages, parameters, MACs\n"
        "  gpunas space gpunet                           fields, choices and cardinality of a space\n"
        "  gpunas hub list results                       the tiers of a finished run\n"
        "  gpunas hub predict results/hub/s0 cat.png     classify image files with a tier's model\n"
        "  gpunas lut show results/lut/<device>/search/lut.parquet\n"
        "  gpunas config reference                       every config key, from the schema",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gpunas {version('gpunas')}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "describe",
        help="per-layer table, parameters and MACs of one architecture",
        description="ARCH is an integer vector ('[0,1,...]' or '0,1,...'), an arch string "
        "(res<R>-s0_...-head<W>), a path to an NVIDIA JSON layer list, or the name of one of NVIDIA's "
        "released GPUNets (GPUNet-0, -1, -2, -P0, -P1, -D1, -D2; shipped with gpunas).",
    )
    p.add_argument("arch", metavar="ARCH")
    p.add_argument(
        "--space",
        help="space: gpunas's own (gpunet, tiny, nasbench201), a name in an optional ./config/spaces/, or a YAML path (default gpunet)",
    )
    p.add_argument("--resolution", type=int, help="override the input resolution")
    p.add_argument("--classes", type=int, default=1000, help="classifier outputs (default 1000)")
    p.add_argument(
        "--padding",
        choices=["same", "release"],
        default="same",
        help="'release' reproduces NVIDIA's unpadded stride-2 fused-IRB convs",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_describe)

    p = sub.add_parser("hub", help="inspect a model hub")
    hub_sub = p.add_subparsers(dest="hub_command", required=True)
    q = hub_sub.add_parser("list", help="tiers: budget, accuracy, predicted and measured latency")
    q.add_argument("results", metavar="RESULTS_DIR", help="the workflow's results directory")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_hub_list)
    q = hub_sub.add_parser(
        "predict",
        help="classify image files with a tier's model (preprocessed as in training)",
        description="Classify image files with a hub tier's model: each image is made 8-bit RGB, resized "
        "as the training resized it and scaled to [0, 1]; the model normalises it itself.",
    )
    q.add_argument("tier", metavar="TIER_DIR", help="a hub tier, e.g. results/hub/s0")
    q.add_argument(
        "images", metavar="IMAGE", nargs="+", help="image files (any format and mode Pillow reads)"
    )
    q.add_argument("--top", type=int, default=1, help="classes to print per image (default 1)")
    q.set_defaults(func=_hub_predict)

    p = sub.add_parser("config", help="the workflow's configuration")
    cfg_sub = p.add_subparsers(dest="config_command", required=True)
    q = cfg_sub.add_parser("reference", help="the config reference (Markdown) from the config schema")
    q.add_argument(
        "--output",
        nargs="*",
        metavar="FILE",
        help="write it to these files (config/README.md docs/config.md)",
    )
    q.set_defaults(func=_config_reference)

    p = sub.add_parser("lut", help="inspect a latency lookup table")
    lut_sub = p.add_subparsers(dest="lut_command", required=True)
    q = lut_sub.add_parser("show", help="metadata, key count and slowest keys of a LUT")
    q.add_argument("lut", metavar="LUT", help="path to a lut.parquet (or cache.parquet)")
    q.add_argument("--top", type=int, default=10, help="slowest keys to list (default 10)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_lut_show)

    p = sub.add_parser("space", help="fields, choices and cardinality of a search space")
    p.add_argument("space", metavar="SPACE", help="space name or YAML path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_space)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()
        return code
    except GpunasError as exc:
        sys.stderr.write(f"gpunas: error: {exc}\n")
        return 2
    except BrokenPipeError:
        # the reader went away (`gpunas space gpunet | head -3`): stop quietly, as Unix tools do;
        # point stdout at /dev/null so the interpreter's final flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
