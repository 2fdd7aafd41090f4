import numpy as np
import pandas as pd
import pytest

from gpunas.latency.backends import BackendUnavailableError, create_backend
from gpunas.latency.estimate import Correction, lut_sums, lut_sums_reference
from gpunas.latency.keys import (
    KEY_LAYOUT,
    LayerKey,
    keys_for_arch,
    keys_for_space,
    keys_for_vectors,
    layer_codes,
)
from gpunas.latency.lut import device_slug, keys_frame, merge, read_lut
from gpunas.latency.protocol import Protocol, measure
from gpunas.spaces.sampling import sobol_vectors
from gpunas.tables import write_table

META = {
    "slug": "onnxruntime-cpu-test-fp32-b1",
    "backend": "onnxruntime",
    "hardware": "test",
    "precision": "fp32",
    "batch": 1,
    "padding": "same",
    "classes": 10,
    "unit": "ms",
    "key_layout": KEY_LAYOUT,
}


def fake_lut(codes: np.ndarray) -> pd.DataFrame:
    df = keys_frame(codes, 1, "fp32")
    rng = np.random.default_rng(0)
    df["latency_ms"] = rng.uniform(0.01, 1.0, len(df))
    df["mad_ms"] = 0.0
    df["cv"] = 0.0
    df["min_ms"] = df["latency_ms"]
    df["repeats"] = 5
    return df


def test_key_code_round_trip_and_name():
    key = LayerKey("irb", 64, 64, 14, 3, 1, 4, "swish", True)
    assert LayerKey.from_code(key.code()) == key
    assert key.residual
    assert key.name(1, "fp32") == "irb-i64-o64-h14-k3-s1-e4-swish-se1-res1-b1-fp32"
    head = LayerKey("head", 704, 1280, 10, 1, 1, 1, "relu", False, 1000)
    assert LayerKey.from_code(head.code()) == head
    with pytest.raises(ValueError, match="field 'cin' out of range"):
        LayerKey("conv", 5000, 8, 8, 3, 1, 1, "relu", False).code()


def test_vectorised_keys_equal_per_layer_reference_and_dedup(gpunet_space, tiny_space):
    for space in (tiny_space, gpunet_space):
        vectors = sobol_vectors(space, m=7, seed=4)
        codes, counts = layer_codes(space, vectors, 10)
        for v, row_codes, row_counts in zip(vectors[:40], codes, counts, strict=False):
            ref = keys_for_arch(space.decode(v), 10)
            expanded = [int(c) for c, n in zip(row_codes, row_counts, strict=True) for _ in range(n)]
            assert sorted(expanded) == sorted(k.code() for k in ref)
        distinct = keys_for_vectors(space, vectors, 10)
        assert len(distinct) == len(set(distinct.tolist())) < counts.sum()
        assert set(distinct.tolist()) == {
            k.code() for v in vectors for k in keys_for_arch(space.decode(v), 10)
        }


def test_all_keys_of_a_small_space(tiny_space):
    every = set(keys_for_space(tiny_space, 10).tolist())
    sampled = set(keys_for_vectors(tiny_space, sobol_vectors(tiny_space, m=16, seed=0), 10).tolist())
    # 65,536 samples reach every key of the tiny space and nothing outside the enumeration
    assert sampled == every
    assert len(every) == 4718


def test_vectorised_costing_equals_slow_reference_sum(tiny_space, gpunet_space):
    for space in (tiny_space, gpunet_space):
        vectors = sobol_vectors(space, m=8, seed=1)
        lut = fake_lut(keys_for_vectors(space, vectors, 10))
        fast, layers = lut_sums(space, vectors, lut, 10)
        slow = lut_sums_reference(space, vectors, lut, 10)
        np.testing.assert_allclose(fast, slow, rtol=1e-12)
        assert (layers == [len(space.decode(v).layers()) + 1 for v in vectors]).all()


def test_costing_names_missing_keys(tiny_space):
    vectors = sobol_vectors(tiny_space, m=5, seed=1)
    lut = fake_lut(keys_for_vectors(tiny_space, vectors, 10)).iloc[1:]
    with pytest.raises(ValueError, match="layer keys are not in the LUT"):
        lut_sums(tiny_space, vectors, lut, 10)


