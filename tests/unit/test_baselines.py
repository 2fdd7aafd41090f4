"""Baseline families, their costing and comparison, the hub validation and the report pages."""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import torch

from gpunas.arch import Architecture
from gpunas.baselines.compare import matched_proxy_ratio, search_vs_baselines
from gpunas.baselines.costing import pick, predict
from gpunas.baselines.families import families_for, family_names, scale, variants
from gpunas.latency.estimate import Correction
from gpunas.latency.keys import KEY_LAYOUT, LayerKey, keys_for_arch
from gpunas.latency.lut import keys_frame, read_lut
from gpunas.latency.onnx_graph import network_graph
from gpunas.models.builder import build_model, module_macs, num_params
from gpunas.models.counting import count
from gpunas.nvidia import to_nvidia
from gpunas.tables import write_table

ALL = ["efficientnet_b0", "efficientnet_x", "genet", "resnet", "gpunet"]
PHIS = [-6, -3, 0, 2]


def test_families_build_count_and_key_like_candidates(tiny_space):
    import onnxruntime as ort

    table = variants(tiny_space, ALL, PHIS)
    assert set(table["family"]) == {"efficientnet_b0", "efficientnet_x", "genet", "resnet"}  # no gpunet
    for text in table.groupby("family")["arch"].last():
        arch = Architecture.from_string(text)
        assert Architecture.from_string(arch.to_string()) == arch
        model = build_model(arch, 10)
        params, macs = count(arch, 10)
        assert num_params(model) == params and module_macs(model, arch.resolution) == macs
        for key in keys_for_arch(arch, 10):
            assert LayerKey.from_code(key.code()) == key
        sess = ort.InferenceSession(network_graph(arch, 10).SerializeToString())
        x = np.zeros((1, 3, arch.resolution, arch.resolution), np.float32)
        assert sess.run(None, {"input": x})[0].shape == (1, 10)
        with torch.inference_mode():
            assert model.eval()(torch.from_numpy(x)).shape == (1, 10)
    # widths, depths and resolution grow with phi, inside the space's resolution range
    lo, hi = (scale(f, tiny_space, p) for f in families_for(tiny_space, ["genet"]) for p in (-6, 2))
    assert count(lo, 10)[1] < count(hi, 10)[1]
    assert {lo.resolution, hi.resolution} <= {32, 48, 64}


def test_gpunet_family_is_nvidias_seven_released_models(gpunet_space, gpunet0):
    assert [f.name for f in families_for(gpunet_space, ["gpunet"])] == ["gpunet"]
    table = variants(gpunet_space, ["gpunet"], [3.0])
    names = ["GPUNet-0", "GPUNet-1", "GPUNet-2", "GPUNet-P0", "GPUNet-P1", "GPUNet-D1", "GPUNet-D2"]
    assert list(table["variant"]) == names
    assert table.loc[0, "arch"] == gpunet0.to_string()  # not scaled: phi does not apply
    for text in table["arch"]:
        arch = Architecture.from_string(text)
        assert count(arch, 1000)[0] == num_params(build_model(arch, 1000))
    assert family_names() == sorted(ALL)


def test_residual_baseline_blocks_export_refused_by_nvidia_format(tiny_space):
    arch = Architecture.from_string(variants(tiny_space, ["resnet"], [0]).loc[0, "arch"])
    with pytest.raises(ValueError):
        to_nvidia(arch, 10)


def _fake_lut(space, cfg, tmp_path):
    table = variants(space, cfg["families"], cfg["phis"])
    codes = np.unique(
        [k.code() for a in table["arch"] for k in keys_for_arch(Architecture.from_string(a), 10)]
    )
    df = keys_frame(codes, 1, "fp32")
    macs = [count(Architecture.from_string("res8-s0_conv_n1_k3_s1_c8_relu-head8"), 10)[1]] * len(df)
    df["latency_ms"] = np.asarray(macs, float) * 0 + 0.01 * (1 + df["cin"] * df["cout"] / 4096)
    df["mad_ms"], df["cv"], df["min_ms"], df["repeats"] = 0.0, 0.0, df["latency_ms"], 5
    meta = {"slug": "x", "unit": "ms", "key_layout": KEY_LAYOUT, "classes": 10, "padding": "same"}
    write_table(df, meta, tmp_path / "lut.parquet")
    (tmp_path / "fidelity.json").write_text(json.dumps({"correction": {"a": 1.0, "b": 0.0, "c": 0.0}}))


