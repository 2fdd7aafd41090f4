"""Profiling backends, one registry: ``onnxruntime``, ``torch``, ``tensorrt``.

A backend prepares a *runner* for a layer key or a whole network; a runner times ``runs``
executions after ``warmup`` and returns milliseconds. The measurement protocol (repeats,
interleaving, medians) lives in :mod:`gpunas.latency.protocol` and is the same for all backends.

CPU measurements use one intra-op thread by default: with 2 threads on 2 shared cores the
coefficient of variation of a layer's median rose from ~5% to ~20% and LUT rank correlation fell
to ~0.86 (MACHINE.md); deployment latency on a busy host is also closer to single-thread numbers.
"""

from __future__ import annotations

import importlib.metadata
import platform
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from gpunas.arch import Architecture
from gpunas.errors import GpunasError
from gpunas.latency.keys import LayerKey
from gpunas.registry import Registry

BACKENDS: Registry[type[Backend]] = Registry("latency backend")


class BackendUnavailableError(GpunasError):
    """The backend's library or device is missing here; the message is one line saying which."""


def register_backend(name: str) -> Callable[[type[Backend]], type[Backend]]:
    def wrap(cls: type[Backend]) -> type[Backend]:
        cls.name = name
        return BACKENDS.add(name, cls)

    return wrap


def backend_names() -> list[str]:
    return BACKENDS.names()


def create_backend(name: str, **kwargs: Any) -> Backend:
    return BACKENDS.get(name)(**kwargs)


def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class Runner(ABC):
    @abstractmethod
    def time(self, runs: int, warmup: int) -> np.ndarray:
        """Milliseconds of ``runs`` timed executions after ``warmup`` untimed ones."""


class Backend(ABC):
    name = "abstract"
    devices: tuple[str, ...] = ("cpu",)
    precisions: tuple[str, ...] = ("fp32",)

    def __init__(
        self,
        *,
        device: str = "cpu",
        precision: str = "fp32",
        batch: int = 1,
        threads: int = 1,
        padding: str = "same",
        options: dict[str, Any] | None = None,
    ) -> None:
        if device not in self.devices:
            raise GpunasError(
                f"backend {self.name!r}: device {device!r} not supported (use {list(self.devices)})"
            )
        if precision not in self.precisions:
            raise GpunasError(
                f"backend {self.name!r}: precision {precision!r} not supported on {device} "
                f"(use {list(self.precisions)})"
            )
        if batch < 1 or threads < 1:
            raise GpunasError(f"batch and threads must be >= 1, got batch={batch}, threads={threads}")
        self.device, self.precision, self.batch, self.threads = device, precision, batch, threads
        self.padding = padding
        self.options = dict(options or {})

    def check(self) -> None:
        """Raise :class:`BackendUnavailableError` when the library or device is missing."""
        return None

    @abstractmethod
    def hardware(self) -> str:
        """Name of the device that runs the measurements."""

    @abstractmethod
    def versions(self) -> dict[str, str | None]: ...

    @abstractmethod
    def layer(self, key: LayerKey) -> Runner: ...

    @abstractmethod
    def network(self, arch: Architecture, num_classes: int) -> Runner: ...

    @abstractmethod
    def exported(self, onnx_bytes: bytes, load_module: Callable[[], Any], shape: list[int]) -> Runner:
        """A runner of a shipped model: its exported ONNX, or (torch) the module ``load_module`` gives."""

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "device": self.device,
            "hardware": self.hardware(),
            "precision": self.precision,
            "batch": self.batch,
            "threads": self.threads,
            "padding": self.padding,
            "versions": self.versions(),
            "options": self.options,
        }