def test_correction_fit_recovers_coefficients():
    rng = np.random.default_rng(0)
    lut_sum, layers = rng.uniform(0.1, 2, 50), rng.integers(5, 40, 50).astype(float)
    measured = 0.9 * lut_sum - 0.004 * layers + 0.02
    c = Correction.fit(lut_sum, layers, measured)
    assert (round(c.a, 6), round(c.b, 6), round(c.c, 6)) == (0.9, -0.004, 0.02)


def test_lut_round_trip_and_foreign_device_refused(tmp_path, tiny_space):
    lut = fake_lut(keys_for_vectors(tiny_space, sobol_vectors(tiny_space, m=4, seed=0), 10))
    path = tmp_path / "lut.parquet"
    write_table(lut, META, path)
    df, meta = read_lut(path, expect_slug=META["slug"])
    assert meta["unit"] == "ms" and len(df) == len(lut)
    with pytest.raises(ValueError, match="refusing to mix devices or backends"):
        read_lut(path, expect_slug="tensorrt-nvidia-a100-fp16-b1")
    # a table of the older key-code layout would decode into wrong keys: refused, not read
    write_table(lut, {**META, "key_layout": 1}, path)
    with pytest.raises(ValueError, match=f"uses key layout 1, this gpunas uses {KEY_LAYOUT}"):
        read_lut(path, expect_slug=META["slug"])


def test_corrupt_and_truncated_lut(tmp_path, tiny_space):
    path = tmp_path / "lut.parquet"
    write_table(
        fake_lut(keys_for_vectors(tiny_space, sobol_vectors(tiny_space, m=4, seed=0), 10)), META, path
    )
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match="is corrupt or truncated"):
        read_lut(path)
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match="has no gpunas metadata"):
        read_lut(path)
    with pytest.raises(ValueError, match="does not exist"):
        read_lut(tmp_path / "missing.parquet")


def test_merge_refuses_mixed_devices_and_reports_missing(tiny_space):
    lut = fake_lut(keys_for_vectors(tiny_space, sobol_vectors(tiny_space, m=4, seed=0), 10))
    half = len(lut) // 2
    needed = lut[["code", "key"]]
    merged, _cache, meta = merge(needed, [(lut.iloc[:half], META)], (lut.iloc[half:], META))
    assert len(merged) == len(lut) and meta["keys"] == len(lut)
    other = {**META, "hardware": "another-cpu"}
    with pytest.raises(ValueError, match="hardware 'another-cpu' differs from 'test'"):
        merge(needed, [(lut.iloc[:half], META), (lut.iloc[half:], other)], None)
    with pytest.raises(ValueError, match="needed keys were not profiled"):
        merge(needed, [(lut.iloc[:half], META)], None)


def test_device_slug():
    assert (
        device_slug("onnxruntime", "cpu", "AMD EPYC 7B13", "fp32", 1)
        == "onnxruntime-cpu-amd-epyc-7b13-fp32-b1"
    )
    assert (
        device_slug("tensorrt", "cuda", "NVIDIA H100 80GB HBM3", "fp16", 1)
        == "tensorrt-cuda-nvidia-h100-80gb-hbm3-fp16-b1"
    )


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_cpu_backends_measure_layers_and_networks(backend, tiny_space):
    b = create_backend(backend, device="cpu", threads=1)
    b.check()
    info = b.info()
    assert info["backend"] == backend and info["hardware"]
    arch = tiny_space.decode([1] * 41)
    keys = keys_for_arch(arch, 10)
    stats = measure(keys, b.layer, Protocol(repeats=5, warmup=1, runs=3, remeasure=0))
    assert len(stats) == len(keys) and (stats["latency_ms"] > 0).all() and (stats["repeats"] == 5).all()
    net = measure([arch], lambda a: b.network(a, 10), Protocol(repeats=5, warmup=1, runs=3))
    # the whole network costs more than its slowest layer, and about what its layers add up to
    # (the LUT's premise; a factor 3 either way leaves room for the noise of 2 shared cores)
    assert net["latency_ms"][0] > stats["latency_ms"].max()
    assert 1 / 3 < net["latency_ms"][0] / stats["latency_ms"].sum() < 3


def test_backend_errors_are_one_line():
    with pytest.raises(ValueError, match="unknown latency backend 'tvm'"):
        create_backend("tvm")
    with pytest.raises(ValueError, match="precision 'fp16' not supported on cpu"):
        create_backend("onnxruntime", device="cpu", precision="fp16")
    with pytest.raises(ValueError, match="protocol.repeats must be >= 5"):
        Protocol(repeats=3)


