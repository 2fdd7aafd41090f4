"""Architectures as data: frozen dataclasses and a readable, round-tripping string form.

An :class:`Architecture` is independent of any search space: it is what a space decodes an
integer vector into, what NVIDIA's JSON layer lists import into, and what the builder builds.

Like timm's builder, an architecture is a list of *block arguments with repeats*
(:class:`StageConfig`): ``layers`` identical layers of one block type, of which only the first
has the stride and the channel change. A stage of the search space is one such entry; a stage
whose layers differ (NVIDIA's GPUNet-P0/P1/D1/D2 change kernel, expansion, stride or width
inside a stage) is several consecutive entries with the same stage ``index``. Only non-empty
stages are stored; a stage that vanished (0 layers) is simply absent.

String form (one token per entry, ``-`` between tokens)::

    res320-s0_conv_n1_k3_s2_c32_swish-s1_conv_n2_k3_s1_c32_relu-...-s6_ir_n2_k3_s2_e5_c704_relu_se-head1280
    res224-s0_conv_n1_k3_s2_c32_relu-s3_ir_n1_k3_s2_e8_c96_relu-s3_ir_n2_k3_s1_e7.67_c96_relu-...-head1984

Token fields: ``s<stage>``, block (``conv``/``lstem``/``fir``/``ir``, and the hand-designed
baselines' ``xx``/``bl``), ``n<layers>``, ``k<kernel>``, ``s<stride>``, ``e<expansion>`` (blocks
with an expansion or reduction ratio only; fractional values such as 7.67 are written as such),
``c<out channels>``, activation, and a trailing ``se`` when squeeze-and-excitation is on. A
``distill`` token after the resolution marks NVIDIA's distilled block set (GPUNet-D1/D2).

Block types: ``conv`` (conv-BN-act), ``large_stem`` (three conv3x3-BN-act, the first strided:
GPUNet-D2's ``head_large``), ``fused_irb`` and ``irb`` (GPUNet's search space), and two residual
blocks of hand-designed networks used as baselines: ``basic`` (GENet XX / ResNet basic block:
two full kxk convs) and ``bottleneck`` (GENet BL / ResNet bottleneck: 1x1 -> kxk -> 1x1 with
``mid = out / expansion``). A ``conv`` layer whose kernel equals its stride (e.g. k2 s2) is a
space-to-depth ("patchify") convolution, as in EfficientNet-X.

``distill`` selects NVIDIA's distilled builder: inverted residuals expand to exactly
``in * expansion`` channels (no rounding to multiples of 8), every activation is ReLU, there is
no SE, and the classifier is conv1x1 -> 1152 -> pool -> conv1x1 -> head width -> FC.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from gpunas.errors import GpunasError

BLOCK_TYPES = ("conv", "large_stem", "fused_irb", "irb", "basic", "bottleneck")
ACTIVATIONS = ("relu", "swish")
_SHORT = {
    "conv": "conv",
    "large_stem": "lstem",
    "fused_irb": "fir",
    "irb": "ir",
    "basic": "xx",
    "bottleneck": "bl",
}
_LONG = {v: k for k, v in _SHORT.items()}
# blocks whose token carries e<expansion> (an expansion ratio, or the bottleneck's reduction)
EXPANDING = ("fused_irb", "irb", "bottleneck")
# blocks without a residual connection, whatever their stride and widths
PLAIN = ("conv", "large_stem")


def format_number(value: float) -> str:
    """``5`` for integral values, else the shortest float text (``7.67``): what the string form writes."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


@dataclass(frozen=True)
class LayerConfig:
    """One layer of a built network (an entry expanded into its repeats)."""

    block: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    expansion: float
    act: str
    se: bool
    stage: int
    distill: bool = False

    @property
    def residual(self) -> bool:
        """Identity shortcut: residual blocks with stride 1 and in == out."""
        return self.block not in PLAIN and self.stride == 1 and self.in_channels == self.out_channels


