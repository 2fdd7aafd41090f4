"""NVIDIA's seven released GPUNet files, read as they are: build, describe, export, encode, refuse."""

import copy
import json

import pytest
import torch

from gpunas.arch import Architecture
from gpunas.cli import main
from gpunas.models.builder import build_model, num_params
from gpunas.models.counting import count
from gpunas.nvidia import RELEASED, from_nvidia, read_records, read_release, released_path, to_nvidia

from ..conftest import RELEASE

# Parameters of the module NVIDIA's own builder (gpunet_builder.py) makes from each file: GPUNet-0's
# 11,885,432 is the reference figure; the others follow the builder's rules record by record
# (standard: make_divisible(in * e), SE round(mid * 0.25 / e); distilled: in * e, ReLU, no SE,
# EpilogueD with a 1152 hidden width, head_large = three conv3x3), counted independently of gpunas.
NVIDIA_PARAMS = {
    "GPUNet-0": 11_885_432,
    "GPUNet-1": 12_704_192,
    "GPUNet-2": 25_798_704,
    "GPUNet-P0": 22_815_080,
    "GPUNet-P1": 39_905_672,
    "GPUNet-D1": 10_589_859,
    "GPUNet-D2": 19_036_728,
}
FILES = {name: RELEASE / f"{stem}.json" for stem, name in RELEASED.items()}


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", list(FILES))
def test_released_file_builds_with_nvidias_parameter_count(name):
    records = json.loads(FILES[name].read_text())
    arch, layout = read_release(FILES[name])
    params, _ = count(arch, records[-1]["num_classes"])
    assert params == NVIDIA_PARAMS[name]
    model = build_model(arch, records[-1]["num_classes"])
    assert num_params(model) == params
    with torch.inference_mode():
        out = model.eval()(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 1000)
    # exported back: the same records, keys in the same order (GPUNet-D2's unread "stage:" included)
    exported = to_nvidia(arch, records[-1]["num_classes"], layout)
    assert exported == records
    assert [list(r) for r in exported] == [list(r) for r in records]
    # the string form round-trips heterogeneous stages and the distilled block set
    assert Architecture.from_string(arch.to_string()) == arch
    assert from_nvidia(to_nvidia(arch)) == arch


