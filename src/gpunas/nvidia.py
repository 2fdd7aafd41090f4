"""Import and export of NVIDIA's published GPUNet architecture format (a JSON list of layers).

Records: ``{"layer_type": "data", "img_resolution": R, "distill": false}``, then ``head`` (the
stem), one record per layer (``conv`` / ``fused_irb`` / ``irb``, repeats written out), and
``tail`` (conv1x1 to the head width, pooling, classifier). Layer keys: ``layer_type``,
``num_in_channels``, ``num_out_channels``, ``stride``, ``kernel_size``, ``expansion``, ``act``,
``use_se``, ``stage``. Import needs no search space, so released models outside any space's
ranges (GPUNet-0) load too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpunas.arch import Architecture, StageConfig

LAYER_TYPES = ("conv", "fused_irb", "irb")
LAYER_KEYS = ("num_in_channels", "num_out_channels", "stride", "kernel_size", "act")


def to_nvidia(arch: Architecture, num_classes: int = 1000) -> list[dict[str, Any]]:
    """The layer list of ``arch``; the stem (first stage) becomes the ``head`` record."""
    foreign = sorted({st.block for st in arch.stages} - set(LAYER_TYPES))
    if foreign:
        raise ValueError(f"NVIDIA's layer format has no {foreign} layers (only {list(LAYER_TYPES)})")
    records: list[dict[str, Any]] = [
        {"layer_type": "data", "img_resolution": arch.resolution, "distill": False}
    ]
    for i, layer in enumerate(arch.layers()):
        records.append(
            {
                "layer_type": "head" if i == 0 else layer.block,
                "num_in_channels": layer.in_channels,
                "num_out_channels": layer.out_channels,
                "stride": layer.stride,
                "kernel_size": layer.kernel,
                "expansion": layer.expansion,
                "act": layer.act,
                "use_se": layer.se,
                "stage": layer.stage,
            }
        )
    records.append(
        {
            "layer_type": "tail",
            "num_in_channels": arch.num_features,
            "num_out_channels": arch.head_width,
            "num_classes": num_classes,
        }
    )
    return records


def _get(rec: dict[str, Any], key: str, where: str, default: Any = ...) -> Any:
    if key not in rec:
        if default is not ...:
            return default
        raise ValueError(f"{where}: missing key {key!r}")
    return rec[key]


def from_nvidia(records: Any, source: str = "<json>") -> Architecture:
    """Parse a layer list into an :class:`Architecture` (stages grouped by their ``stage`` key,
    or by runs of identical layers when records carry none)."""
    if not isinstance(records, list) or not records:
        raise ValueError(f"{source}: expected a non-empty JSON list of layer records")
    data = records[0]
    if not isinstance(data, dict) or data.get("layer_type") != "data":
        raise ValueError(f"{source}: record 0 must be {{'layer_type': 'data', 'img_resolution': ...}}")
    resolution = _get(data, "img_resolution", f"{source}: record 0")
    if not isinstance(resolution, int) or resolution < 8:
        raise ValueError(f"{source}: record 0: img_resolution must be an integer >= 8, got {resolution!r}")
    layers = records[1:]
    if not layers or layers[-1].get("layer_type") != "tail":
        raise ValueError(f"{source}: the last record must have layer_type 'tail'")
    tail = layers.pop()
    if not layers or layers[0].get("layer_type") != "head":
        raise ValueError(f"{source}: record 1 must have layer_type 'head' (the stem)")

    groups: list[list[dict[str, Any]]] = []
    prev_out = _get(layers[0], "num_in_channels", f"{source}: record 1")
    for n, rec in enumerate(layers, start=1):
        where = f"{source}: record {n}"
        if not isinstance(rec, dict):
            raise ValueError(f"{where}: expected an object, got {type(rec).__name__}")
        kind = rec.get("layer_type")
        if n > 1 and kind not in LAYER_TYPES:
            raise ValueError(f"{where}: layer_type {kind!r} is not one of {list(LAYER_TYPES)}")
        for key in LAYER_KEYS:
            _get(rec, key, where)
        if rec["num_in_channels"] != prev_out:
            raise ValueError(
                f"{where}: num_in_channels {rec['num_in_channels']} != num_out_channels {prev_out} "
                "of the previous layer"
            )
        prev_out = rec["num_out_channels"]
        rec = {**rec, "layer_type": "conv" if n == 1 else kind, "_n": n}
        same_stage = groups and _continues(groups[-1], rec)
        if same_stage:
            groups[-1].append(rec)
        else:
            groups.append([rec])

    stages = []
    next_index = 0
    for group in groups:
        first = group[0]
        index = first.get("stage", next_index)
        if not isinstance(index, int) or index < next_index:
            index = next_index
        where = f"{source}: record {first['_n']}"
        try:
            stages.append(
                StageConfig(
                    index=index,
                    block=first["layer_type"],
                    layers=len(group),
                    kernel=first["kernel_size"],
                    stride=first["stride"],
                    out_channels=first["num_out_channels"],
                    act=first["act"],
                    expansion=1 if first["layer_type"] == "conv" else _get(first, "expansion", where),
                    se=bool(first.get("use_se", False)),
                )
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        next_index = index + 1

    where = f"{source}: tail record"
    if _get(tail, "num_in_channels", where) != prev_out:
        raise ValueError(
            f"{where}: num_in_channels {tail['num_in_channels']} != {prev_out} of the last layer"
        )
    head_width = _get(tail, "num_out_channels", where)
    return Architecture(resolution=resolution, stages=tuple(stages), head_width=head_width)


def _continues(group: list[dict[str, Any]], rec: dict[str, Any]) -> bool:
    """Whether ``rec`` is a further repeat of the stage in ``group``."""
    first = group[0]
    if "stage" in rec or "stage" in first:
        return rec.get("stage") == first.get("stage") and first["_n"] != 1
    if first["_n"] == 1:  # the stem is a stage of its own
        return False
    same = all(
        rec.get(k) == first.get(k) for k in ("layer_type", "kernel_size", "expansion", "act", "use_se")
    )
    return same and rec["stride"] == 1 and rec["num_in_channels"] == rec["num_out_channels"]


def load_nvidia(path: str | Path) -> Architecture:
    path = Path(path)
    try:
        records = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    return from_nvidia(records, source=str(path))


def save_nvidia(arch: Architecture, path: str | Path, num_classes: int = 1000) -> None:
    from gpunas.io import atomic_write_text

    atomic_write_text(path, json.dumps(to_nvidia(arch, num_classes), indent=2) + "\n")