# --------------------------------------------------------------------------- ONNX Runtime
class _OrtRunner(Runner):
    """Runs with pre-bound input and output buffers (IOBinding), as a deployed engine would:
    no per-run output allocation or copy into numpy, which would otherwise add a cost
    proportional to each layer's activation size that whole networks pay only once."""

    def __init__(self, session: Any, shape: list[int], device: str = "cpu") -> None:
        import onnxruntime as ort

        self.session = session
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        in_name, out_name = session.get_inputs()[0].name, session.get_outputs()[0].name
        out = session.run(None, {in_name: x})[0]
        ort_device = "cpu" if device == "cpu" else "cuda"
        self._keep = [
            ort.OrtValue.ortvalue_from_numpy(x, ort_device, 0),
            ort.OrtValue.ortvalue_from_numpy(np.empty_like(out), ort_device, 0),
        ]
        self.binding = session.io_binding()
        self.binding.bind_ortvalue_input(in_name, self._keep[0])
        self.binding.bind_ortvalue_output(out_name, self._keep[1])

    def time(self, runs: int, warmup: int) -> np.ndarray:
        run, binding = self.session.run_with_iobinding, self.binding
        for _ in range(warmup):
            run(binding)
        out = np.empty(runs)
        for i in range(runs):
            t0 = time.perf_counter_ns()
            run(binding)
            out[i] = time.perf_counter_ns() - t0
        return out / 1e6


@register_backend("onnxruntime")
class OnnxRuntimeBackend(Backend):
    """ONNX Runtime: CPU execution provider, or CUDA / TensorRT EPs with ``onnxruntime-gpu``."""

    devices = ("cpu", "cuda", "tensorrt")
    _PROVIDERS: ClassVar[dict[str, str]] = {
        "cpu": "CPUExecutionProvider",
        "cuda": "CUDAExecutionProvider",
        "tensorrt": "TensorrtExecutionProvider",
    }

    def __init__(self, **kwargs: Any) -> None:
        device = kwargs.get("device", "cpu")
        self.precisions = ("fp32", "fp16") if device == "tensorrt" else ("fp32",)
        super().__init__(**kwargs)

    def check(self) -> None:
        """The device's execution provider is built in *and* can be created here: ONNX Runtime
        lists a provider whose libraries (CUDA, cuDNN, TensorRT) are missing, then silently runs
        a session on the CPU instead, so a one-node session is created and its providers read."""
        import onnxruntime as ort

        provider = self._PROVIDERS[self.device]
        if provider not in ort.get_available_providers():
            raise BackendUnavailableError(
                f"onnxruntime has no {provider} here (available: {ort.get_available_providers()}); "
                "install the 'gpu' extra on a GPU machine or use device: cpu"
            )
        from gpunas.latency.onnx_graph import identity_graph

        try:
            self._session(identity_graph().SerializeToString())
        except BackendUnavailableError:
            raise
        except Exception as exc:  # the provider's own error, whatever its type
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise BackendUnavailableError(f"onnxruntime cannot create the {provider} here: {first}") from None

    def hardware(self) -> str:
        return cpu_name() if self.device == "cpu" else _cuda_name()

    def versions(self) -> dict[str, str | None]:
        return {
            "onnxruntime": _version("onnxruntime") or _version("onnxruntime-gpu"),
            "onnx": _version("onnx"),
        }

    def _session(self, model_bytes: bytes) -> Any:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        provider: Any = self._PROVIDERS[self.device]
        if self.device == "tensorrt":
            provider = (provider, {"trt_fp16_enable": self.precision == "fp16"})
        with warnings.catch_warnings():  # a provider that cannot be created is refused just below
            warnings.simplefilter("ignore", UserWarning)
            session = ort.InferenceSession(model_bytes, so, providers=[provider])
        name = self._PROVIDERS[self.device]
        if name not in session.get_providers():  # ONNX Runtime fell back to another provider
            raise BackendUnavailableError(
                f"onnxruntime cannot create the {name} here (the session fell back to "
                f"{session.get_providers()}); check its CUDA / cuDNN / TensorRT libraries or use device: cpu"
            )
        return session

    def layer(self, key: LayerKey) -> Runner:
        from gpunas.latency.onnx_graph import layer_graph, layer_input_shape

        model = layer_graph(key, self.batch, self.padding)
        return _OrtRunner(
            self._session(model.SerializeToString()), layer_input_shape(key, self.batch), self.device
        )

    def network(self, arch: Architecture, num_classes: int) -> Runner:
        from gpunas.latency.onnx_graph import network_graph

        model = network_graph(arch, num_classes, self.batch, self.padding)
        shape = [self.batch, arch.in_channels, arch.resolution, arch.resolution]
        return _OrtRunner(self._session(model.SerializeToString()), shape, self.device)

    def exported(self, onnx_bytes: bytes, load_module: Callable[[], Any], shape: list[int]) -> Runner:
        return _OrtRunner(self._session(onnx_bytes), shape, self.device)


