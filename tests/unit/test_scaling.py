"""Compound scaling and latency-aware compound scaling (gpunas.scaling.compound)."""

import math

import numpy as np
import pytest

from gpunas.arch import Architecture
from gpunas.errors import GpunasError
from gpunas.nvidia import from_nvidia, released_models, to_nvidia
from gpunas.scaling.compound import (
    Coefficients,
    choose,
    coefficient_grid,
    family,
    latency_reward,
    resolution_step,
    scale_architecture,
    stage_steps,
)


def test_grid_holds_the_flops_budget_and_efficientnets_point():
    grid = coefficient_grid(step=0.05, target=2.0, band=0.1)
    assert grid and all(abs(c.flops_factor / 2 - 1) <= 0.1 for c in grid)
    assert len({(c.alpha, c.beta, c.gamma) for c in grid}) == len(grid)
    # EfficientNet's own (1.2, 1.1, 1.15) and a depth-only point are on it
    assert Coefficients(1.2, 1.1, 1.15) in grid and Coefficients(2.0, 1.0, 1.0) in grid
    assert all(c.beta <= 1.5 and c.gamma <= 1.5 for c in grid)
    with pytest.raises(GpunasError, match="step > 0"):
        coefficient_grid(step=0)


def test_efficientnet_x_gpu_family_ratio():
    # the released GPU family's fit (issue 24): 1.300 / 1.158 / 1.071, about 1 : 0.56 : 0.26 in log
    c = Coefficients(1.300, 1.158, 1.071)
    assert c.log_ratio == pytest.approx((1.0, 0.56, 0.26), abs=0.01)
    assert c.flops_factor == pytest.approx(2.0, rel=0.02)
    with pytest.raises(GpunasError, match="alpha must be >= 1"):
        Coefficients(0.9, 1.0, 1.0)


def test_scaled_members_stay_in_the_spaces_grammar_and_round_trip(tiny_space):
    base = tiny_space.decode([0] * 41)
    steps, res_step = stage_steps(tiny_space, base), resolution_step(tiny_space)
    assert res_step == 16 and steps[2] == 8 and steps[6] == 32
    assert scale_architecture(base, Coefficients(1.3, 1.15, 1.07), 0, steps, res_step) == base
    members = family(base, Coefficients(1.3, 1.15, 1.07), 3, steps, res_step)
    assert [phi for phi, _ in members] == [1, 2, 3]
    previous = base
    for phi, arch in members:
        assert Architecture.from_string(arch.to_string()) == arch  # the string round-trips
        assert arch.resolution % 16 == 0 and arch.resolution >= previous.resolution
        for st, st0 in zip(arch.stages, base.stages, strict=True):
            assert st.out_channels % steps[st.index] == 0 and st.out_channels >= st0.out_channels
            expected = st0.layers if st.index == 0 else math.ceil(st0.layers * 1.3**phi - 1e-9)
            assert st.layers == expected
        previous = arch
    # phi 1 of a narrow base stays inside the tiny space: the vector round-trips too
    small = scale_architecture(base, Coefficients(1.0, 1.0, 1.4), 1, steps, res_step)
    assert small.resolution == 48
    assert tiny_space.decode(tiny_space.encode(small)) == small


def test_released_gpunet_scales_and_its_string_round_trips():
    gpunet0 = released_models()["GPUNet-0"]
    grown = scale_architecture(gpunet0, Coefficients(1.3, 1.158, 1.071), 1, res_step=32)
    assert Architecture.from_string(grown.to_string()) == grown
    assert from_nvidia(to_nvidia(grown)) == grown  # NVIDIA's JSON round-trips too
    assert grown.resolution == round(gpunet0.resolution * 1.071 / 32) * 32
    assert sum(s.layers for s in grown.stages) > sum(s.layers for s in gpunet0.stages)
    with pytest.raises(GpunasError, match="phi must be >= 0"):
        scale_architecture(gpunet0, Coefficients(1.3, 1.1, 1.1), -1)


def test_grid_search_recovers_depth_when_depth_pays_most():
    """A synthetic accuracy where depth pays most (per unit of log FLOPs: depth 10, width 3 per 2
    units, resolution 2 per 2 units) and a latency where width costs most: both rules pick a
    depth-heavy point; the latency-aware one at least as depth-heavy."""
    grid = coefficient_grid(step=0.05, target=2.0, band=0.05)
    points = []
    for c in grid:
        la, lb, lg = map(math.log, (c.alpha, c.beta, c.gamma))
        acc = 70 + 10 * la + 3 * lb + 2 * lg
        lat = 1.0 * math.exp(0.6 * la + 2.5 * lb + 1.5 * lg)
        points.append({"coefficients": c, "accuracy": acc, "latency_ms": lat})
    flops = choose(points, "flops")["coefficients"]
    lacs = choose(points, "lacs", target_ms=1.0, w=-0.07)["coefficients"]
    for c in (flops, lacs):
        ratio = c.log_ratio
        assert ratio[1] < 0.5 and ratio[2] < 0.5, c  # depth grows fastest
    assert lacs.alpha >= flops.alpha


def test_latency_reward_is_mnasnets_soft_constraint():
    assert latency_reward(80.0, 1.0, 1.0) == 80.0
    assert latency_reward(80.0, 2.0, 1.0) == pytest.approx(80.0 * 2**-0.07)
    assert latency_reward(80.0, 0.5, 1.0) > 80.0
    with pytest.raises(GpunasError, match="> 0 ms"):
        latency_reward(80.0, 0.0, 1.0)
    # the rules
    pts = [
        {"coefficients": 1, "accuracy": 80.0, "latency_ms": 2.0},
        {"coefficients": 2, "accuracy": 79.0, "latency_ms": 1.0},
    ]
    assert choose(pts, "flops")["coefficients"] == 1
    assert choose(pts, "lacs", target_ms=1.0, w=-0.07)["coefficients"] == 2  # 1.3% less accurate, 2x faster
    assert choose(pts, "lacs", target_ms=1.0, w=-0.01)["coefficients"] == 1  # a weak latency weight
    with pytest.raises(GpunasError, match="latency target"):
        choose(pts, "lacs")
    with pytest.raises(GpunasError, match="no grid point"):
        choose([{"accuracy": np.nan}], "flops")