def design(space, cfg, tmp_path, subs):
    """The variants costed with the LUT and correction of ``tmp_path``, and the picks per budget."""
    var = variants(space, cfg["families"], cfg["phis"])
    table, meta = read_lut(tmp_path / "lut.parquet")
    corr = Correction.read(tmp_path / "fidelity.json")
    var["predicted_ms"] = predict(list(var["arch"]), table, corr, meta["classes"], meta["padding"])
    picks = pick(var, [f.name for f in families_for(space, cfg["families"])], subs)
    return {"variants": var.astype(object).where(var.notna(), None).to_dict(orient="records"), "picks": picks}


def test_design_picks_the_largest_variant_inside_each_budget(tmp_path, tiny_space):
    cfg = {"families": ["resnet", "genet"], "phis": PHIS}
    _fake_lut(tiny_space, cfg, tmp_path)
    subs = [{"id": "s0", "hi_ms": 0.001}, {"id": "s1", "hi_ms": 0.5}, {"id": "s2", "hi_ms": 100.0}]
    (tmp_path / "sub.json").write_text(json.dumps({"subspaces": subs}))
    doc = design(tiny_space, cfg, tmp_path, subs)
    var = pd.DataFrame(doc["variants"])
    for fam in ("resnet", "genet"):
        assert doc["picks"][f"{fam}/s0"]["skip"] and "no " + fam in doc["picks"][f"{fam}/s0"]["reason"]
        for s in subs[1:]:
            p = doc["picks"][f"{fam}/{s['id']}"]
            inside = var[(var["family"] == fam) & (var["predicted_ms"] < s["hi_ms"])]
            if inside.empty:
                assert p["skip"]
            else:
                assert p["predicted_ms"] == inside["predicted_ms"].max() < s["hi_ms"]


def test_design_lists_the_seven_released_gpunets_with_their_latency(tmp_path, gpunet_space):
    cfg = {"families": ["gpunet"], "phis": [0]}
    _fake_lut(gpunet_space, cfg, tmp_path)
    doc = design(gpunet_space, cfg, tmp_path, [{"id": "s0", "hi_ms": 1e6}])
    var = pd.DataFrame(doc["variants"])
    assert list(var["variant"]) == ["GPUNet-0", "GPUNet-1", "GPUNet-2", "GPUNet-P0", "GPUNet-P1", "GPUNet-D1",
                                    "GPUNet-D2"]  # fmt: skip
    assert (var["predicted_ms"] > 0).all() and var["predicted_ms"].is_unique
    assert doc["picks"]["gpunet/s0"]["variant"] == var.loc[var["predicted_ms"].idxmax(), "variant"]
    assert doc["variants"][0]["phi"] is None


def test_compare_reports_gain_and_latency_ratio_at_matched_accuracy(tmp_path):
    searched = pd.DataFrame(
        {"accuracy": [70.0, 80.0, 90.0], "predicted_ms": [0.1, 0.2, 0.4], "arch": list("abc")}
    )
    assert matched_proxy_ratio(0.8, 79.0, searched) == (4.0, "b")  # 0.8 ms baseline vs 0.2 ms searched
    assert np.isnan(matched_proxy_ratio(0.8, 95.0, searched)[0])
    from gpunas.tables import write_table as wt

    hist = searched.assign(status="complete", subspace="s0", encoding=["1", "2", "3"])
    wt(hist, {}, tmp_path / "h.parquet")
    (tmp_path / "b.json").write_text(json.dumps({"slug": "x", "families": {"resnet": "ResNet"},
                                                 "budgets_ms": {"s0": 0.5, "s1": 1.0}}))  # fmt: skip
    metrics = []
    for sub, acc, ms in (("s0", 75.0, 0.45), ("s1", 85.0, 0.9)):
        path = tmp_path / f"m_{sub}.json"
        path.write_text(json.dumps({"family": "resnet", "subspace": sub, "status": "complete", "val_top1": acc,
                                    "predicted_ms": ms, "arch": f"r{sub}", "phi": 0.0}))  # fmt: skip
        metrics.append(str(path))
    cards = []
    for sub, acc, ms in (("s0", 80.0, 0.2), ("s1", 90.0, 0.4)):
        path = tmp_path / f"c_{sub}.json"
        path.write_text(json.dumps({"subspace": sub, "status": "ok", "accuracy": acc, "predicted_ms": ms}))
        cards.append(str(path))
    table = search_vs_baselines(tmp_path / "b.json", metrics, [str(tmp_path / "h.parquet")], cards, tmp_path / "c.csv",
                    tmp_path / "c.md", tmp_path / "p.png")  # fmt: skip
    s0, s1 = table.to_dict(orient="records")
    assert s0["baseline_accuracy"] == 75.0 and s0["accuracy_gain_pts"] == 5.0
    assert s0["latency_ratio_at_matched_accuracy"] == pytest.approx(0.45 / 0.2)
    assert s1["baseline_accuracy"] == 85.0 and s1["latency_ratio_at_matched_accuracy"] == pytest.approx(
        0.9 / 0.4
    )
    assert "| s0 < 0.500 ms | 80.00" in (tmp_path / "c.md").read_text()
    assert (tmp_path / "p.png").stat().st_size > 5000


