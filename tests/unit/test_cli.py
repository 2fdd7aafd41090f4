import json

import pandas as pd

from gpunas.cli import main
from gpunas.latency.keys import KEY_LAYOUT

from ..conftest import RELEASE


def test_describe_gpunet0_json(capsys):
    assert main(["describe", str(RELEASE / "0.65ms.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"] == 11_885_432
    assert round(doc["macs"] / 1e9, 3) == 3.309
    assert doc["layers"][-1]["block"] == "head"
    assert doc["layers"][0]["out_hw"] == 160


def test_describe_release_padding_and_resolution(capsys):
    assert main(["describe", str(RELEASE / "0.65ms.json"), "--json", "--padding", "release"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert round(doc["macs"] / 1e9, 3) == 3.254
    assert [r["out_hw"] for r in doc["layers"][:6]] == [160, 160, 160, 79, 79, 39]
    assert main(["describe", str(RELEASE / "0.65ms.json"), "--json", "--resolution", "224"]) == 0
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


def test_hub_list_and_lut_show(tmp_path, capsys, tiny_space):
    import numpy as np

    from gpunas.latency.keys import keys_for_arch
    from gpunas.latency.lut import keys_frame
    from gpunas.tables import write_table

    for sub, card in {
        "s0": {"subspace": "s0", "name": "< 0.2 ms", "status": "ok", "accuracy": 81.5, "predicted_ms": 0.15,
               "params": 1234, "arch": "res32-x"},
        "s1": {"subspace": "s1", "name": "< 0.4 ms", "status": "empty", "reason": "no sampled candidate"},
    }.items():  # fmt: skip
        (tmp_path / "hub" / sub).mkdir(parents=True)
        (tmp_path / "hub" / sub / "card.json").write_text(json.dumps(card))
    (tmp_path / "validation").mkdir()
    pd.DataFrame(
        {"model": ["s0", "s1"], "measured_ms": [0.21, None], "inside_budget": ["undecided", None]}
    ).to_csv(tmp_path / "validation" / "validation.csv", index=False)
    assert main(["hub", "list", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:9] == ["s0", "<", "0.2", "ms", "ok", "81.50", "0.1500", "-", "0.2100"]
    assert out[1].split()[9] == "undecided"  # the validation's budget verdict
    assert "empty" in out[2] and "no sampled candidate" in out[2]
    assert main(["hub", "list", str(tmp_path), "--json"]) == 0
    assert [t["status"] for t in json.loads(capsys.readouterr().out)] == ["ok", "empty"]

    keys = keys_for_arch(tiny_space.decode([1] * 41), 10)
    lut = keys_frame(np.array([k.code() for k in keys]), 1, "fp32")
    lut = lut.assign(
        latency_ms=np.arange(len(lut), dtype=float) + 1, mad_ms=0.0, cv=0.01, min_ms=1.0, repeats=5
    )
    write_table(
        lut,
        {"slug": "x-cpu-fp32-b1", "backend": "onnxruntime", "unit": "ms", "key_layout": KEY_LAYOUT},
        tmp_path / "lut.parquet",
    )
    assert main(["lut", "show", str(tmp_path / "lut.parquet"), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert f"keys       {len(lut)}" in out and "slowest 2:" in out
    assert f"{float(len(lut)):10.4f} ms" in out  # the slowest key first
    assert main(["lut", "show", str(tmp_path / "missing.parquet")]) == 2
    assert "does not exist" in capsys.readouterr().err