@pytest.mark.parametrize("name", list(FILES))
def test_describe_lists_the_records_one_for_one(name, capsys):
    records = json.loads(FILES[name].read_text())
    assert main(["describe", str(FILES[name]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"] == NVIDIA_PARAMS[name]
    layers, body, tail = doc["layers"], records[1:-1], records[-1]
    assert len(layers) == len(records) - 1  # one row per record after 'data'; the last is the tail
    for n, (row, rec) in enumerate(zip(layers, body, strict=False), start=1):
        assert row["record"] == n
        assert (row["in_channels"], row["out_channels"]) == (rec["num_in_channels"], rec["num_out_channels"])
        stem = rec["layer_type"].startswith("head")
        assert row["block"] == {"head": "conv", "head_large": "large_stem"}.get(
            rec["layer_type"], rec["layer_type"]
        )
        assert (row["kernel"], row["stride"]) == ((3, 2) if stem else (rec["kernel_size"], rec["stride"]))
        assert row["expansion"] == rec.get("expansion", 1)
        distill = records[0]["distill"]
        assert row["act"] == ("relu" if distill else rec.get("act", "swish"))
        assert row["se"] == (False if distill else rec.get("use_se", False))
    head = layers[-1]
    assert (head["in_channels"], head["out_channels"]) == (tail["num_in_channels"], tail["num_classes"])
    # by name too (the files ship with gpunas)
    assert main(["describe", name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == NVIDIA_PARAMS[name]


def test_heterogeneous_stage_is_built_as_written():
    """A two-layer stage whose second layer differs is two entries, not the first layer repeated."""
    records = [
        {"layer_type": "data", "img_resolution": 64, "distill": False},
        {"layer_type": "head", "num_in_channels": 3, "num_out_channels": 32},
        {"layer_type": "irb", "num_in_channels": 32, "num_out_channels": 64, "stride": 2, "expansion": 4,
         "kernel_size": 3, "act": "relu", "use_se": False, "stage": 2},
        {"layer_type": "irb", "num_in_channels": 64, "num_out_channels": 96, "stride": 2, "expansion": 6,
         "kernel_size": 5, "act": "swish", "use_se": True, "stage": 2},
        {"layer_type": "tail", "num_in_channels": 96, "num_out_channels": 128, "num_classes": 10},
    ]  # fmt: skip
    arch = from_nvidia(records)
    assert arch.to_string() == (
        "res64-s0_conv_n1_k3_s2_c32_swish-s2_ir_n1_k3_s2_e4_c64_relu-s2_ir_n1_k5_s2_e6_c96_swish_se-head128"
    )
    layers = arch.layers()
    assert [(x.kernel, x.stride, x.expansion, x.act, x.se, x.out_channels) for x in layers[1:]] == [
        (3, 2, 4, "relu", False, 64),
        (5, 2, 6, "swish", True, 96),
    ]
    assert to_nvidia(arch, 10) == records
    # an edited GPUNet-0 whose second stage-6 layer changes is a different network
    g0 = json.loads(FILES["GPUNet-0"].read_text())
    edited = copy.deepcopy(g0)
    edited[13].update(kernel_size=5, expansion=6)
    assert count(from_nvidia(edited))[0] != count(from_nvidia(g0))[0]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda r: r[5].update(num_in_channels=48),
            "record 5: num_in_channels 48 != num_out_channels 32 of record 4",
        ),
        (lambda r: r[9].update(layer_type="mbconv"), "record 9: layer_type 'mbconv' is not one of"),
        (lambda r: r[9].pop("use_se"), "record 9: missing key 'use_se'"),
        (lambda r: r[2].pop("act"), "record 2: missing key 'act'"),
        (lambda r: r[2].pop("stage"), "record 2: missing key 'stage'"),
        (lambda r: r[0].pop("distill"), "record 0: missing key 'distill'"),
        (lambda r: r[-1].pop("num_classes"), "tail record: missing key 'num_classes'"),
        (lambda r: r[9].update(expansion="5"), "record 9: expansion '5' is not a number"),
        (lambda r: r[9].update(stride=0), "record 9: stride must be >= 1, got 0"),
        (lambda r: r[1].update(kernel_size=5), "record 1: kernel_size 5 is ignored by NVIDIA's builder"),
        (lambda r: r[10].update(stage=3), "record 10: stage 3 comes after stage 4"),
        (lambda r: r[3].update(layer_type="head"), "record 3: layer_type 'head' is not one of"),
    ],
)
def test_inconsistent_records_are_refused_in_one_line(edit, expected):
    records = json.loads(FILES["GPUNet-0"].read_text())
    edit(records)
    with pytest.raises(ValueError) as e:
        read_records(records, source="0.65ms.json")
    assert f"0.65ms.json: {expected}" in _one_line(e)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: r[3].update(act="swish"), "record 3: act 'swish' is ignored by NVIDIA's builder"),
        (lambda r: r[3].update(groups=2), "record 3: groups 2 is not supported"),
        (lambda r: r[3].update(layer_type="conv"), "record 3: layer_type 'conv' is not one of"),
        (lambda r: r[1].update(layer_type="tail"), "record 1: layer_type 'tail' is not one of"),
    ],
)
def test_distilled_records_must_say_what_the_builder_builds(edit, expected):
    records = json.loads(FILES["GPUNet-D1"].read_text())
    edit(records)
    with pytest.raises(ValueError) as e:
        read_records(records, source="1.25ms-D.json")
    assert expected in _one_line(e)


def test_encoding_a_released_network_into_the_space(gpunet_space, capsys):
    # GPUNet-2 fits the paper's Table 1: it becomes its 41 integers, and decodes back to itself
    arch = read_release(FILES["GPUNet-2"])[0]
    vector = gpunet_space.encode(arch)
    assert len(vector) == 41 and gpunet_space.decode(vector) == arch
    assert main(["describe", str(FILES["GPUNet-2"]), "--space", "gpunet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["encoding"] == vector
    # GPUNet-0's stage 4 has 256 filters (Table 1: 96..192), P0 changes its expansion inside stage 3
    assert main(["describe", str(FILES["GPUNet-0"]), "--space", "gpunet", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("0.65ms.json: record 9 (stage 4): stage4.filters: 256 is not in space 'gpunet' "
                        "(allowed 96..192 step 16)")  # fmt: skip
    assert main(["describe", "GPUNet-P0", "--space", "gpunet", "--json"]) == 2
    assert (
        "0.5ms-D.json: record 6 (stage 3): expansion 8 -> 7.67: space 'gpunet' has one configuration per stage"
        in (capsys.readouterr().err)
    )
    assert main(["describe", "GPUNet-D1", "--space", "gpunet", "--json"]) == 2
    assert "distilled block set is not part of space 'gpunet'" in capsys.readouterr().err


def test_released_files_ship_with_their_licence():
    folder = released_path("GPUNet-0").parent.parent
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert "GPUNet" in (folder / "NOTICE").read_text() and "NVIDIA" in (folder / "README.md").read_text()
    assert sorted(p.name for p in (folder / "GV100").glob("*.json")) == sorted(f"{s}.json" for s in RELEASED)
