"""gpunas: hardware-aware neural architecture search in the manner of NVIDIA GPUNet."""

from gpunas.arch import Architecture, LayerConfig, StageConfig
from gpunas.space import SearchSpace, load_space

__all__ = ["Architecture", "LayerConfig", "SearchSpace", "StageConfig", "load_space"]
__version__ = "0.1.0"
