"""Architectures as data: frozen dataclasses and a readable, round-tripping string form.

An :class:`Architecture` is independent of any search space: it is what a space decodes an
integer vector into, what NVIDIA's JSON layer lists import into, and what the builder builds.
Only non-empty stages are stored; a stage that vanished (0 layers) is simply absent.

String form (one token per stage, ``-`` between tokens)::

    res320-s0_conv_n1_k3_s2_c32_swish-s1_conv_n2_k3_s1_c32_relu-...-s6_ir_n2_k3_s2_e5_c704_relu_se-head1280

Token fields: ``s<stage>``, block (``conv``/``fir``/``ir``, and the hand-designed baselines'
``xx``/``bl``), ``n<layers>``, ``k<kernel>``, ``s<stride>``, ``e<expansion>`` (blocks with an
expansion or reduction ratio only), ``c<out channels>``, activation, and a trailing ``se`` when
squeeze-and-excitation is on.

Block types: ``conv`` (conv-BN-act), ``fused_irb`` and ``irb`` (GPUNet's search space), and two
residual blocks of hand-designed networks used as baselines: ``basic`` (GENet XX / ResNet basic
block: two full kxk convs) and ``bottleneck`` (GENet BL / ResNet bottleneck: 1x1 -> kxk -> 1x1 with
``mid = out / expansion``). A ``conv`` layer whose kernel equals its stride (e.g. k2 s2) is a
space-to-depth ("patchify") convolution, as in EfficientNet-X.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BLOCK_TYPES = ("conv", "fused_irb", "irb", "basic", "bottleneck")
ACTIVATIONS = ("relu", "swish")
_SHORT = {"conv": "conv", "fused_irb": "fir", "irb": "ir", "basic": "xx", "bottleneck": "bl"}
# blocks whose token carries e<expansion> (an expansion ratio, or the bottleneck's reduction)
EXPANDING = ("fused_irb", "irb", "bottleneck")
_LONG = {v: k for k, v in _SHORT.items()}


@dataclass(frozen=True)
class LayerConfig:
    """One layer of a built network (a stage expanded into its repeats)."""

    block: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    expansion: int
    act: str
    se: bool
    stage: int

    @property
    def residual(self) -> bool:
        """Identity shortcut: residual blocks with stride 1 and in == out."""
        return self.block != "conv" and self.stride == 1 and self.in_channels == self.out_channels


@dataclass(frozen=True)
class StageConfig:
    """A stage: ``layers`` repeats of one block; only the first has the stride."""

    index: int
    block: str
    layers: int
    kernel: int
    stride: int
    out_channels: int
    act: str
    expansion: int = 1
    se: bool = False

    def __post_init__(self) -> None:
        if self.block not in BLOCK_TYPES:
            raise ValueError(f"stage {self.index}: block {self.block!r} is not one of {list(BLOCK_TYPES)}")
        if self.act not in ACTIVATIONS:
            raise ValueError(f"stage {self.index}: act {self.act!r} is not one of {list(ACTIVATIONS)}")
        for name in ("layers", "kernel", "stride", "out_channels", "expansion"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"stage {self.index}: {name} must be a positive integer, got {value!r}")
        if self.kernel % 2 == 0 and not (self.block == "conv" and self.kernel == self.stride):
            raise ValueError(
                f"stage {self.index}: kernel must be odd (or equal to the stride for a space-to-depth "
                f"conv), got {self.kernel}"
            )
        if self.block in ("conv", "basic") and (self.expansion != 1 or self.se):
            raise ValueError(f"stage {self.index}: {self.block} stages take no expansion or SE")
        if self.block == "bottleneck" and self.se:
            raise ValueError(f"stage {self.index}: bottleneck stages take no SE")

    def token(self) -> str:
        parts = [f"s{self.index}", _SHORT[self.block], f"n{self.layers}", f"k{self.kernel}"]
        parts.append(f"s{self.stride}")
        if self.block in EXPANDING:
            parts.append(f"e{self.expansion}")
        parts += [f"c{self.out_channels}", self.act]
        if self.se:
            parts.append("se")
        return "_".join(parts)


_TOKEN = re.compile(
    r"^s(?P<index>\d+)_(?P<block>conv|fir|ir|xx|bl)_n(?P<layers>\d+)_k(?P<kernel>\d+)_s(?P<stride>\d+)"
    r"(?:_e(?P<expansion>\d+))?_c(?P<out>\d+)_(?P<act>relu|swish)(?P<se>_se)?$"
)


@dataclass(frozen=True)
class Architecture:
    """A whole network: input resolution, stages (stage 0 is the stem) and head width."""

    resolution: int
    stages: tuple[StageConfig, ...]
    head_width: int
    in_channels: int = field(default=3)

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("an architecture needs at least one stage (the stem)")
        indices = [s.index for s in self.stages]
        if indices != sorted(set(indices)):
            raise ValueError(f"stage indices must be strictly increasing, got {indices}")
        if self.resolution < 8:
            raise ValueError(f"resolution must be >= 8, got {self.resolution}")

    def layers(self) -> list[LayerConfig]:
        """Expand stages into layers, threading channels and strides."""
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
                    )
                )
                channels = st.out_channels
        return out

    @property
    def num_features(self) -> int:
        return self.stages[-1].out_channels

    def to_string(self) -> str:
        tokens = [f"res{self.resolution}", *(s.token() for s in self.stages), f"head{self.head_width}"]
        return "-".join(tokens)

    @classmethod
    def from_string(cls, text: str) -> Architecture:
        tokens = text.strip().split("-")
        if len(tokens) < 3 or not tokens[0].startswith("res") or not tokens[-1].startswith("head"):
            raise ValueError(
                f"arch string {text!r}: expected 'res<R>-<stage token>...-head<W>', "
                "e.g. res224-s0_conv_n1_k3_s2_c24_swish-head1280"
            )
        try:
            resolution = int(tokens[0][3:])
            head = int(tokens[-1][4:])
        except ValueError as exc:
            raise ValueError(f"arch string {text!r}: bad resolution or head token") from exc
        stages = []
        for tok in tokens[1:-1]:
            m = _TOKEN.match(tok)
            if m is None:
                raise ValueError(
                    f"arch string: stage token {tok!r} does not match "
                    "s<i>_<conv|fir|ir|xx|bl>_n<layers>_k<kernel>_s<stride>[_e<exp>]_c<ch>_<relu|swish>[_se]"
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
                    expansion=int(m["expansion"]) if m["expansion"] else 1,
                    se=m["se"] is not None,
                )
            )
        return cls(resolution=resolution, stages=tuple(stages), head_width=head)
