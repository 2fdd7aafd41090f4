"""Shared fixtures: the repository's spaces and NVIDIA's released GPUNet-0, read from its file."""

from pathlib import Path

import pytest

from gpunas.nvidia import load_nvidia, released_path
from gpunas.spaces import load_space

ROOT = Path(__file__).resolve().parents[1]
# NVIDIA's seven released architecture files, unmodified (licence and attribution beside them)
RELEASE = released_path("GPUNet-0").parent


@pytest.fixture(scope="session")
def gpunet_space():
    return load_space("gpunet")


@pytest.fixture(scope="session")
def tiny_space():
    return load_space("tiny")


@pytest.fixture(scope="session")
def gpunet0():
    return load_nvidia(RELEASE / "0.65ms.json")