def test_tensorrt_backend_up_to_the_library(tiny_space):
    """Builds everything TensorRT would consume; skips where TensorRT or a GPU is absent."""
    import onnx

    from gpunas.latency.onnx_graph import layer_graph, network_graph

    arch = tiny_space.decode([1] * 41)
    for key in keys_for_arch(arch, 10):
        onnx.checker.check_model(layer_graph(key))
    onnx.checker.check_model(network_graph(arch, 10))
    backend = create_backend("tensorrt")
    assert backend.precision == "fp16" and backend.device == "cuda"
    try:
        backend.check()
    except BackendUnavailableError as exc:
        assert "\n" not in str(exc)
        pytest.skip(f"TensorRT path not runnable here: {exc}")
    stats = measure(keys_for_arch(arch, 10)[:2], backend.layer, Protocol(repeats=5, warmup=2, runs=5))
    assert (stats["latency_ms"] > 0).all()


# TensorRT 10's Python API, as far as gpunas's engine build uses it (docs.nvidia.com/deeplearning/
# tensorrt/api/python_api): each object's attribute names and what calling them returns.
TRT_API = {
    "tensorrt": {"Logger": "Logger", "Builder": "Builder", "OnnxParser": "OnnxParser",
                 "BuilderFlag": "BuilderFlag", "MemoryPoolType": "MemoryPoolType"},
    "Logger": {"WARNING": "value", "INFO": "value", "ERROR": "value", "VERBOSE": "value"},
    "BuilderFlag": {"FP16": "value", "INT8": "value", "TF32": "value"},
    "MemoryPoolType": {"WORKSPACE": "value"},
    "Builder": {"create_network": "INetworkDefinition", "create_builder_config": "IBuilderConfig",
                "create_optimization_profile": "IOptimizationProfile", "build_serialized_network": "engine"},
    "OnnxParser": {"parse": "True", "num_errors": "0", "get_error": "value"},
    "INetworkDefinition": {"num_inputs": "0", "get_input": "ITensor", "num_outputs": "0"},
    "IBuilderConfig": {"set_memory_pool_limit": "None", "set_flag": "None", "add_optimization_profile": "0"},
    "IOptimizationProfile": {"set_shape": "None"},
}  # fmt: skip


def test_tensorrt_engine_build_calls_the_real_api_in_order(monkeypatch, tiny_space):
    """The code around TensorRT, with a stand-in that knows only the real API's names (unit test
    only): a misspelt or removed name (e.g. TensorRT 8's ``max_workspace_size``) fails here."""
    import sys
    import types

    from gpunas.latency.onnx_graph import layer_graph

    calls = []
    plain = {"True": True, "0": 0, "None": None, "engine": b"engine", "value": "value"}

    class Api:
        """An object of kind ``kind``: only the attributes TRT_API lists; calling one records it."""

        def __init__(self, kind):
            self._kind = kind

        def __getattr__(self, attr):
            if attr.startswith("_"):
                raise AttributeError(attr)
            if attr not in TRT_API[self._kind]:
                raise AttributeError(f"TensorRT's {self._kind} has no attribute {attr!r}")
            out = TRT_API[self._kind][attr]
            if (out in ("value", "0") and attr.isupper()) or attr in (
                "num_inputs",
                "num_errors",
                "num_outputs",
            ):
                return plain[out]
            return Call(f"{self._kind}.{attr}", out)

        def __call__(self, *args, **kwargs):  # a class: its constructor
            calls.append(self._kind)
            return Api(self._kind)

    class Call:
        def __init__(self, name, returns):
            self.name, self.returns = name, returns

        def __call__(self, *args, **kwargs):
            calls.append(self.name)
            return Api(self.returns) if self.returns in TRT_API else plain[self.returns]

    trt = types.ModuleType("tensorrt")
    for name in TRT_API["tensorrt"]:
        setattr(trt, name, Api(name))
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    backend = create_backend("tensorrt", precision="fp16")
    key = keys_for_arch(tiny_space.decode([0] * 41), 10)[3]
    assert backend.build_engine(layer_graph(key).SerializeToString()) == b"engine"
    names = [c.split(".")[-1] for c in calls]
    assert names.index("create_network") < names.index("parse") < names.index("set_flag")
    assert names[-1] == "build_serialized_network"