# --------------------------------------------------------------------------------- torch
def _cuda_name() -> str:
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailableError("no CUDA device visible to torch (torch.cuda.is_available() is False)")
    return torch.cuda.get_device_name()


def torch_layer_module(key: LayerKey, padding: str = "same") -> Any:
    """The module of one key: its block (the stem preceded by the input normalisation) or the head."""
    from torch import nn

    from gpunas.models.blocks import Head, create_block
    from gpunas.models.builder import Normalize

    if key.type == "head":
        return Head(key.cin, key.cout, key.classes, distill=key.distill)
    block = create_block(
        key.type,
        key.cin,
        key.cout,
        kernel=key.kernel,
        stride=key.stride,
        expansion=key.expansion,
        act=key.act,
        se=key.se,
        padding=padding,
        distill=key.distill,
    )
    return nn.Sequential(Normalize(key.cin), block) if key.reads_image else block


class _TorchRunner(Runner):
    def __init__(self, module: Any, shape: list[int], backend: TorchBackend) -> None:
        import torch

        self.torch = torch
        dev = torch.device("cuda" if backend.device == "cuda" else "cpu")
        dtype = torch.float16 if backend.precision == "fp16" else torch.float32
        fmt = torch.channels_last if backend.options.get("channels_last", backend.device == "cuda") else None
        self.module = module.to(dev, dtype).eval()
        self.x = torch.randn(shape, device=dev, dtype=dtype)
        if fmt is not None:
            self.module = self.module.to(memory_format=fmt)
            self.x = self.x.contiguous(memory_format=fmt)
        self.cuda = backend.device == "cuda"
        self.graph = None
        if self.cuda and backend.options.get("cuda_graphs", True):
            self.graph = self._capture()

    def _capture(self) -> Any:
        torch = self.torch
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), torch.inference_mode():
            for _ in range(3):
                self.module(self.x)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            self.out = self.module(self.x)
        return graph

    def _once(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.module(self.x)

    def time(self, runs: int, warmup: int) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            for _ in range(warmup):
                self._once()
            out = np.empty(runs)
            if self.cuda:
                events = [
                    (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                    for _ in range(runs)
                ]
                torch.cuda.synchronize()
                for start, end in events:
                    start.record()
                    self._once()
                    end.record()
                torch.cuda.synchronize()
                return np.array([s.elapsed_time(e) for s, e in events])
            for i in range(runs):
                t0 = time.perf_counter_ns()
                self._once()
                out[i] = time.perf_counter_ns() - t0
        return out / 1e6


@register_backend("torch")
class TorchBackend(Backend):
    """PyTorch eager: CPU, or CUDA timed with CUDA events (CUDA graphs, fp16, channels_last)."""

    devices = ("cpu", "cuda")

    def __init__(self, **kwargs: Any) -> None:
        self.precisions = ("fp32", "fp16") if kwargs.get("device", "cpu") == "cuda" else ("fp32",)
        super().__init__(**kwargs)

    def check(self) -> None:
        import torch

        if self.device == "cuda":
            _cuda_name()
        else:
            torch.set_num_threads(self.threads)

    def hardware(self) -> str:
        return cpu_name() if self.device == "cpu" else _cuda_name()

    def versions(self) -> dict[str, str | None]:
        import torch

        return {"torch": torch.__version__, "cuda": torch.version.cuda}

    def layer(self, key: LayerKey) -> Runner:
        return _TorchRunner(
            torch_layer_module(key, self.padding), [self.batch, key.cin, key.hw, key.hw], self
        )

    def network(self, arch: Architecture, num_classes: int) -> Runner:
        from gpunas.models.builder import build_model

        model = build_model(arch, num_classes, padding=self.padding)
        return _TorchRunner(model, [self.batch, arch.in_channels, arch.resolution, arch.resolution], self)

    def exported(self, onnx_bytes: bytes, load_module: Callable[[], Any], shape: list[int]) -> Runner:
        return _TorchRunner(load_module(), shape, self)


# ------------------------------------------------------------------------------ TensorRT
def import_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendUnavailableError(
            "TensorRT is not installed (pip install 'gpunas[gpu]' on a machine with an NVIDIA GPU)"
        ) from None
    return trt


class _TrtRunner(Runner):
    """Runs a serialized engine through an execution context on a CUDA stream."""

    def __init__(self, trt: Any, engine_bytes: bytes, shape: list[int]) -> None:
        import torch

        self.torch = torch
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(engine_bytes)
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        self.buffers = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            tshape = tuple(self.context.get_tensor_shape(name))
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                tshape = tuple(shape)
                self.context.set_input_shape(name, tshape)
            buf = torch.empty(tshape, device="cuda", dtype=torch.float32)
            self.buffers[name] = buf
            self.context.set_tensor_address(name, buf.data_ptr())

    def _once(self) -> None:
        self.context.execute_async_v3(self.stream.cuda_stream)

    def time(self, runs: int, warmup: int) -> np.ndarray:
        torch = self.torch
        with torch.cuda.stream(self.stream):
            for _ in range(warmup):
                self._once()
            events = [
                (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                for _ in range(runs)
            ]
            for start, end in events:
                start.record(self.stream)
                self._once()
                end.record(self.stream)
        self.stream.synchronize()
        return np.array([s.elapsed_time(e) for s, e in events])


@register_backend("tensorrt")
class TensorRTBackend(Backend):
    """TensorRT engines built from the same ONNX graphs (FP16 by default, as GPUNet measured)."""

    devices = ("cuda",)
    precisions = ("fp16", "fp32")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("device", "cuda")
        kwargs.setdefault("precision", "fp16")
        super().__init__(**kwargs)

    def check(self) -> None:
        import_tensorrt()
        _cuda_name()

    def hardware(self) -> str:
        return _cuda_name()

    def versions(self) -> dict[str, str | None]:
        return {"tensorrt": import_tensorrt().__version__, "onnx": _version("onnx")}

    def build_engine(self, model_bytes: bytes, shape: list[int] | None = None) -> bytes:
        """ONNX parser -> builder config (FP16 flag) -> serialized engine.

        ``shape`` fixes dynamic input dimensions (an exported model's batch axis) with an
        optimization profile whose min = opt = max = ``shape``.
        """
        trt = import_tensorrt()
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(model_bytes):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT could not parse the ONNX graph: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(
            trt.MemoryPoolType.WORKSPACE, int(self.options.get("workspace_mb", 1024)) << 20
        )
        if self.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        inputs = [network.get_input(i) for i in range(network.num_inputs)] if shape is not None else []
        if any(-1 in tuple(t.shape) for t in inputs):
            profile = builder.create_optimization_profile()
            for t in inputs:
                profile.set_shape(t.name, shape, shape, shape)
            config.add_optimization_profile(profile)
        engine = builder.build_serialized_network(network, config)
        if engine is None:
            raise RuntimeError("TensorRT failed to build an engine (see its log above)")
        return bytes(engine)

    def layer(self, key: LayerKey) -> Runner:
        from gpunas.latency.onnx_graph import layer_graph, layer_input_shape

        engine = self.build_engine(layer_graph(key, self.batch, self.padding).SerializeToString())
        return _TrtRunner(import_tensorrt(), engine, layer_input_shape(key, self.batch))

    def network(self, arch: Architecture, num_classes: int) -> Runner:
        from gpunas.latency.onnx_graph import network_graph

        engine = self.build_engine(
            network_graph(arch, num_classes, self.batch, self.padding).SerializeToString()
        )
        shape = [self.batch, arch.in_channels, arch.resolution, arch.resolution]
        return _TrtRunner(import_tensorrt(), engine, shape)

    def exported(self, onnx_bytes: bytes, load_module: Callable[[], Any], shape: list[int]) -> Runner:
        return _TrtRunner(import_tensorrt(), self.build_engine(onnx_bytes, shape), shape)