def _positive_number(value: Any, what: str) -> int | float:
    """A finite number > 0 (an integral float becomes an int); refused in one line otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise GpunasError(f"{what} must be a positive number, got {value!r}")
    return int(value) if isinstance(value, float) and value.is_integer() else value


@dataclass(frozen=True)
class StageConfig:
    """Block arguments with repeats: ``layers`` identical layers of stage ``index``.

    Only the first layer has the stride (and the channel change); the others have stride 1. A
    stage of the search space is one entry; a stage whose layers differ is several entries with
    the same ``index``.
    """

    index: int
    block: str
    layers: int
    kernel: int
    stride: int
    out_channels: int
    act: str
    expansion: float = 1
    se: bool = False

    def __post_init__(self) -> None:
        if self.block not in BLOCK_TYPES:
            raise GpunasError(f"stage {self.index}: block {self.block!r} is not one of {list(BLOCK_TYPES)}")
        if self.act not in ACTIVATIONS:
            raise GpunasError(f"stage {self.index}: act {self.act!r} is not one of {list(ACTIVATIONS)}")
        for name in ("layers", "kernel", "stride", "out_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise GpunasError(f"stage {self.index}: {name} must be a positive integer, got {value!r}")
        object.__setattr__(
            self, "expansion", _positive_number(self.expansion, f"stage {self.index}: expansion")
        )
        if self.kernel % 2 == 0 and not (self.block == "conv" and self.kernel == self.stride):
            raise GpunasError(
                f"stage {self.index}: kernel must be odd (or equal to the stride for a space-to-depth "
                f"conv), got {self.kernel}"
            )
        if self.block in ("conv", "large_stem", "basic") and (self.expansion != 1 or self.se):
            raise GpunasError(f"stage {self.index}: {self.block} stages take no expansion or SE")
        if self.block == "bottleneck" and self.se:
            raise GpunasError(f"stage {self.index}: bottleneck stages take no SE")

    def token(self) -> str:
        parts = [f"s{self.index}", _SHORT[self.block], f"n{self.layers}", f"k{self.kernel}"]
        parts.append(f"s{self.stride}")
        if self.block in EXPANDING:
            parts.append(f"e{format_number(self.expansion)}")
        parts += [f"c{self.out_channels}", self.act]
        if self.se:
            parts.append("se")
        return "_".join(parts)


_TOKEN = re.compile(
    r"^s(?P<index>\d+)_(?P<block>conv|lstem|fir|ir|xx|bl)_n(?P<layers>\d+)_k(?P<kernel>\d+)_s(?P<stride>\d+)"
    r"(?:_e(?P<expansion>\d+(?:\.\d+)?))?_c(?P<out>\d+)_(?P<act>relu|swish)(?P<se>_se)?$"
)


@dataclass(frozen=True)
class Architecture:
    """A whole network: input resolution, block arguments (stage 0 is the stem), head width.

    ``distill`` selects NVIDIA's distilled block set (see the module docstring).
    """

    resolution: int
    stages: tuple[StageConfig, ...]
    head_width: int
    in_channels: int = field(default=3)
    distill: bool = False

    def __post_init__(self) -> None:
        if not self.stages:
            raise GpunasError("an architecture needs at least one stage (the stem)")
        indices = [s.index for s in self.stages]
        if any(b < a for a, b in itertools.pairwise(indices)):
            raise GpunasError(
                f"stage indices must be strictly increasing from stage to stage (entries of one stage share "
                f"its index), got {indices}"
            )
        if self.resolution < 8:
            raise GpunasError(f"resolution must be >= 8, got {self.resolution}")
        if self.distill:
            for st in self.stages:
                if st.act != "relu" or st.se:
                    raise GpunasError(
                        f"stage {st.index}: NVIDIA's distilled blocks are ReLU without SE, got {st.token()}"
                    )
                if st.block in ("basic", "bottleneck"):
                    raise GpunasError(f"stage {st.index}: no {st.block} layers in the distilled block set")

    def layers(self) -> list[LayerConfig]:
        """Expand the entries into layers, threading channels and strides."""
        out: list[LayerConfig] = []
        channels = self.in_channels
        for st in self.stages:
            for i in range(st.layers):
                out.append(
                    LayerConfig(
                        block=st.block,
                        in_channels=channels,
                        out_channels=st.out_channels,
                        kernel=st.kernel,
                        stride=st.stride if i == 0 else 1,
                        expansion=st.expansion,
                        act=st.act,
                        se=st.se,
                        stage=st.index,
                        distill=self.distill,
                    )
                )
                channels = st.out_channels
        return out

    @property
    def num_features(self) -> int:
        return self.stages[-1].out_channels

    @property
    def uniform(self) -> bool:
        """True when every stage is one entry (one configuration per stage, as in the paper's space)."""
        indices = [s.index for s in self.stages]
        return len(indices) == len(set(indices))

    def to_string(self) -> str:
        tokens = [f"res{self.resolution}", *(["distill"] if self.distill else [])]
        tokens += [s.token() for s in self.stages]
        return "-".join([*tokens, f"head{self.head_width}"])

    @classmethod
    def from_layers(
        cls, resolution: int, layers: list[LayerConfig], head_width: int, distill: bool = False
    ) -> Architecture:
        """The canonical entries of a list of layers: each maximal run of identical layers of one
        stage (after its first, stride 1 and same width) becomes one entry."""
        if not layers:
            raise GpunasError("an architecture needs at least one layer (the stem)")
        stages: list[StageConfig] = []
        channels = layers[0].in_channels
        for i, layer in enumerate(layers):
            if layer.in_channels != channels:
                raise GpunasError(
                    f"layer {i}: in_channels {layer.in_channels} != out_channels {channels} of the previous layer"
                )
            channels = layer.out_channels
            prev = stages[-1] if stages else None
            same = prev is not None and (
                (prev.index, prev.block, prev.kernel, prev.out_channels, prev.act, prev.expansion, prev.se)
                == (
                    layer.stage,
                    layer.block,
                    layer.kernel,
                    layer.out_channels,
                    layer.act,
                    layer.expansion,
                    layer.se,
                )
                and layer.stride == 1
                and layer.in_channels == layer.out_channels
            )
            if same and prev is not None:
                stages[-1] = replace(prev, layers=prev.layers + 1)
                continue
            stages.append(
                StageConfig(
                    index=layer.stage,
                    block=layer.block,
                    layers=1,
                    kernel=layer.kernel,
                    stride=layer.stride,
                    out_channels=layer.out_channels,
                    act=layer.act,
                    expansion=layer.expansion,
                    se=layer.se,
                )
            )
        return cls(
            resolution=resolution,
            stages=tuple(stages),
            head_width=head_width,
            in_channels=layers[0].in_channels,
            distill=distill,
        )

    @classmethod
    def from_string(cls, text: str) -> Architecture:
        tokens = text.strip().split("-")
        if len(tokens) < 3 or not tokens[0].startswith("res") or not tokens[-1].startswith("head"):
            raise GpunasError(
                f"arch string {text!r}: expected 'res<R>-<stage token>...-head<W>' (a 'distill' token may "
                "follow res<R>), e.g. res224-s0_conv_n1_k3_s2_c24_swish-head1280"
            )
        try:
            resolution = int(tokens[0][3:])
            head = int(tokens[-1][4:])
        except ValueError as exc:
            raise GpunasError(f"arch string {text!r}: bad resolution or head token") from exc
        body = tokens[1:-1]
        distill = bool(body) and body[0] == "distill"
        stages = []
        for tok in body[1:] if distill else body:
            m = _TOKEN.match(tok)
            if m is None:
                raise GpunasError(
                    f"arch string: stage token {tok!r} does not match s<i>_<conv|lstem|fir|ir|xx|bl>_n<layers>"
                    "_k<kernel>_s<stride>[_e<exp>]_c<ch>_<relu|swish>[_se]"
                )
            stages.append(
                StageConfig(
                    index=int(m["index"]),
                    block=_LONG[m["block"]],
                    layers=int(m["layers"]),
                    kernel=int(m["kernel"]),
                    stride=int(m["stride"]),
                    out_channels=int(m["out"]),
                    act=m["act"],
                    expansion=_number(m["expansion"]) if m["expansion"] else 1,
                    se=m["se"] is not None,
                )
            )
        if not stages:
            raise GpunasError(f"arch string {text!r}: no stage tokens")
        return cls(resolution=resolution, stages=tuple(stages), head_width=head, distill=distill)