def test_choose_scaling_ranks_the_trained_grid_and_places_each_family(tmp_path, tiny_space):
    import json

    from gpunas.scaling.stage import choose_scaling, spread

    assert spread(list(range(10)), 3) == [0, 4, 9] and spread([1, 2], 0) == [1, 2]
    base = tiny_space.decode([0] * 41)
    variants, points = [], {}
    for name, c, acc in (
        ("g00", Coefficients(2.0, 1.0, 1.0), 80.0),
        ("g01", Coefficients(1.0, 1.0, 1.4), 81.0),
    ):
        members = family(base, c, 2)
        points[name] = {"point": name, **c.as_dict(), "arch": members[0][1].to_string(), "skip": False,
                        "predicted_ms": 1.0 if name == "g00" else 2.0}  # fmt: skip
        variants += [{"point": name, "phi": phi, "variant": f"{name} phi {phi}", "arch": a.to_string(),
                      "predicted_ms": (1.0 if name == "g00" else 2.0) * phi} for phi, a in members]  # fmt: skip
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"point": name, "status": "complete", "val_top1": acc})
        )
    (tmp_path / "costed.json").write_text(
        json.dumps({"base": {"arch": base.to_string()}, "points": points, "variants": variants})
    )
    (tmp_path / "sub.json").write_text(
        json.dumps({"subspaces": [{"id": "s0", "hi_ms": 1.5}, {"id": "s1", "hi_ms": 3.0}]})
    )
    doc = choose_scaling(tmp_path / "costed.json", [str(tmp_path / f"{n}.json") for n in points], tmp_path / "sub.json",
                         {"target_ms": 1.0, "w": -0.07}, tmp_path / "s.json", tmp_path / "g.csv", tmp_path / "g.png")  # fmt: skip
    # accuracy alone picks g01 (81%); the reward: 80 * 1 > 81 * 2**-0.07 = 77.2, so LACS picks g00
    assert doc["chosen"]["flops"]["point"] == "g01" and doc["chosen"]["lacs"]["point"] == "g00"
    lacs = doc["families"]["lacs"]["budgets"]
    assert lacs["s0"]["phi"] == 1 and lacs["s1"]["phi"] == 2  # the largest member inside each budget
    assert doc["families"]["flops"]["budgets"]["s0"] is None  # g01's phi 1 takes 2 ms > 1.5


def _bench(path, seconds, cpu):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{seconds}\t0:00:{int(seconds):02d}\t1\t1\t1\t1\t0\t0\t90\t{cpu}\n"
    )
    return str(path)


def test_route_costs_count_the_base_band_and_the_grid(tmp_path):
    from gpunas.scaling.stage import route_costs, training_cost

    root = tmp_path / "results/benchmarks"
    search = [
        _bench(root / f"train_candidate/{band}/r00/s{slot:02d}.tsv", 10.0 * (i + 1), 5.0 * (i + 1))
        for i, (band, slot) in enumerate([("s0", 0), ("s0", 1), ("s1", 0), ("s2", 0)])
    ]
    grid = [_bench(root / f"train_scaling/g{i:02d}.tsv", 7.0, 3.0) for i in range(2)]
    costs = route_costs([*search, str(root / "train_candidate/s2/r01/s00.tsv")], grid, "s0")
    assert costs["search"]["trainings"] == 4 and costs["search"]["wall_s"] == 100.0
    assert costs["search"]["cpu_s"] == 50.0
    # the base's band (10 + 20 s) and the grid (2 x 7 s); both scaling rules share them
    assert costs["lacs"]["trainings"] == 4 and costs["lacs"]["wall_s"] == 44.0
    assert costs["lacs"]["cpu_s"] == 21.0 and costs["flops"] == costs["lacs"]
    # a base from the config searched nothing
    assert route_costs(search, grid, None)["lacs"]["trainings"] == 2
    bad = tmp_path / "bad.tsv"
    bad.write_text("seconds\n1\n")
    with pytest.raises(GpunasError, match="bad.tsv.*cpu_time"):
        training_cost([str(bad)])


def test_members_a_lut_key_cannot_hold_end_their_family_with_a_record(tmp_path):
    from gpunas.scaling.stage import list_scaling

    # GPUNet-0 (head 1280) grown 4 times by widths up to 1.4x: a head of more than 4,095 channels
    grid = {"step": 0.05, "target": 2.0, "band": 0.1, "max_width": 1.4, "max_resolution": 1.4}
    doc = list_scaling("gpunet", [], "GPUNet-0", grid, 12, 4, tmp_path / "grid.json")
    assert doc["dropped"], "no member was too wide"
    for d in doc["dropped"]:
        assert "out of range" in d["reason"] and d["phi"] > 1
        assert all(v["phi"] < d["phi"] for v in doc["variants"] if v["point"] == d["point"])
    assert all(Architecture.from_string(v["arch"]).head_width <= 4095 for v in doc["variants"])
    with pytest.raises(GpunasError, match="at phi 1 cannot be costed.*max_width"):
        wide = {"step": 0.5, "target": 12.0, "band": 1.0, "max_width": 3.5, "max_resolution": 1.0}
        list_scaling("gpunet", [], "GPUNet-0", wide, 0, 1, tmp_path / "g.json")
