"""Where the gpunet preset's scaled families of released GPUNet-0 land against NVIDIA's GPUNet-1 and
GPUNet-2, costed on one LUT and measured end to end on this machine.

The preset's scaling stage (config/presets/gpunet.yaml: GPUNet-0 grown by 12 grid points of
(alpha, beta, gamma) at phi 1, families phi = 1..4) is listed with the stage's own code
(:func:`gpunas.scaling.stage.list_scaling`); every layer key of every member and of GPUNet-0/1/2
is profiled into one LUT with the default config's ONNX Runtime CPU backend (the preset targets
TensorRT on an A100; this machine has no GPU, so the figures say where the families land on
*this* device); every architecture is costed by its LUT sum; the three GPUNets and the members of
three grid points (width/resolution-heavy, balanced, depth-heavy) are measured end to end as they
ship (the exported ONNX), and the fidelity check's correction (leave-one-out) is fitted on them.

    python benchmarks/bench_scaling_gpunet.py [--out benchmarks/results/scaling_gpunet.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gpunas.arch import Architecture
from gpunas.latency.estimate import Correction, LutIndex
from gpunas.latency.fidelity import evaluate
from gpunas.latency.keys import keys_for_arch
from gpunas.latency.lut import keys_frame
from gpunas.latency.networks import exported_runner
from gpunas.latency.protocol import measure
from gpunas.latency.settings import make_backend, protocol_from
from gpunas.nvidia import released_models
from gpunas.scaling.stage import list_scaling

log = logging.getLogger("bench_scaling_gpunet")
ROOT = Path(__file__).resolve().parents[1]
CLASSES = 1000
LAYERS = {"repeats": 5, "warmup": 3, "runs": 10, "chunk": 256}
NETWORKS = {"repeats": 5, "warmup": 2, "runs": 5, "chunk": 256}


def layer_lut(archs: list[Architecture], cfg: dict, seed: int) -> pd.DataFrame:
    """One LUT of every layer key of ``archs``, measured on ``cfg``'s backend (ms per key)."""
    codes = np.unique(
        np.array([k.code() for a in archs for k in keys_for_arch(a, CLASSES, "same")], np.int64)
    )
    frame = keys_frame(codes, cfg["batch"], cfg["precision"])
    backend = make_backend(cfg)
    backend.check()
    from gpunas.latency.keys import LayerKey

    keys = [LayerKey.from_code(int(c)) for c in frame["code"]]
    log.info("profiling %d layer keys of %d architectures on %s", len(keys), len(archs), backend.hardware())
    stats = measure(keys, backend.layer, protocol_from(LAYERS, seed), label="layer keys")
    return pd.concat([frame, stats], axis=1)


def lut_sum(arch: Architecture, index: LutIndex) -> tuple[float, int]:
    keys = keys_for_arch(arch, CLASSES, "same")
    return float(index.lookup(np.array([k.code() for k in keys], np.int64)).sum()), len(keys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scaling_gpunet.json")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    preset = yaml.safe_load((ROOT / "config" / "presets" / "gpunet.yaml").read_text())["scaling"]
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["latency"] | {"hardware": "auto"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        doc = list_scaling(
            "gpunet",
            [],
            preset["base"],
            preset["grid"],
            preset["points"],
            preset["members"],
            Path(tmp) / "g.json",
        )
    released = released_models()
    gpunets = {n: released[n] for n in ("GPUNet-0", "GPUNet-1", "GPUNet-2")}
    members = {v["variant"]: Architecture.from_string(v["arch"]) for v in doc["variants"]}
    lut = layer_lut([*gpunets.values(), *members.values()], cfg, args.seed)
    index = LutIndex(lut)
    rows = []
    for name, arch in [*gpunets.items(), *members.items()]:
        total, layers = lut_sum(arch, index)
        v = next((v for v in doc["variants"] if v["variant"] == name), {})
        rows.append(
            {"network": name, "resolution": arch.resolution, "lut_sum_ms": total, "layers": layers}
            | {k: v.get(k) for k in ("point", "phi", "alpha", "beta", "gamma")}
        )
    table = pd.DataFrame(rows)
    points = sorted(doc["points"])
    timed_points = [points[0], points[len(points) // 2], points[-1]]
    timed = table[table["network"].isin(gpunets) | table["point"].isin(timed_points)].index
    backend = make_backend(cfg)
    archs = [gpunets.get(n) or members[n] for n in table.loc[timed, "network"]]
    stats = measure(
        archs,
        lambda a: exported_runner(a, CLASSES, backend),
        protocol_from(NETWORKS, args.seed + 1),
        "networks",
    )
    table.loc[timed, "measured_ms"] = stats["latency_ms"].to_numpy()
    table.loc[timed, "measured_cv"] = stats["cv"].to_numpy()
    fit = evaluate(
        table.loc[timed, "lut_sum_ms"].to_numpy(),
        table.loc[timed, "layers"].to_numpy(),
        table.loc[timed, "measured_ms"].to_numpy(),
        (table["lut_sum_ms"].to_numpy(), table["layers"].to_numpy()),
    )
    c = fit["correction"]
    corr = Correction(c["a"], c["b"], c["c"]) if c["applied"] else Correction()
    table["predicted_ms"] = corr.apply(table["lut_sum_ms"].to_numpy(), table["layers"].to_numpy())
    ref = table.set_index("network")["predicted_ms"]
    landing = {}
    for point in points:
        fam = table[table["point"] == point].sort_values("phi")
        landing[point] = {
            "coefficients": fam[["alpha", "beta", "gamma"]].iloc[0].to_dict(),
            "predicted_ms": dict(
                zip(fam["phi"].astype(int).astype(str), fam["predicted_ms"].round(3), strict=True)
            ),
            "largest_phi_below": {
                n: int(fam[fam["predicted_ms"] <= ref[n]]["phi"].max())
                if (fam["predicted_ms"] <= ref[n]).any()
                else 0
                for n in ("GPUNet-1", "GPUNet-2")
            },
        }
    result = {
        "what": __doc__.splitlines()[0],
        "machine": f"{platform.processor() or platform.machine()}, 2 cores, ONNX Runtime CPU fp32 batch 1",
        "lut": {"keys": len(lut), "protocol": LAYERS},
        "network_protocol": NETWORKS,
        "base": doc["base"]["source"],
        "grid": preset["grid"],
        "points": len(points),
        "members": preset["members"],
        "fidelity": {k: fit[k] for k in ("networks", "correction", "before", "after")},
        "gpunets_ms": {n: round(float(ref[n]), 3) for n in gpunets},
        "families": landing,
        "networks": table.round(4).replace({np.nan: None}).to_dict(orient="records"),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    log.info("GPUNet-0/1/2: %s ms; %s", result["gpunets_ms"], json.dumps(fit["after"]))


if __name__ == "__main__":
    main()
