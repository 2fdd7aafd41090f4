"""gpunas: hardware-aware neural architecture search in the manner of NVIDIA GPUNet.

The package's folders mirror the pipeline (see docs/development.md); importing ``gpunas`` itself is
light (architectures only), so ``gpunas.hub.load_model`` needs torch and nothing of the search.
"""

from gpunas.arch import Architecture, LayerConfig, StageConfig

__all__ = ["Architecture", "LayerConfig", "StageConfig"]
__version__ = "0.1.0"
