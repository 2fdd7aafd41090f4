import dataclasses

import pytest
import torch

from gpunas.models.blocks import create_block
from gpunas.models.blocks_math import make_divisible
from gpunas.models.builder import build_model, module_macs, num_params
from gpunas.models.counting import count
from gpunas.spaces.sampling import sobol_vectors


def test_gpunet0_params_and_macs(gpunet0):
    assert gpunet0.resolution == 320
    params, macs = count(gpunet0)
    assert abs(params - 11_885_432) <= 0.001 * 11_885_432
    assert abs(macs - 3.309e9) <= 0.01 * 3.309e9
    _, macs_release = count(gpunet0, padding="release")
    assert abs(macs_release - 3.254e9) <= 0.01 * 3.254e9
    model = build_model(gpunet0)
    assert num_params(model) == params
    assert module_macs(model, 320) == macs
    assert module_macs(build_model(gpunet0, padding="release"), 320) == macs_release


def test_tiny_models_match_analytic_counts_and_forward(tiny_space):
    torch.manual_seed(0)
    for i, v in enumerate(sobol_vectors(tiny_space, m=5, seed=1)):
        arch = tiny_space.decode(v)
        classes = 10 + i
        model = build_model(arch, classes).eval()
        params, macs = count(arch, classes)
        assert num_params(model) == params, arch.to_string()
        assert module_macs(model, arch.resolution) == macs
        out = model(torch.randn(2, 3, arch.resolution, arch.resolution))
        assert out.shape == (2, classes)
        assert torch.isfinite(out).all()


def test_gpunet_space_models_match_analytic_params(gpunet_space):
    for v in sobol_vectors(gpunet_space, m=3, seed=2):
        arch = gpunet_space.decode(v)
        assert num_params(build_model(arch)) == count(arch)[0]


@pytest.mark.parametrize("resolution", [33, 64, 97])
def test_any_resolution(tiny_space, resolution):
    arch = dataclasses.replace(tiny_space.decode([1] * 41), resolution=resolution)
    model = build_model(arch, 5).eval()
    assert model(torch.randn(1, 3, resolution, resolution)).shape == (1, 5)
    assert module_macs(model, resolution) == count(arch, 5)[1]


def test_residual_rules_and_drop_path():
    irb = create_block("irb", 16, 16, kernel=3, stride=1, expansion=4, act="swish", se=True, drop_path=0.5)
    assert irb.use_residual
    assert not create_block("irb", 16, 24, kernel=3, stride=1, expansion=4, act="relu", se=False).use_residual
    assert not create_block("fused_irb", 16, 16, kernel=3, stride=2, expansion=4, act="relu").use_residual
    assert not create_block("conv", 16, 16, kernel=3, stride=1, act="relu").use_residual
    x = torch.randn(64, 16, 8, 8)
    irb.train()
    torch.manual_seed(0)
    y1, y2 = irb(x), irb(x)
    assert not torch.allclose(y1, y2)  # stochastic depth active in training
    irb.eval()
    assert torch.allclose(irb(x), irb(x))


def test_registry_rejects_unknown():
    with pytest.raises(
        ValueError,
        match="unknown block type 'mbconv'; known: \\['basic', 'bottleneck', 'conv', 'fused_irb', 'irb', 'large_stem'\\]",
    ):
        create_block("mbconv", 8, 8, kernel=3, stride=1, act="relu")
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        create_block("conv", 8, 8, kernel=3, stride=1, act="gelu")


@pytest.mark.parametrize(
    ("v", "expected"), [(3, 8), (32 * 5, 160), (35, 32), (37, 40), (12, 16), (100.0, 104), (20, 24)]
)
def test_make_divisible(v, expected):
    assert make_divisible(v) == expected


def test_every_registry_refuses_a_second_registration_of_a_name():
    """One generic registry behind blocks, backends, evaluators, strategies and families."""
    from gpunas.baselines.families import FAMILIES
    from gpunas.evaluators.base import EVALUATORS
    from gpunas.latency.backends import BACKENDS
    from gpunas.models.blocks import BLOCKS
    from gpunas.registry import Registry
    from gpunas.search.propose import PROPOSERS

    for registry, name in ((BLOCKS, "conv"), (BACKENDS, "onnxruntime"), (EVALUATORS, "train"),
                           (PROPOSERS, "bo"), (FAMILIES, "resnet")):  # fmt: skip
        assert isinstance(registry, Registry) and name in registry
        with pytest.raises(ValueError, match=f"^{registry.kind} '{name}' registered twice$"):
            registry.add(name, object())
