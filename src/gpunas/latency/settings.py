"""The ``latency`` config section made concrete: backend, LUT slug and measurement protocol."""

from __future__ import annotations

from typing import Any

from gpunas.latency.backends import Backend, create_backend
from gpunas.latency.lut import device_slug
from gpunas.latency.protocol import Protocol


def make_backend(cfg: dict[str, Any]) -> Backend:
    """The backend described by the ``latency`` config section."""
    return create_backend(
        cfg["backend"],
        device=cfg["device"],
        precision=cfg["precision"],
        batch=cfg["batch"],
        threads=cfg["threads"],
        padding=cfg.get("padding", "same"),
        options=cfg.get("options", {}),
    )


def resolve_slug(cfg: dict[str, Any]) -> str:
    """Device slug of the LUT path; ``hardware: auto`` detects this machine's CPU or GPU."""
    hardware = cfg["hardware"]
    if hardware == "auto":
        hardware = make_backend(cfg).hardware()
    return device_slug(cfg["backend"], cfg["device"], hardware, cfg["precision"], cfg["batch"])


def make_protocol(cfg: dict[str, Any], seed: int) -> Protocol:
    """The measurement protocol of a config section with a ``protocol`` entry."""
    return protocol_from(cfg.get("protocol", {}), seed)


def protocol_from(p: dict[str, Any], seed: int) -> Protocol:
    """A :class:`Protocol` from a config ``protocol`` mapping (missing keys: the defaults)."""
    return Protocol(
        repeats=p.get("repeats", 5),
        warmup=p.get("warmup", 5),
        runs=p.get("runs", 20),
        chunk=p.get("chunk", 256),
        seed=seed,
        max_cv=p.get("max_cv", 0.1),
        remeasure=p.get("remeasure", 2),
        pause_s=p.get("pause_s", 0.0),
    )


def expected_conditions(cfg: dict[str, Any], slug: str, classes: int) -> dict[str, Any]:
    """The measuring conditions a ``latency`` config section states (the backend's library versions
    are known only where it runs): what a LUT cache must share to be reused."""
    return {
        "slug": slug,
        "backend": cfg["backend"],
        "device": cfg["device"],
        "precision": cfg["precision"],
        "batch": cfg["batch"],
        "threads": cfg["threads"],
        "padding": cfg.get("padding", "same"),
        "classes": classes,
        "protocol": protocol_from(cfg.get("protocol", {}), 0).as_dict(),
        "options": cfg.get("options", {}),
    }
