"""Shared fixtures: the repository's spaces and the GPUNet-0 reference architecture."""

from pathlib import Path

import pytest

from gpunas.nvidia import load_nvidia
from gpunas.space import load_space

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def gpunet_space():
    return load_space(ROOT / "config" / "spaces" / "gpunet.yaml")


@pytest.fixture(scope="session")
def tiny_space():
    return load_space(ROOT / "config" / "spaces" / "tiny.yaml")


@pytest.fixture(scope="session")
def gpunet0():
    return load_nvidia(FIXTURES / "gpunet0_0.65ms.json")
