"""Bad input gets one line naming what is wrong (vectors, arch strings, space files, JSON)."""

import copy

import pytest
import yaml

from gpunas.arch import Architecture
from gpunas.nvidia import from_nvidia, load_nvidia, to_nvidia
from gpunas.spaces import SearchSpace, load_space


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda v: v[:-1], "length 40, space 'gpunet' needs 41"),
        (lambda v: [*v, 0], "length 42"),
        (lambda v: [99, *v[1:]], "encoding[0] (resolution): 99 out of range, allowed index 0..9"),
        (lambda v: [*v[:5], -1, *v[6:]], "encoding[5] (stage2.kernel): -1 out of range"),
        (lambda v: [float("nan"), *v[1:]], "encoding[0] (resolution): nan is not an integer"),
        (lambda v: [*v[:3], 1.5, *v[4:]], "encoding[3] (stage1.layers): 1.5 is not an integer"),
        (lambda v: [*v[:3], "2", *v[4:]], "encoding[3] (stage1.layers): '2' is not an integer"),
        (lambda v: [True, *v[1:]], "encoding[0] (resolution): True is not an integer"),
    ],
)
def test_bad_vectors(gpunet_space, mutate, expected):
    with pytest.raises(ValueError) as e:
        gpunet_space.decode(mutate([0] * 41))
    assert expected in _one_line(e)


def _space_data(gpunet_space):
    return copy.deepcopy(gpunet_space.data)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["stages"][2].update(filters={"min": 80, "max": 32, "step": 16}),
            "stages[2].filters: min 80 > max 32",
        ),
        (lambda d: d["stages"][3].update(block="mbconv"), "stages.3.block: 'mbconv' is not one of"),
        (lambda d: d["stages"][4].update(kernel=[]), "stages.4.kernel"),
        (
            lambda d: d["stages"][4].update(kernel=[3, 4]),
            "stages[4].kernel: 4 is not a positive odd kernel size",
        ),
        (lambda d: d["stages"][5].pop("expansion"), "stages[5]: missing 'expansion' for block irb"),
        (
            lambda d: d["stages"][1].update(colour="red"),
            "stages.1: Additional properties are not allowed ('colour'",
        ),
        (lambda d: d.pop("resolution"), "'resolution' is a required property"),
        (lambda d: d["stages"][0].update(layers={"min": 0, "max": 1}), "the stem (stage 0) cannot vanish"),
        (
            lambda d: d["encoding"]["fixed"].update({"stage0.kernel": 7}),
            "encoding.fixed.stage0.kernel: 7 is not one of [3, 5]",
        ),
        (
            lambda d: d["encoding"]["tied"].update({"stage2.filters": "stage0.filters"}),
            "encoding.tied.stage2.filters: choices differ",
        ),
        (lambda d: d["encoding"]["fixed"].update({"stage9.kernel": 3}), "unknown stage in 'stage9.kernel'"),
        (
            lambda d: d["stages"][2].update(filters={"min": 32, "max": 81, "step": 16}),
            "max 81 is not min 32 plus a multiple of step 16",
        ),
    ],
)
def test_bad_space_files(gpunet_space, edit, expected):
    data = _space_data(gpunet_space)
    edit(data)
    with pytest.raises(ValueError) as e:
        SearchSpace(data, source="bad.yaml")
    msg = _one_line(e)
    assert msg.startswith("bad.yaml: ")
    assert expected in msg


def test_space_file_not_found_and_not_yaml(tmp_path):
    with pytest.raises(ValueError, match="search space 'nope' not found"):
        load_space("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml: not valid YAML"):
        load_space(bad)
    bad.write_text(yaml.safe_dump({"name": "x"}))
    with pytest.raises(ValueError, match="is a required property"):
        load_space(bad)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: r[3].pop("kernel_size"), "record 3: missing key 'kernel_size'"),
        (lambda r: r[4].update(num_in_channels=48), "record 4: num_in_channels 48 != num_out_channels 32"),
        (lambda r: r[5].update(layer_type="mbconv"), "record 5: layer_type 'mbconv' is not one of"),
        (lambda r: r.pop(), "the last record must have layer_type 'tail'"),
        (lambda r: r.pop(0), "record 0 must be"),
        (lambda r: r[2].update(act="gelu"), "record 2: stage 1: act 'gelu' is not one of"),
        (lambda r: r[-1].update(num_in_channels=512), "tail record: num_in_channels 512 != 704"),
    ],
)
def test_bad_nvidia_json(gpunet0, edit, expected):
    records = to_nvidia(gpunet0)
    edit(records)
    with pytest.raises(ValueError) as e:
        from_nvidia(records, source="g0.json")
    assert expected in _one_line(e)


def test_bad_json_files(tmp_path):
    p = tmp_path / "x.json"
    with pytest.raises(ValueError, match="x.json: file not found"):
        load_nvidia(p)
    p.write_text("{not json")
    with pytest.raises(ValueError, match="x.json: not valid JSON"):
        load_nvidia(p)
    p.write_text("{}")
    with pytest.raises(ValueError, match="expected a non-empty JSON list"):
        load_nvidia(p)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s0_conv_n1_k3_s2_c8_swish", "expected 'res<R>-<stage token>...-head<W>'"),
        ("res64-s0_conv_n1_k3_s2_c8_gelu-head64", "stage token 's0_conv_n1_k3_s2_c8_gelu' does not match"),
        (
            "res64-s0_conv_n1_k4_s2_c8_relu-head64",
            "stage 0: kernel must be odd (or equal to the stride for a space-to-depth conv), got 4",
        ),
        (
            "res64-s0_conv_n1_k3_s2_c8_relu-s1_xx_n1_k3_s1_e2_c8_relu-head64",
            "stage 1: basic stages take no expansion",
        ),
        ("res64-s1_conv_n1_k3_s2_c8_relu-s0_conv_n1_k3_s1_c8_relu-head64", "strictly increasing"),
    ],
)
def test_bad_arch_strings(text, expected):
    with pytest.raises(ValueError) as e:
        Architecture.from_string(text)
    assert expected in _one_line(e)


def test_arch_outside_space_is_refused(gpunet_space, gpunet0):
    # GPUNet-0 has 256 filters in stage 4 (Table 1 allows 96..192): loads, but does not encode
    with pytest.raises(ValueError, match=r"stage4.filters: 256 is not in space 'gpunet'"):
        gpunet_space.encode(gpunet0)
