"""NVIDIA's published GPUNet architecture format (a JSON list of layer records), read and written exactly.

The meaning of every record is that of NVIDIA's own builder (DeepLearningExamples,
``PyTorch/Classification/GPUNet/models/gpunet_builder.py`` and ``gpunet_modules.py``):

- record 0, ``data``: ``img_resolution`` and ``distill``; ``distill: true`` selects the distilled
  builder (GPUNet-D1/D2), ``false`` the standard one (GPUNet-0/1/2, P0, P1).
- ``head`` (the stem): only ``num_in_channels`` and ``num_out_channels``; the builder fixes conv3x3
  stride 2, and the activation is ``act`` when given, else swish (distilled: always ReLU).
  ``head_large`` (distilled only): three conv3x3-BN-ReLU, the first with stride 2.
- ``conv`` (standard only): ``num_in_channels``, ``num_out_channels``, ``stride``,
  ``kernel_size``, ``act``, ``stage``.
- ``fused_irb`` / ``irb``: also ``expansion`` (possibly fractional: 7.67) and ``use_se``; in the
  distilled builder ``groups`` (1) instead of ``act`` and ``use_se``, which it does not read
  (every activation ReLU, no SE).
- ``tail``: ``num_in_channels``, ``num_out_channels`` (head width), ``num_classes``.

Each record is one layer: layers that differ inside one stage are kept as written (an
:class:`~gpunas.arch.Architecture` holds them as several entries of one stage). A record that is
inconsistent (channels that do not chain, an unknown layer type, a missing or ill-typed key, a
value the builder would silently override) is refused with one line naming the record and key.
Keys the builder does not read (e.g. GPUNet-D2's ``"stage:"`` on its tail) are kept verbatim in a
:class:`RecordLayout`, so that exporting a read file gives back the same records, keys in the same
order. The seven released files ship with gpunas (``gpunas/data/gpunet_release``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from gpunas.arch import ACTIVATIONS, Architecture, LayerConfig
from gpunas.errors import GpunasError

log = logging.getLogger(__name__)

# file name (without .json) -> NVIDIA's model name; configs/batch1/GV100/ of the release
RELEASED = {
    "0.65ms": "GPUNet-0",
    "0.85ms": "GPUNet-1",
    "1.75ms": "GPUNet-2",
    "0.5ms-D": "GPUNet-P0",
    "0.8ms-D": "GPUNet-P1",
    "1.25ms-D": "GPUNet-D1",
    "2.25ms-D": "GPUNet-D2",
}
_RELEASE_DIR = ("gpunet_release", "GV100")

# keys each record type carries, in the release's order; the builder reads exactly these
_KEYS = {
    "data": ("img_resolution", "distill"),
    "head": ("num_in_channels", "num_out_channels"),
    "head_large": ("num_in_channels", "num_out_channels"),
    "conv": ("num_in_channels", "num_out_channels", "stride", "kernel_size", "act", "stage"),
    "irb": (
        "num_in_channels",
        "num_out_channels",
        "stride",
        "expansion",
        "kernel_size",
        "act",
        "use_se",
        "stage",
    ),
    "irb/distill": (
        "num_in_channels",
        "num_out_channels",
        "stride",
        "expansion",
        "kernel_size",
        "groups",
        "stage",
    ),
    "tail": ("num_in_channels", "num_out_channels", "num_classes"),
}
_KEYS["fused_irb"] = _KEYS["irb"]
_KEYS["fused_irb/distill"] = _KEYS["irb/distill"]
# optional keys the builder reads or tolerates: head ``act`` (standard), ``stage`` on stems;
# ``act`` / ``use_se`` on distilled blocks (ignored by the builder, so they must say what it builds)
_OPTIONAL = {
    "head": ("act", "stage"),
    "head_large": ("act", "stage"),
    "irb/distill": ("act", "use_se"),
    "fused_irb/distill": ("act", "use_se"),
}
_LAYER_TYPES = {False: ("conv", "fused_irb", "irb"), True: ("fused_irb", "irb")}
_STEMS = {False: ("head",), True: ("head", "head_large")}


@dataclass(frozen=True)
class RecordLayout:
    """How a file wrote its records beyond what the architecture says: each record's key order,
    and the keys NVIDIA's builder does not read, kept verbatim (e.g. GPUNet-D2's ``"stage:"``)."""

    keys: tuple[tuple[str, ...], ...]
    extra: tuple[tuple[tuple[str, Any], ...], ...]


def released_path(name: str) -> Path:
    """Path of a released file by its name (``GPUNet-0``) or file name (``0.65ms``)."""
    stems = {v.lower(): k for k, v in RELEASED.items()} | {k.lower(): k for k in RELEASED}
    stem = stems.get(name.lower().removesuffix(".json"))
    if stem is None:
        raise GpunasError(f"no released GPUNet named {name!r}; known: {', '.join(RELEASED.values())}")
    return Path(str(resources.files("gpunas.data").joinpath(*_RELEASE_DIR, f"{stem}.json")))


def released_models() -> dict[str, Architecture]:
    """NVIDIA's seven released GPUNets, by NVIDIA's names, in latency-group order of the release."""
    return {name: load_nvidia(released_path(name)) for name in RELEASED.values()}


_TYPE_NAMES = {
    "integer": "an integer",
    "boolean": "true or false",
    "string": "a string",
    "number": "a number",
}
# the schema's definition of each record kind (kinds share one: fused_irb is irb, head_large is head)
_SCHEMA_OF = {
    "fused_irb": "irb",
    "irb/distill": "irb_distill",
    "fused_irb/distill": "irb_distill",
    "head_large": "head",
}


@cache
def _validators() -> dict[str, Any]:
    """A JSON Schema validator per record kind, from ``gpunas/data/nvidia_records.schema.yaml``."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(resources.files("gpunas.data").joinpath("nvidia_records.schema.yaml").read_text())
    kinds = [k for k in schema["$defs"] if k not in ("channels", "stage")]
    return {k: jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{k}"}) for k in kinds}


def _check_record(rec: dict[str, Any], kind: str, where: str) -> None:
    """Validate one record against its kind's schema; the first problem (in the release's key
    order) raises :class:`GpunasError` in one line naming the key and the value."""
    errors = list(_validators()[_SCHEMA_OF.get(kind, kind)].iter_errors(rec))
    if not errors:
        return
    order = {k: i for i, k in enumerate(_KEYS[kind])}

    def key_of(err: Any) -> str:
        return err.path[0] if err.path else err.message.split("'")[1]

    err = min(errors, key=lambda e: order.get(key_of(e), len(order)))
    key = key_of(err)
    value = rec.get(key)
    if err.validator == "required":
        raise GpunasError(f"{where}: missing key {key!r}")
    if err.validator == "type":
        raise GpunasError(f"{where}: {key} {value!r} is not {_TYPE_NAMES[err.validator_value]}")
    if err.validator == "minimum":
        raise GpunasError(f"{where}: {key} must be >= {err.validator_value}, got {value}")
    if err.validator == "exclusiveMinimum":
        raise GpunasError(f"{where}: {key} must be > {err.validator_value}, got {value}")
    raise GpunasError(f"{where}: {key} {value!r}: {err.message}")


def _act(rec: dict[str, Any], where: str, default: str | None = None) -> str:
    if "act" not in rec and default is not None:
        return default
    act = rec["act"]
    if act not in ACTIVATIONS:
        stage = f"stage {rec['stage']}: " if "stage" in rec else ""
        raise GpunasError(f"{where}: {stage}act {act!r} is not one of {list(ACTIVATIONS)}")
    return act


def _check_envelope(records: Any, source: str) -> tuple[int, bool]:
    """The list, its record objects, the data record and the tail: (resolution, distill)."""
    if not isinstance(records, list) or not records:
        raise GpunasError(f"{source}: expected a non-empty JSON list of layer records")
    for n, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise GpunasError(f"{source}: record {n}: expected an object, got {type(rec).__name__}")
        if "layer_type" not in rec:
            raise GpunasError(f"{source}: record {n}: missing key 'layer_type'")
    if records[0]["layer_type"] != "data":
        raise GpunasError(
            f"{source}: record 0 must be {{'layer_type': 'data', 'img_resolution': ..., 'distill': ...}}, "
            f"got layer_type {records[0]['layer_type']!r}"
        )
    _check_record(records[0], "data", f"{source}: record 0")
    resolution, distill = records[0]["img_resolution"], records[0]["distill"]
    if len(records) < 3 or records[-1]["layer_type"] != "tail":
        raise GpunasError(f"{source}: the last record must have layer_type 'tail'")
    return resolution, distill


def _read_stem(rec: dict[str, Any], where: str, kind: str, distill: bool) -> tuple[Any, ...]:
    """(block, kernel, stride, expansion, act, se, stage) of record 1: the builder fixes the stem's
    conv3x3 stride 2 and ignores other keys, which must not say otherwise."""
    _refuse_overridden(rec, where, {"kernel_size": 3, "stride": 2})
    act = "relu" if distill else _act(rec, where, default="swish")
    if distill and "act" in rec and rec["act"] != "relu":
        raise GpunasError(f"{where}: act {rec['act']!r}: NVIDIA's distilled builder uses ReLU here")
    block = "large_stem" if kind == "head_large" else "conv"
    return block, 3, 2, 1, act, False, rec.get("stage", 0)


def _read_block(rec: dict[str, Any], where: str, kind: str, distill: bool, stage: int) -> tuple[Any, ...]:
    """(block, kernel, stride, expansion, act, se, stage) of a conv / fused_irb / irb record."""
    kernel, stride = rec["kernel_size"], rec["stride"]
    expansion = 1 if kind == "conv" else rec["expansion"]
    if distill:
        groups = rec["groups"]
        if groups != 1:
            raise GpunasError(f"{where}: groups {groups} is not supported (gpunas builds groups 1)")
        _refuse_overridden(rec, where, {"act": "relu", "use_se": False})
        act, se = "relu", False
    else:
        act = _act(rec, where)
        se = False if kind == "conv" else rec["use_se"]
    new_stage = rec["stage"]
    if new_stage < stage:
        raise GpunasError(f"{where}: stage {new_stage} comes after stage {stage} (stages must not decrease)")
    return kind, kernel, stride, expansion, act, se, new_stage


def _read_layers(
    records: list[dict[str, Any]], source: str, distill: bool
) -> tuple[list[LayerConfig], list[str], int]:
    """The layers of records 1..-2 (channels chained), their record kinds, the last output channels."""
    layers: list[LayerConfig] = []
    kinds = ["data"]
    channels: int | None = None
    stage = 0
    for n, rec in enumerate(records[1:-1], start=1):
        where = f"{source}: record {n}"
        kind = rec["layer_type"]
        allowed = _STEMS[distill] if n == 1 else _LAYER_TYPES[distill]
        if kind not in allowed:
            builder = "distilled" if distill else "standard"
            place = "the stem (record 1)" if n == 1 else "a layer"
            raise GpunasError(
                f"{where}: layer_type {kind!r} is not one of {list(allowed)} ({place} of NVIDIA's {builder} builder)"
            )
        kinds.append(f"{kind}/distill" if distill and kind in ("irb", "fused_irb") else kind)
        _check_record(rec, kinds[-1], where)
        cin, cout = rec["num_in_channels"], rec["num_out_channels"]
        if channels is not None and cin != channels:
            raise GpunasError(
                f"{where}: num_in_channels {cin} != num_out_channels {channels} of record {n - 1}"
            )
        channels = cout
        if n == 1:
            block, kernel, stride, expansion, act, se, stage = _read_stem(rec, where, kind, distill)
        else:
            block, kernel, stride, expansion, act, se, stage = _read_block(rec, where, kind, distill, stage)
        if not isinstance(stage, int) or isinstance(stage, bool) or stage < 0:
            raise GpunasError(f"{where}: stage {stage!r} is not a non-negative integer")
        layers.append(LayerConfig(block, cin, cout, kernel, stride, expansion, act, se, stage, distill))
    return layers, kinds, channels  # type: ignore[return-value]


def _unread_keys(
    records: list[dict[str, Any]], kinds: list[str], source: str
) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """Per record, the keys NVIDIA's builder does not read (kept verbatim, each warned about once)."""
    extra = []
    for n, (rec, kind) in enumerate(zip(records, kinds, strict=True)):
        known = {"layer_type", *_KEYS[kind], *_OPTIONAL.get(kind, ())}
        unread = tuple((k, v) for k, v in rec.items() if k not in known)
        for k, _ in unread:
            log.warning("%s: record %d: key %r is not read by NVIDIA's builder; kept as is", source, n, k)
        extra.append(unread)
    return tuple(extra)


def read_records(records: Any, source: str = "<json>") -> tuple[Architecture, RecordLayout]:
    """Parse a layer list into an :class:`Architecture` and the file's :class:`RecordLayout`.

    Raises :class:`GpunasError` with one line naming the record and key of the first problem.
    """
    resolution, distill = _check_envelope(records, source)
    layers, kinds, channels = _read_layers(records, source, distill)
    tail = records[-1]
    where = f"{source}: tail record"
    kinds.append("tail")
    _check_record(tail, "tail", where)
    if tail["num_in_channels"] != channels:
        raise GpunasError(
            f"{where}: num_in_channels {tail['num_in_channels']} != {channels} of the last layer "
            f"(record {len(records) - 2})"
        )
    head_width = tail["num_out_channels"]
    try:
        arch = Architecture.from_layers(resolution, layers, head_width, distill=distill)
    except ValueError as exc:
        raise GpunasError(f"{source}: {exc}") from None
    return arch, RecordLayout(tuple(tuple(r) for r in records), _unread_keys(records, kinds, source))


def _refuse_overridden(rec: dict[str, Any], where: str, builds: dict[str, Any]) -> None:
    """Keys the builder ignores for this record must not claim something else than it builds."""
    for key, value in builds.items():
        if key in rec and rec[key] != value:
            raise GpunasError(
                f"{where}: {key} {rec[key]!r} is ignored by NVIDIA's builder, which builds {key} {value!r} here"
            )


def from_nvidia(records: Any, source: str = "<json>") -> Architecture:
    """Parse a layer list into an :class:`Architecture`."""
    return read_records(records, source)[0]


def to_nvidia(
    arch: Architecture, num_classes: int = 1000, layout: RecordLayout | None = None
) -> list[dict[str, Any]]:
    """The layer list of ``arch``, one record per layer; with the ``layout`` of a read file, its
    records come back with the same keys in the same order (unread keys included)."""
    d = arch.distill
    records: list[dict[str, Any]] = [{"layer_type": "data", "img_resolution": arch.resolution, "distill": d}]
    for i, layer in enumerate(arch.layers()):
        where = f"layer {i} ({layer.block}, stage {layer.stage})"
        if i == 0:
            if layer.block not in ("conv", "large_stem") or (layer.kernel, layer.stride) != (3, 2):
                raise GpunasError(
                    f"{where}: NVIDIA's stem record is a conv3x3 stride 2, got k{layer.kernel} s{layer.stride}"
                )
            if layer.block == "large_stem" and not d:
                raise GpunasError(f"{where}: 'head_large' exists only in NVIDIA's distilled builder")
            rec: dict[str, Any] = {
                "layer_type": "head" if layer.block == "conv" else "head_large",
                "num_in_channels": layer.in_channels,
                "num_out_channels": layer.out_channels,
            }
            if d:
                rec["stage"] = layer.stage
            elif layer.act != "swish":
                rec["act"] = layer.act
            records.append(rec)
            continue
        if layer.block not in _LAYER_TYPES[d]:
            raise GpunasError(
                f"{where}: NVIDIA's {'distilled' if d else 'standard'} builder has no such layers "
                f"(only {list(_LAYER_TYPES[d])})"
            )
        values = {
            "num_in_channels": layer.in_channels,
            "num_out_channels": layer.out_channels,
            "stride": layer.stride,
            "expansion": layer.expansion,
            "kernel_size": layer.kernel,
            "act": layer.act,
            "use_se": layer.se,
            "groups": 1,
            "stage": layer.stage,
        }
        kind = f"{layer.block}/distill" if d else layer.block
        records.append({"layer_type": layer.block, **{k: values[k] for k in _KEYS[kind]}})
    records.append(
        {
            "layer_type": "tail",
            "num_in_channels": arch.num_features,
            "num_out_channels": arch.head_width,
            "num_classes": num_classes,
        }
    )
    return records if layout is None else _apply_layout(records, layout)


def _apply_layout(records: list[dict[str, Any]], layout: RecordLayout) -> list[dict[str, Any]]:
    if len(layout.keys) != len(records):
        raise GpunasError(f"layout of {len(layout.keys)} records does not fit {len(records)} records")
    out = []
    for rec, keys, extra in zip(records, layout.keys, layout.extra, strict=True):
        full = {**rec, **dict(extra)}
        order = [k for k in keys if k in full] + [k for k in full if k not in keys]
        out.append({k: full[k] for k in order})
    return out


def read_release(path: str | Path) -> tuple[Architecture, RecordLayout]:
    """A file's architecture and record layout (for exact re-export)."""
    path = Path(path)
    try:
        records = json.loads(path.read_text())
    except FileNotFoundError:
        raise GpunasError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise GpunasError(f"{path}: not valid JSON ({exc})") from None
    return read_records(records, source=str(path))


def load_nvidia(path: str | Path) -> Architecture:
    return read_release(path)[0]


def save_nvidia(arch: Architecture, path: str | Path, num_classes: int = 1000) -> None:
    from gpunas.io import atomic_write_text

    atomic_write_text(path, json.dumps(to_nvidia(arch, num_classes), indent=2) + "\n")
