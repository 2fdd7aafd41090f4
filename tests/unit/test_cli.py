import json

from gpunas.cli import main

from ..conftest import FIXTURES


def test_describe_gpunet0_json(capsys):
    assert main(["describe", str(FIXTURES / "gpunet0_0.65ms.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"] == 11_885_432
    assert round(doc["macs"] / 1e9, 3) == 3.309
    assert doc["layers"][-1]["block"] == "head"
    assert doc["layers"][0]["out_hw"] == 160


def test_describe_release_padding_and_resolution(capsys):
    assert main(["describe", str(FIXTURES / "gpunet0_0.65ms.json"), "--json", "--padding", "release"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert round(doc["macs"] / 1e9, 3) == 3.254
    assert [r["out_hw"] for r in doc["layers"][:6]] == [160, 160, 160, 79, 79, 39]
    assert main(["describe", str(FIXTURES / "gpunet0_0.65ms.json"), "--json", "--resolution", "224"]) == 0
    assert json.loads(capsys.readouterr().out)["resolution"] == 224


def test_describe_vector_string_and_table(capsys, tiny_space):
    vec = ",".join(["1"] * 41)
    assert main(["describe", vec, "--space", "tiny", "--json", "--classes", "10"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["encoding"] == tiny_space.encode(tiny_space.decode([1] * 41))
    assert doc["layers"][-1]["out_channels"] == 10
    assert main(["describe", doc["arch"]]) == 0
    out = capsys.readouterr().out
    assert "stage0.0" in out and "total:" in out and "GMACs" in out
    assert main(["describe", f"[{vec}]"]) == 0  # vectors default to the gpunet space


def test_describe_errors_are_one_line(capsys):
    assert main(["describe", "[1,2,3]"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs 41 integers" in err
    assert main(["describe", "whatever"]) == 2
    assert "cannot read architecture 'whatever'" in capsys.readouterr().err
    assert main(["describe", "missing.json"]) == 2
    assert "missing.json: file not found" in capsys.readouterr().err


def test_space_command(capsys):
    assert main(["space", "gpunet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dim"] == 41
