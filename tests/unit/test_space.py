import numpy as np
import pytest

from gpunas.arch import Architecture
from gpunas.nvidia import from_nvidia, to_nvidia
from gpunas.spaces import SearchSpace
from gpunas.spaces.sampling import sobol_vectors


def test_gpunet_space_is_table_1(gpunet_space):
    sp = gpunet_space
    assert sp.dim == 41
    assert sp.resolution == tuple(range(224, 513, 32))
    names = [f.name for f in sp.fields]
    assert names[:5] == ["resolution", "stage0.filters", "stage1.kernel", "stage1.layers", "stage1.act"]
    for i in range(2, 8):
        assert names[5 + 6 * (i - 2) : 11 + 6 * (i - 2)] == [
            f"stage{i}.{k}" for k in ("kernel", "layers", "act", "expansion", "filters", "se")
        ]
    table = {  # stage: (block, stride, layers, filters)
        0: ("conv", 2, (1,), (24, 32)),
        1: ("conv", 1, (1, 2, 3, 4), (24, 32)),
        2: ("fused_irb", 2, tuple(range(1, 9)), (32, 48, 64, 80)),
        3: ("fused_irb", 2, tuple(range(1, 9)), (48, 64, 80, 96, 112)),
        4: ("irb", 2, tuple(range(1, 11)), tuple(range(96, 193, 16))),
        5: ("irb", 1, tuple(range(0, 16)), tuple(range(112, 225, 16))),
        6: ("irb", 2, tuple(range(1, 16)), tuple(range(128, 417, 32))),
        7: ("irb", 1, tuple(range(0, 16)), tuple(range(256, 833, 64))),
    }
    for i, (block, stride, layers, filters) in table.items():
        st = sp.stages[i]
        assert (st["block"], st["stride"], st["layers"], st["filters"]) == (block, stride, layers, filters)
        assert st["kernel"] == (3, 5) and st["act"] == ("relu", "swish")
        if block != "conv":
            assert st["expansion"] == (2, 3, 4, 5, 6) and st["se"] == (0, 1)
    # 44 free table fields; the 3 pinned ones bring the raw product to GPUNET.md's ~2.9e24
    raw = int(np.prod(sp.sizes.astype(object))) * 8
    assert 2.8e24 < raw < 3.0e24
    assert sp.cardinality() < int(np.prod(sp.sizes.astype(object)))


def test_tiny_space_has_gpunet_structure(tiny_space, gpunet_space):
    assert tiny_space.dim == gpunet_space.dim
    assert [f.name for f in tiny_space.fields] == [f.name for f in gpunet_space.fields]
    assert max(tiny_space.resolution) <= 64


@pytest.mark.parametrize("space_name", ["gpunet_space", "tiny_space"])
def test_round_trips_10k_sobol(space_name, request):
    sp = request.getfixturevalue(space_name)
    vectors = sobol_vectors(sp, n=10_000, seed=3)
    assert len({v.tobytes() for v in vectors}) > 9_900
    for v in vectors:
        arch = sp.decode(v)
        assert sp.encode(arch) == v.tolist()
        assert Architecture.from_string(arch.to_string()) == arch
        assert from_nvidia(to_nvidia(arch)) == arch


def test_vanished_stage_and_canonical_vectors(gpunet_space):
    sp = gpunet_space
    v = [1] * sp.dim
    v[sp.field_index("stage5.layers")] = 0  # layers value 0 -> stage 5 vanishes
    arch = sp.decode(v)
    assert 5 not in [s.index for s in arch.stages]
    canonical = sp.encode(arch)
    assert canonical[sp.field_index("stage5.kernel")] == 0
    assert canonical[sp.field_index("stage5.filters")] == 0
    assert sp.canonicalize(np.array([v]))[0].tolist() == canonical
    assert sp.decode(canonical) == arch


def test_sobol_deterministic_and_in_range(tiny_space):
    a = sobol_vectors(tiny_space, m=8, seed=7)
    b = sobol_vectors(tiny_space, m=8, seed=7)
    c = sobol_vectors(tiny_space, m=8, seed=8)
    assert a.shape == (256, 41)
    assert (a == b).all() and not (a == c).all()
    assert (a >= 0).all() and (a < tiny_space.sizes).all()
    # every choice of every field is drawn
    for j, size in enumerate(tiny_space.sizes):
        assert len(np.unique(a[:, j])) == size


def test_space_is_generic_new_stage_count():
    data = {
        "name": "two",
        "resolution": [64, 96],
        "head_width": 128,
        "stages": [
            {"block": "conv", "stride": 2, "kernel": 3, "layers": 1, "act": "relu", "filters": [16, 24]},
            {
                "block": "irb",
                "stride": 2,
                "kernel": [3, 5, 7],
                "layers": {"min": 0, "max": 3},
                "act": ["relu", "swish"],
                "expansion": [1, 4],
                "filters": 32,
                "se": [0, 1],
            },
        ],
    }
    sp = SearchSpace(data)
    assert [f.name for f in sp.fields] == [
        "resolution",
        "stage0.filters",
        "stage1.kernel",
        "stage1.layers",
        "stage1.act",
        "stage1.expansion",
        "stage1.se",
    ]
    # 2 res * 2 filters * (3 layer choices * 3*2*2*2 + 1 vanished)
    assert sp.cardinality() == 2 * 2 * (3 * 24 + 1)
