"""ONNX graphs of single layers and whole networks, built directly (no exporter).

Building the graph with ``onnx.helper`` takes about a millisecond, against ~1 s per block for
``torch.onnx.export`` (MACHINE.md). BatchNorm is folded into the convolution bias, as every
inference runtime (TensorRT, ONNX Runtime) does anyway. Weights are random: latency does not
depend on their values.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gpunas.arch import Architecture
from gpunas.errors import GpunasError
from gpunas.latency.keys import LayerKey, keys_for_arch
from gpunas.models.blocks_math import (
    DISTILL_HEAD_HIDDEN,
    bottleneck_channels,
    conv_padding,
    expanded_channels,
    layer_output_size,
    se_channels,
)

OPSET = 17


class GraphBuilder:
    """Accumulates nodes and initializers; each method returns its output tensor name."""

    def __init__(self, seed: int = 0) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0
        self._rng = np.random.default_rng(seed)

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def _weight(self, shape: tuple[int, ...]) -> str:
        name = self._name("w")
        data = (self._rng.standard_normal(shape) * 0.05).astype(np.float32)
        self.inits.append(numpy_helper.from_array(data, name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: object) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(
        self,
        x: str,
        cin: int,
        cout: int,
        k: int,
        stride: int = 1,
        pad: int = 0,
        groups: int = 1,
        bias: bool = True,
    ) -> str:
        """A convolution; its bias stands for the folded BatchNorm (``bias=False``: a conv without BN)."""
        inputs = [x, self._weight((cout, cin // groups, k, k)), *([self._weight((cout,))] if bias else [])]
        return self.node(
            "Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups
        )

    def act(self, x: str, act: str) -> str:
        if act == "relu":
            return self.node("Relu", [x])
        if act == "swish":
            return self.node("Mul", [x, self.node("Sigmoid", [x])])
        raise GpunasError(f"unknown activation {act!r}")

    def se(self, x: str, channels: int, reduced: int, act: str) -> str:
        s = self.node("GlobalAveragePool", [x])
        s = self.act(self.conv(s, channels, reduced, 1), act)
        s = self.node("Sigmoid", [self.conv(s, reduced, channels, 1)])
        return self.node("Mul", [x, s])

    def normalize(self, x: str, channels: int) -> str:
        """``(x - mean) / std`` per channel, as :class:`gpunas.models.builder.Normalize` exports."""
        mean = self._weight((1, channels, 1, 1))
        std = self._name("std")
        self.inits.append(numpy_helper.from_array(np.full((1, channels, 1, 1), 0.25, np.float32), std))
        return self.node("Div", [self.node("Sub", [x, mean]), std])

    def layer(self, x: str, key: LayerKey, padding: str = "same") -> str:
        """One block (or the head) of ``key``; mirrors gpunas.models.blocks. The stem
        (:attr:`LayerKey.reads_image`) starts with the input normalisation."""
        if key.reads_image:
            x = self.normalize(x, key.cin)
        if key.type == "head":
            hidden = DISTILL_HEAD_HIDDEN if key.distill else key.cout
            y = self.node("GlobalAveragePool", [self.node("Relu", [self.conv(x, key.cin, hidden, 1)])])
            if key.distill:  # NVIDIA's EpilogueD: a second conv1x1 (no bias) after the pool
                y = self.node("Relu", [self.conv(y, hidden, key.cout, 1, bias=False)])
            y = self.node("Flatten", [y], axis=1)
            w, b = self._weight((key.classes, key.cout)), self._weight((key.classes,))
            return self.node("Gemm", [y, w, b], transB=1)
        pad = conv_padding(key.kernel, key.stride, key.type, padding, key.distill)
        if key.type == "conv":
            return self.act(self.conv(x, key.cin, key.cout, key.kernel, key.stride, pad), key.act)
        if key.type == "large_stem":
            y = self.act(self.conv(x, key.cin, key.cout, key.kernel, key.stride, pad), key.act)
            for _ in range(2):
                y = self.act(self.conv(y, key.cout, key.cout, key.kernel, 1, (key.kernel - 1) // 2), key.act)
            return y
        if key.type in ("basic", "bottleneck"):
            return self.post_act_residual(x, key, pad)
        mid = expanded_channels(key.cin, key.expansion, key.distill)
        if key.type == "fused_irb":
            y = self.act(self.conv(x, key.cin, mid, key.kernel, key.stride, pad), key.act)
        elif key.type == "irb":
            y = self.act(self.conv(x, key.cin, mid, 1), key.act)
            y = self.act(self.conv(y, mid, mid, key.kernel, key.stride, pad, groups=mid), key.act)
        else:
            raise GpunasError(f"unknown layer type {key.type!r}")
        if key.se:
            y = self.se(y, mid, se_channels(mid, key.expansion), key.act)
        y = self.conv(y, mid, key.cout, 1)
        return self.node("Add", [x, y]) if key.residual else y

    def post_act_residual(self, x: str, key: LayerKey, pad: int) -> str:
        """basic / bottleneck blocks: act(body(x) + shortcut(x)), projection when not identity."""
        k, s = key.kernel, key.stride
        if key.type == "basic":
            y = self.act(self.conv(x, key.cin, key.cout, k, s, pad), key.act)
            y = self.conv(y, key.cout, key.cout, k, 1, (k - 1) // 2)
        else:
            mid = bottleneck_channels(key.cout, key.expansion)
            y = self.act(self.conv(x, key.cin, mid, 1), key.act)
            y = self.act(self.conv(y, mid, mid, k, s, pad), key.act)
            y = self.conv(y, mid, key.cout, 1)
        short = x if key.residual else self.conv(x, key.cin, key.cout, 1, s)
        return self.act(self.node("Add", [short, y]), key.act)

    def model(self, x: str, y: str, in_shape: list[int], out_shape: list[int]) -> onnx.ModelProto:
        self.nodes.append(helper.make_node("Identity", [y], ["output"]))
        graph = helper.make_graph(
            self.nodes,
            "gpunas",
            [helper.make_tensor_value_info(x, TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = min(model.ir_version, 9)
        return model


def identity_graph() -> onnx.ModelProto:
    """A one-node graph (Identity of a 1-element tensor): creating its session tests a provider."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(model.ir_version, 9)
    return model


def layer_input_shape(key: LayerKey, batch: int) -> list[int]:
    return [batch, key.cin, key.hw, key.hw]


def layer_output_shape(key: LayerKey, batch: int, padding: str = "same") -> list[int]:
    if key.type == "head":
        return [batch, key.classes]
    out = layer_output_size(key.hw, key.kernel, key.stride, key.type, padding, key.distill)
    return [batch, key.cout, out, out]


def layer_graph(key: LayerKey, batch: int = 1, padding: str = "same") -> onnx.ModelProto:
    g = GraphBuilder()
    y = g.layer("input", key, padding)
    return g.model("input", y, layer_input_shape(key, batch), layer_output_shape(key, batch, padding))


def network_graph(
    arch: Architecture, num_classes: int, batch: int = 1, padding: str = "same"
) -> onnx.ModelProto:
    """The whole network as the chain of the same layer graphs the LUT measured."""
    g = GraphBuilder()
    x = "input"
    for key in keys_for_arch(arch, num_classes, padding):
        x = g.layer(x, key, padding)
    return g.model(
        "input", x, [batch, arch.in_channels, arch.resolution, arch.resolution], [batch, num_classes]
    )
