"""One block definition, proven: the PyTorch block (as it ships, exported to ONNX), the timed ONNX
layer graph and the analytic count agree on operators, parameters and MACs, for every block type
with and without SE and residual, and for whole networks whose layers differ inside a stage."""

import io
from collections import Counter

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper, shape_inference

from gpunas.arch import Architecture, LayerConfig
from gpunas.latency.backends import torch_layer_module
from gpunas.latency.keys import LayerKey, keys_for_arch
from gpunas.latency.onnx_graph import layer_graph, layer_input_shape, network_graph
from gpunas.models.builder import build_model, module_macs, num_params
from gpunas.models.counting import arch_stats, count, head_cost, layer_cost
from gpunas.nvidia import released_models

IGNORED_OPS = {"Identity", "Constant"}


def export(module: torch.nn.Module, shape: list[int]) -> onnx.ModelProto:
    """The module as it ships: eval mode, the TorchScript exporter (BatchNorm folded into Conv).

    Weights and BatchNorm statistics are drawn at random first: the exporter merges initializers
    of equal value (fresh BatchNorms fold into identical zero biases), which would hide weights.
    """
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in (*module.parameters(), *(b for n, b in module.named_buffers() if "running" in n)):
            t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
    buf = io.BytesIO()
    torch.onnx.export(module.eval(), (torch.randn(shape),), buf, dynamo=False, opset_version=17)
    return onnx.load_from_string(buf.getvalue())


def op_counts(model: onnx.ModelProto) -> Counter:
    return Counter(n.op_type for n in model.graph.node if n.op_type not in IGNORED_OPS)


def onnx_params(model: onnx.ModelProto) -> int:
    """Weights of the graph (float initializers); folded BatchNorm appears as convolution biases."""
    return sum(
        numpy_helper.to_array(t).size
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT
    )


def onnx_macs(model: onnx.ModelProto) -> int:
    """Multiply-accumulates of Conv and Gemm nodes, from the graph's inferred shapes."""
    inferred = shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)
    }
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            cout, cin_per_group, kh, kw = weights[node.input[1]]
            out = shapes[node.output[0]]
            total += cout * cin_per_group * kh * kw * out[2] * out[3]
        elif node.op_type == "Gemm":
            total += int(np.prod(weights[node.input[1]]))
    return total


def _layer(key: LayerKey) -> LayerConfig:
    return LayerConfig(key.type, key.cin, key.cout, key.kernel, key.stride, key.expansion, key.act, key.se, 1,
                       key.distill)  # fmt: skip


BLOCKS = [
    # (type, cin, cout, hw, kernel, stride, expansion, act, se, distill): with/without SE and residual
    ("conv", 3, 16, 32, 3, 2, 1, "swish", False, False),
    ("conv", 16, 16, 16, 3, 1, 1, "relu", False, False),  # stride 1, in == out: still no residual
    ("conv", 16, 32, 16, 2, 2, 1, "relu", False, False),  # space-to-depth
    ("large_stem", 3, 24, 32, 3, 2, 1, "relu", False, True),
    ("fused_irb", 16, 16, 16, 3, 1, 4, "relu", False, False),  # residual
    ("fused_irb", 16, 16, 16, 5, 1, 3, "swish", True, False),  # residual + SE
    ("fused_irb", 16, 24, 16, 3, 2, 4, "swish", True, False),  # SE, no residual
    ("fused_irb", 16, 24, 16, 3, 2, 2, "relu", False, False),
    ("irb", 24, 24, 8, 5, 1, 6, "swish", True, False),
    ("irb", 24, 24, 8, 3, 1, 3, "relu", False, False),
    ("irb", 24, 40, 8, 3, 2, 4.25, "relu", True, False),  # fractional expansion (GPUNet-P0)
    ("irb", 33, 33, 8, 3, 1, 1, "relu", False, True),  # distilled: mid = in * e exactly
    ("irb", 33, 44, 8, 7, 2, 3, "relu", False, True),
    ("basic", 16, 16, 8, 3, 1, 1, "relu", False, False),  # identity shortcut
    ("basic", 16, 32, 8, 3, 2, 1, "relu", False, False),  # projection shortcut
    ("bottleneck", 32, 32, 8, 3, 1, 4, "relu", False, False),
    ("bottleneck", 32, 64, 8, 3, 2, 4, "relu", False, False),
    ("head", 64, 128, 4, 1, 1, 1, "relu", False, False),
    ("head", 64, 128, 4, 1, 1, 1, "relu", False, True),  # NVIDIA's EpilogueD (1152 hidden)
]


@pytest.mark.parametrize(
    "spec", BLOCKS, ids=lambda s: f"{s[0]}-s{s[5]}-e{s[6]}-{s[7]}-se{int(s[8])}-d{int(s[9])}"
)
def test_block_views_agree(spec):
    kind, cin, cout, hw, k, s, e, act, se, distill = spec
    key = LayerKey(kind, cin, cout, hw, k, s, e, act, se, 10 if kind == "head" else 0, distill)
    timed = layer_graph(key)
    module = torch_layer_module(key)
    shipped = export(module, layer_input_shape(key, 1))
    assert op_counts(timed) == op_counts(shipped), key.name(1, "fp32")
    assert onnx_params(timed) == onnx_params(shipped)
    if kind == "head":
        params, macs = head_cost(cin, cout, 10, hw, distill)
    else:
        params, macs, _ = layer_cost(_layer(key), hw)
    assert num_params(module) == params
    assert onnx_macs(timed) == onnx_macs(shipped) == macs
    # the residual and SE the key claims are in both graphs
    assert (op_counts(timed)["Add"] > 0) == (key.residual or kind in ("basic", "bottleneck"))
    assert (op_counts(timed)["GlobalAveragePool"] > (kind == "head")) == se


NETWORKS = {
    "GPUNet-P0 (layers differ inside stages)": ("GPUNet-P0", 96),
    "GPUNet-D2 (distilled, head_large)": ("GPUNet-D2", 96),
    "tiny heterogeneous": (
        "res48-s0_conv_n1_k3_s2_c16_swish-s1_conv_n1_k3_s1_c16_relu-s2_fir_n1_k3_s2_e4_c24_relu"
        "-s2_fir_n1_k5_s1_e3_c24_swish_se-s3_ir_n1_k3_s2_e6_c40_relu_se-s3_ir_n2_k5_s1_e3.5_c40_swish-head128",
        48,
    ),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_network_views_agree(name):
    source, resolution = NETWORKS[name]
    arch = released_models()[source] if source.startswith("GPUNet") else Architecture.from_string(source)
    arch = Architecture(resolution, arch.stages, arch.head_width, distill=arch.distill)
    timed = network_graph(arch, 10)
    model = build_model(arch, 10)
    shipped = export(model, [1, 3, resolution, resolution])
    assert op_counts(timed) == op_counts(shipped)
    assert onnx_params(timed) == onnx_params(shipped)
    params, macs = count(arch, 10)
    assert num_params(model) == params
    assert onnx_macs(timed) == onnx_macs(shipped) == module_macs(model, resolution) == macs
    # the timed chain is the LUT's keys, one per layer and the head, at the analytic input sizes
    rows = arch_stats(arch, 10)
    keys = keys_for_arch(arch, 10)
    assert [k.hw for k in keys] == [r.in_hw for r in rows]
