"""Layer keys of the latency LUT, and their vectorised enumeration over candidate vectors.

A key is one block at one input shape: type, in/out channels, input H x W (square), kernel,
stride, expansion, activation, SE, residual (derived), classes (head only), plus the batch size
and precision of the table. Stem and head are keys too (the stem is a ``conv`` key with 3 input
channels; the head is conv1x1 + pool + classifier).

Keys also pack into one int64 *code*, so that enumerating or costing a million candidates is a
handful of numpy operations instead of a Python loop per candidate.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from gpunas.arch import Architecture
from gpunas.models.blocks_math import conv_padding
from gpunas.space import STAGE_FIELDS, SearchSpace

KEY_TYPES = ("conv", "fused_irb", "irb", "head", "basic", "bottleneck")
ACTS = ("relu", "swish")
# Version of the code layout below, stored in every LUT's metadata: a table written with another
# layout decodes into wrong keys, so it is refused instead of being read.
KEY_LAYOUT = 2
# bit layout of a key code: (name, bits), low bits first (63 bits: codes are non-negative int64)
_LAYOUT = (
    ("type", 3),
    ("cin", 12),
    ("cout", 12),
    ("hw", 11),
    ("kernel", 4),
    ("stride", 2),
    ("expansion", 4),
    ("act", 1),
    ("se", 1),
    ("classes", 13),
)
_SHIFT: dict[str, int] = {}
_pos = 0
for _name, _bits in _LAYOUT:
    _SHIFT[_name] = _pos
    _pos += _bits
del _pos
_BITS = dict(_LAYOUT)


@dataclass(frozen=True, order=True)
class LayerKey:
    type: str
    cin: int
    cout: int
    hw: int
    kernel: int
    stride: int
    expansion: int
    act: str
    se: bool
    classes: int = 0

    @property
    def residual(self) -> bool:
        return self.type not in ("conv", "head") and self.stride == 1 and self.cin == self.cout

    def name(self, batch: int, precision: str) -> str:
        """Readable key, e.g. ``irb-i64-o64-h14-k3-s1-e4-swish-se1-res1-b1-fp32``."""
        extra = f"-n{self.classes}" if self.type == "head" else ""
        return (
            f"{self.type}-i{self.cin}-o{self.cout}-h{self.hw}-k{self.kernel}-s{self.stride}-e{self.expansion}"
            f"-{self.act}-se{int(self.se)}-res{int(self.residual)}{extra}-b{batch}-{precision}"
        )

    def code(self) -> int:
        code = 0
        for name, value in self._numeric().items():
            bits = _BITS[name]
            if not 0 <= value < (1 << bits):
                raise ValueError(f"layer key field {name!r} out of range 0..{(1 << bits) - 1}: {value}")
            code |= value << _SHIFT[name]
        return code

    def _numeric(self) -> dict[str, Any]:
        d = asdict(self)
        d["type"] = KEY_TYPES.index(self.type)
        d["act"] = ACTS.index(self.act)
        d["se"] = int(self.se)
        return d

    @classmethod
    def from_code(cls, code: int) -> LayerKey:
        f = unpack_codes(np.array([code], dtype=np.int64))
        return cls(
            type=KEY_TYPES[int(f["type"][0])],
            act=ACTS[int(f["act"][0])],
            se=bool(f["se"][0]),
            **{k: int(f[k][0]) for k in ("cin", "cout", "hw", "kernel", "stride", "expansion", "classes")},
        )


def pack_codes(**fields: np.ndarray) -> np.ndarray:
    """Pack per-field integer arrays into int64 key codes (raises when a value does not fit)."""
    code = np.zeros(np.broadcast(*fields.values()).shape, dtype=np.int64)
    for name, bits in _LAYOUT:
        values = np.asarray(fields[name], dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() >= (1 << bits)):
            raise ValueError(f"layer key field {name!r} out of range 0..{(1 << bits) - 1}: {values.max()}")
        code |= values << _SHIFT[name]
    return code


def unpack_codes(codes: np.ndarray) -> dict[str, np.ndarray]:
    return {name: (codes >> _SHIFT[name]) & ((1 << bits) - 1) for name, bits in _LAYOUT}


def _out_hw(hw: np.ndarray, kernel: np.ndarray, stride: int, block: str, padding: str) -> np.ndarray:
    """Vectorised output size; padding as :func:`gpunas.models.blocks_math.conv_padding`."""
    conv_padding(3, stride, block, padding)  # validates ``padding``
    unpadded = padding == "release" and block == "fused_irb" and stride == 2
    pad = 0 if unpadded else (kernel - 1) // 2
    return (hw + 2 * pad - kernel) // stride + 1


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

    def num(name: str, convert: Any = int) -> np.ndarray:
        return space.field_values(vectors, name, convert).astype(np.int64)

    hw = num("resolution")
    cin = np.full(n, 3, dtype=np.int64)
    for i, st in enumerate(space.stages):
        layers, kernel = num(f"stage{i}.layers"), num(f"stage{i}.kernel")
        common = {
            "type": np.full(n, KEY_TYPES.index(st["block"]), dtype=np.int64),
            "cout": num(f"stage{i}.filters"),
            "kernel": kernel,
            "expansion": num(f"stage{i}.expansion"),
            "act": num(f"stage{i}.act", lambda a: ACTS.index(a)),
            "se": num(f"stage{i}.se"),
            "classes": np.zeros(n, dtype=np.int64),
        }
        present = layers > 0
        out_hw = _out_hw(hw, kernel, st["stride"], st["block"], padding)
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
        expansion=ones,
        act=np.zeros(n, dtype=np.int64),
        se=np.zeros(n, dtype=np.int64),
        classes=np.full(n, num_classes, dtype=np.int64),
    )
    counts[-1] = 1
    return codes.T, counts.T


def keys_for_vectors(
    space: SearchSpace, vectors: np.ndarray, num_classes: int, padding: str = "same"
) -> np.ndarray:
    """Distinct key codes (sorted) needed by ``vectors``."""
    codes, counts = layer_codes(space, vectors, num_classes, padding)
    return np.unique(codes[counts > 0])


def keys_for_arch(arch: Architecture, num_classes: int, padding: str = "same") -> list[LayerKey]:
    """The keys of one architecture, layer by layer (the slow, obvious reference)."""
    keys = []
    hw = arch.resolution
    for layer in arch.layers():
        pad = conv_padding(layer.kernel, layer.stride, layer.block, padding)
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
            )
        )
        hw = (hw + 2 * pad - layer.kernel) // layer.stride + 1
    keys.append(LayerKey("head", arch.num_features, arch.head_width, hw, 1, 1, 1, "relu", False, num_classes))
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
                    st["block"], cin, int(v["filters"]), hw, int(v["kernel"]), st["stride"],
                    int(v["expansion"]), str(v["act"]), bool(v["se"]),
                )  # fmt: skip
                codes.add(key.code())
                pad = conv_padding(key.kernel, key.stride, key.type, padding)
                ohw = (hw + 2 * pad - key.kernel) // key.stride + 1
                if v["layers"] > 1:
                    codes.add(replace(key, cin=key.cout, hw=ohw, stride=1).code())
                new_states.add((ohw, key.cout, keep))
        states = new_states
    for hw, cin, _ in states:
        for width in space.choices_of("head_width"):
            codes.add(LayerKey("head", cin, int(width), hw, 1, 1, 1, "relu", False, num_classes).code())
    return np.array(sorted(codes), dtype=np.int64)
