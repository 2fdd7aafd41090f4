"""Whole networks measured as they ship: the exported ONNX of the built model (or, for the torch
backend, the module), through the device's network cache, so a network is measured once."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from gpunas.latency.cache import NetworkCache, network_key
from gpunas.latency.protocol import Protocol, measure

log = logging.getLogger(__name__)


def exported_runner(arch: Any, classes: int, backend: Any) -> Any:
    """A runner of ``arch`` (an :class:`~gpunas.arch.Architecture`) as it ships: the ONNX export of
    the built model with ``classes`` outputs (untrained weights: latency does not depend on them)."""
    from gpunas.models.builder import build_model
    from gpunas.models.export import onnx_bytes

    model = build_model(arch, classes)
    shape = [backend.batch, arch.in_channels, arch.resolution, arch.resolution]
    return backend.exported(onnx_bytes(model, arch.resolution), lambda: model, shape)


def measure_exported(
    archs: list[Any], classes: int, backend: Any, protocol: Protocol, store: NetworkCache
) -> pd.DataFrame:
    """Latency of each architecture's exported model (the ONNX that ships), cached by architecture."""
    keys = [network_key(a.to_string(), classes) for a in archs]
    known = store.lookup(keys)
    todo = [a for a, k in zip(archs, keys, strict=True) if k not in known]
    if todo:
        stats = measure(
            todo, lambda a: exported_runner(a, classes, backend), protocol, label="exported networks"
        )
        stats.insert(0, "key", [network_key(a.to_string(), classes) for a in todo])
        stats["measured_at"] = store.conditions["date"]
        store.add(stats)
        known |= store.lookup(keys)
    log.info(
        "%d networks: %d measured, %d from the network cache", len(archs), len(todo), len(archs) - len(todo)
    )
    rows = [dict(known[k]) | {"cached": archs[i] not in todo} for i, k in enumerate(keys)]
    return pd.DataFrame(rows)