def _hub(tmp_path, tiny_space, budget):
    from gpunas.hub.select import export_onnx

    arch = tiny_space.decode([0] * 41)
    model = build_model(arch, 10).eval()
    hub = tmp_path / "hub" / "s0"
    hub.mkdir(parents=True)
    export_onnx(model, arch.resolution, hub / "model.onnx")
    torch.save({"state_dict": model.state_dict(), "num_classes": 10}, hub / "weights.pt")
    card = {"subspace": "s0", "name": "< x ms", "status": "ok", "budget_ms": budget, "predicted_ms": 0.05,
            "accuracy": 50.0, "arch": arch.to_string(), "resolution": arch.resolution, "num_classes": 10}  # fmt: skip
    (hub / "card.json").write_text(json.dumps(card))
    empty = tmp_path / "hub" / "s1"
    empty.mkdir()
    (empty / "card.json").write_text(json.dumps({"subspace": "s1", "name": "< y ms", "status": "all_failed",
                                                 "budget_ms": 1.0, "reason": "every trial failed"}))  # fmt: skip
    return [str(hub), str(empty)]


def test_validation_measures_hub_models_and_flags_budget_breakers(tmp_path, tiny_space):
    from gpunas.report.pages import render
    from gpunas.validation import resolve_backend, validate

    lat = {"backend": "onnxruntime", "device": "cpu", "hardware": "ci", "precision": "fp32", "batch": 1,
           "threads": 1, "padding": "same"}  # fmt: skip
    assert resolve_backend(lat, {"backend": "auto"})["backend"] == "onnxruntime"
    gpu = resolve_backend(
        {**lat, "backend": "tensorrt", "device": "cuda", "precision": "fp16"}, {"backend": "auto"}
    )
    # TensorRT FP16 where it is installed, else PyTorch CUDA
    expected = "tensorrt" if importlib.util.find_spec("tensorrt") else "torch"
    assert (gpu["backend"], gpu["device"], gpu["precision"]) == (expected, "cuda", "fp16")
    lut = pd.DataFrame({"code": [1], "key": ["k"], "latency_ms": [0.1], "mad_ms": [0.0], "cv": [0.0],
                        "min_ms": [0.1], "repeats": [5]})  # fmt: skip
    meta = {
        "slug": "ci",
        "unit": "ms",
        "key_layout": KEY_LAYOUT,
        "protocol": {"repeats": 5, "warmup": 1, "runs": 3},
    }
    write_table(lut, meta, tmp_path / "lut.parquet")
    dirs = _hub(tmp_path, tiny_space, budget=1e-6)  # no network runs in a microsecond
    table = validate(dirs, tmp_path / "lut.parquet", lat, {"backend": "auto"}, "ci", 0,
                         tmp_path / "v.csv", tmp_path / "v.png")  # fmt: skip
    ok, failed = table.to_dict(orient="records")
    assert ok["inside_budget"] == "no" and ok["measured_ms"] > 0
    assert ok["error_pct"] == pytest.approx((ok["measured_ms"] - 0.05) / 0.05 * 100)
    assert failed["status"] == "all_failed" and np.isnan(failed["measured_ms"])
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"name": "tiny", "source": "t.yaml", "dim": 41, "cardinality": 10,
                                   "fields": [{"name": "resolution", "choices": [32, 48]}], "fixed": {}, "tied": {}}))  # fmt: skip
    render(str(summary), dirs, str(tmp_path / "v.csv"), None, None, None, tmp_path / "pages")
    page = (tmp_path / "pages" / "validation.html").read_text()
    assert "1 model(s) measured over budget" in page and "class='bad'" in page
    hub = (tmp_path / "pages" / "hub_cards.html").read_text()
    assert "OVER BUDGET" in hub and "every trial failed" in hub
    assert "Not part of this run" in (tmp_path / "pages" / "baselines.html").read_text()
