"""Layer keys of the latency LUT, and their vectorised enumeration over candidate vectors.

A key is one block at one input shape: type, in/out channels, input H x W (square), kernel,
stride, expansion, activation, SE, residual (derived), the distilled block set (NVIDIA's
GPUNet-D1/D2), classes (head only), plus the batch size and precision of the table. Stem and
head are keys too (the stem is a ``conv`` or ``large_stem`` key with 3 input channels; the head
is conv1x1 + pool + classifier). A key that reads the image (3 input channels: the stem) is
measured with the input normalisation every built model starts with
(:class:`gpunas.models.builder.Normalize`), so the LUT sums what ships.

Keys also pack into one int64 *code*, so that enumerating or costing a million candidates is a
handful of numpy operations instead of a Python loop per candidate. The code's last field holds
the expansion in hundredths for blocks (GPUNet-P0/P1 use fractional expansions such as 7.67) and
the number of classes for the head.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gpunas.arch import PLAIN, Architecture, format_number
from gpunas.errors import GpunasError
from gpunas.models.blocks_math import layer_output_size
from gpunas.spaces.cnn import STAGE_FIELDS, SearchSpace

KEY_TYPES = ("conv", "fused_irb", "irb", "head", "basic", "bottleneck", "large_stem")
ACTS = ("relu", "swish")
# Version of the code layout below, stored in every LUT's metadata: a table written with another
# layout decodes into wrong keys, so it is refused instead of being read.
# 4: stem keys (3 input channels) include the input normalisation the shipped models start with.
KEY_LAYOUT = 4
INPUT_CHANNELS = 3  # RGB: a key with this many input channels reads the image (the stem)
# bit layout of a key code: (name, bits), low bits first (63 bits: codes are non-negative int64).
# ``extra``: expansion x 100 for blocks, classes for the head.
_LAYOUT = (
    ("type", 3),
    ("cin", 12),
    ("cout", 12),
    ("hw", 11),
    ("kernel", 4),
    ("stride", 2),
    ("act", 1),
    ("se", 1),
    ("distill", 1),
    ("extra", 16),
)
_SHIFT: dict[str, int] = {}
_pos = 0
for _name, _bits in _LAYOUT:
    _SHIFT[_name] = _pos
    _pos += _bits
del _pos
_BITS = dict(_LAYOUT)
EXPANSION_SCALE = 100  # expansions are stored in hundredths


def expansion_code(expansion: float | np.ndarray) -> int | np.ndarray:
    """Expansion in hundredths (the key code's integer); refuses more than two decimals."""
    scaled = np.asarray(expansion, dtype=np.float64) * EXPANSION_SCALE
    rounded = np.rint(scaled)
    if np.any(np.abs(scaled - rounded) > 1e-6):
        bad = np.asarray(expansion).flat[int(np.argmax(np.abs(scaled - rounded)))]
        raise GpunasError(f"expansion {bad} has more than two decimals: LUT keys store hundredths")
    out = rounded.astype(np.int64)
    return int(out) if out.ndim == 0 else out


@dataclass(frozen=True, order=True)
class LayerKey:
    type: str
    cin: int
    cout: int
    hw: int
    kernel: int
    stride: int
    expansion: float
    act: str
    se: bool
    classes: int = 0
    distill: bool = False

    @property
    def reads_image(self) -> bool:
        """The stem: the layer that takes the (normalised) image, measured with the normalisation."""
        return self.type != "head" and self.cin == INPUT_CHANNELS

    @property
    def residual(self) -> bool:
        return self.type not in (*PLAIN, "head") and self.stride == 1 and self.cin == self.cout

    def name(self, batch: int, precision: str) -> str:
        """Readable key, e.g. ``irb-i64-o64-h14-k3-s1-e4-swish-se1-res1-b1-fp32``."""
        extra = f"-n{self.classes}" if self.type == "head" else ""
        extra += "-distill" if self.distill else ""
        return (
            f"{self.type}-i{self.cin}-o{self.cout}-h{self.hw}-k{self.kernel}-s{self.stride}"
            f"-e{format_number(self.expansion)}-{self.act}-se{int(self.se)}-res{int(self.residual)}{extra}"
            f"-b{batch}-{precision}"
        )

    def code(self) -> int:
        return int(pack_codes(**self._numeric()))

    def _numeric(self) -> dict[str, Any]:
        return {
            "type": KEY_TYPES.index(self.type),
            "cin": self.cin,
            "cout": self.cout,
            "hw": self.hw,
            "kernel": self.kernel,
            "stride": self.stride,
            "act": ACTS.index(self.act),
            "se": int(self.se),
            "distill": int(self.distill),
            "extra": self.classes if self.type == "head" else expansion_code(self.expansion),
        }

    @classmethod
    def from_code(cls, code: int) -> LayerKey:
        f = {k: int(v[0]) for k, v in unpack_codes(np.array([code], dtype=np.int64)).items()}
        kind = KEY_TYPES[f["type"]]
        head = kind == "head"
        expansion = 1 if head else f["extra"] / EXPANSION_SCALE
        return cls(
            type=kind,
            act=ACTS[f["act"]],
            se=bool(f["se"]),
            distill=bool(f["distill"]),
            expansion=int(expansion) if float(expansion).is_integer() else expansion,
            classes=f["extra"] if head else 0,
            **{k: f[k] for k in ("cin", "cout", "hw", "kernel", "stride")},
        )


def pack_codes(**fields: Any) -> np.ndarray:
    """Pack per-field integer arrays into int64 key codes (raises when a value does not fit)."""
    code = np.zeros(np.broadcast(*map(np.asarray, fields.values())).shape, dtype=np.int64)
    for name, bits in _LAYOUT:
        values = np.asarray(fields[name], dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() >= (1 << bits)):
            bad = values.max() if values.max() >= (1 << bits) else values.min()
            raise GpunasError(f"layer key field {name!r} out of range 0..{(1 << bits) - 1}: {bad}")
        code |= values << _SHIFT[name]
    return code


def unpack_codes(codes: np.ndarray) -> dict[str, np.ndarray]:
    return {name: (codes >> _SHIFT[name]) & ((1 << bits) - 1) for name, bits in _LAYOUT}


def layer_codes(
    space: SearchSpace, vectors: np.ndarray, num_classes: int, padding: str = "same"
) -> tuple[np.ndarray, np.ndarray]:
    """Key codes of every candidate's layers, vectorised.

    Returns ``(codes, counts)`` of shape ``(n, K)``: for each stage a first-layer key and a
    repeat key (with its number of repeats), then the head. Vanished stages have count 0.
    """
    vectors = np.asfortranarray(vectors)  # contiguous columns: one field = one fast gather
    n = vectors.shape[0]
    k_total = 2 * len(space.stages) + 1
    codes = np.empty((k_total, n), dtype=np.int64)
    counts = np.empty((k_total, n), dtype=np.int64)
    ones = np.ones(n, dtype=np.int64)
    zeros = np.zeros(n, dtype=np.int64)

    def num(name: str, convert: Any = int) -> np.ndarray:
        return space.field_values(vectors, name, convert).astype(np.int64)

    hw = num("resolution")
    cin = np.full(n, 3, dtype=np.int64)
    for i, st in enumerate(space.stages):
        layers, kernel = num(f"stage{i}.layers"), num(f"stage{i}.kernel")
        expansion = space.field_values(vectors, f"stage{i}.expansion", float).astype(np.float64)
        common = {
            "type": np.full(n, KEY_TYPES.index(st["block"]), dtype=np.int64),
            "cout": num(f"stage{i}.filters"),
            "kernel": kernel,
            "act": num(f"stage{i}.act", lambda a: ACTS.index(a)),
            "se": num(f"stage{i}.se"),
            "distill": zeros,
            "extra": expansion_code(expansion),
        }
        present = layers > 0
        out_hw = layer_output_size(hw, kernel, st["stride"], st["block"], padding)
        codes[2 * i] = pack_codes(cin=cin, hw=hw, stride=np.full(n, st["stride"], dtype=np.int64), **common)
        counts[2 * i] = present
        codes[2 * i + 1] = pack_codes(cin=common["cout"], hw=out_hw, stride=ones, **common)
        counts[2 * i + 1] = np.maximum(layers - 1, 0)
        hw = np.where(present, out_hw, hw)
        cin = np.where(present, common["cout"], cin)
    codes[-1] = pack_codes(
        type=np.full(n, KEY_TYPES.index("head"), dtype=np.int64),
        cin=cin,
        cout=num("head_width"),
        hw=hw,
        kernel=ones,
        stride=ones,
        act=zeros,
        se=zeros,
        distill=zeros,
        extra=np.full(n, num_classes, dtype=np.int64),
    )
    counts[-1] = 1
    return codes.T, counts.T


def keys_for_vectors(
    space: SearchSpace, vectors: np.ndarray, num_classes: int, padding: str = "same"
) -> np.ndarray:
    """Distinct key codes (sorted) needed by ``vectors``."""
    codes, counts = layer_codes(space, vectors, num_classes, padding)
    return np.unique(codes[counts > 0])


def head_key(arch: Architecture, hw: int, num_classes: int) -> LayerKey:
    return LayerKey(
        "head", arch.num_features, arch.head_width, hw, 1, 1, 1, "relu", False, num_classes, arch.distill
    )


def keys_for_arch(arch: Architecture, num_classes: int, padding: str = "same") -> list[LayerKey]:
    """The keys of one architecture, layer by layer (the slow, obvious reference)."""
    keys = []
    hw = arch.resolution
    for layer in arch.layers():
        keys.append(
            LayerKey(
                layer.block,
                layer.in_channels,
                layer.out_channels,
                hw,
                layer.kernel,
                layer.stride,
                layer.expansion,
                layer.act,
                layer.se,
                0,
                layer.distill,
            )
        )
        hw = layer_output_size(hw, layer.kernel, layer.stride, layer.block, padding, layer.distill)
    keys.append(head_key(arch, hw, num_classes))
    return keys


def keys_for_space(space: SearchSpace, num_classes: int, padding: str = "same") -> np.ndarray:
    """Every key that some architecture of ``space`` needs (exhaustive; for small spaces).

    Walks the stages keeping the set of reachable states (input size, input channels, values of
    tie sources still needed later) and enumerates each stage's own choices from every state.
    """
    sources = set(space.tied.values())
    states: set[tuple[int, int, tuple]] = {(int(r), 3, ()) for r in space.choices_of("resolution")}
    codes: set[int] = set()
    for i, st in enumerate(space.stages):
        names = [f"stage{i}.{k}" for k in STAGE_FIELDS]
        later = {src for dst, src in space.tied.items() if int(dst.split(".")[0][5:]) > i}
        new_states: set[tuple[int, int, tuple]] = set()
        for hw, cin, ties in states:
            tied = dict(ties)
            options = [
                (tied[space.tied[nm]],) if space.tied.get(nm) in tied else space.choices_of(nm)
                for nm in names
            ]
            for combo in itertools.product(*options):
                v = dict(zip(STAGE_FIELDS, combo, strict=True))
                keep = tuple(
                    sorted(
                        {
                            **tied,
                            **{nm: val for nm, val in zip(names, combo, strict=True) if nm in sources},
                        }.items()
                    )
                )
                keep = tuple((nm, val) for nm, val in keep if nm in later)
                if v["layers"] == 0:
                    new_states.add((hw, cin, keep))
                    continue
                key = LayerKey(
                    st["block"],
                    cin,
                    int(v["filters"]),
                    hw,
                    int(v["kernel"]),
                    st["stride"],
                    v["expansion"],
                    str(v["act"]),
                    bool(v["se"]),
                )
                codes.add(key.code())
                ohw = layer_output_size(hw, key.kernel, key.stride, key.type, padding)
                if v["layers"] > 1:
                    codes.add(replace(key, cin=key.cout, hw=ohw, stride=1).code())
                new_states.add((ohw, key.cout, keep))
        states = new_states
    for hw, cin, _ in states:
        for width in space.choices_of("head_width"):
            codes.add(LayerKey("head", cin, int(width), hw, 1, 1, 1, "relu", False, num_classes).code())
    return np.array(sorted(codes), dtype=np.int64)
