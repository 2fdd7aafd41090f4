"""A hub model carries its preprocessing: from a fresh process, image files in, the card's accuracy out,
through PyTorch and through ONNX Runtime, with nothing but the card to say how."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pandas as pd
from PIL import Image

from gpunas.arch import Architecture
from gpunas.datasets.loader import list_dataset, split_indices
from gpunas.datasets.prepared import TrainingData, prepare
from gpunas.hub.select import write_tier
from gpunas.training.train import TrainConfig, train_network

COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (50, 60, 210)}
ARCH = "res32-s0_conv_n1_k3_s2_c8_swish-s1_ir_n1_k3_s2_e2_c16_relu_se-head32"


def _dataset(root, per_class=20):
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            arr = np.clip(rng.normal(colour, 60, (24, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(root / name / f"{i:02d}.png")
    return root


def test_a_hub_model_classifies_image_files_at_the_cards_accuracy(tmp_path):
    root = _dataset(tmp_path / "images")
    sizes = (30, 24, 6)
    doc = prepare(str(root), train_images=sizes[0], val_images=sizes[1], test_images=sizes[2], image_size=16,
                  classes=3, outdir=tmp_path / "prepared")  # fmt: skip
    arch = Architecture.from_string(ARCH)  # resolution 32: stored at 16, resized like the training did
    metrics = train_network(arch, TrainingData.open(tmp_path / "prepared"), TrainConfig(epochs=3, batch_size=10,
                              device="cpu"), seed=0, weights=tmp_path / "weights.pt")  # fmt: skip
    assert metrics["status"] == "complete"
    best = pd.Series({"accuracy": metrics["val_top1"], "predicted_ms": 0.1, "params": metrics["params"],
                      "macs": metrics["macs"], "encoding": "0", "arch": ARCH, "round": 0, "slot": 0,
                      "trial_dir": str(tmp_path)})  # fmt: skip
    card = {"subspace": "s0", "name": "< 1 ms", "budget_ms": 1.0, "band": "s0", "budget_used": 0.1, "seed": 0,
            "training": {"epochs": 3}, "data": {"source": str(root)}}  # fmt: skip
    hub = tmp_path / "hub" / "s0"
    card = write_tier(hub, card, best, tmp_path / "weights.pt", with_model=True, decode_size=16,
                      class_names=doc["class_names"])  # fmt: skip
    prep = card["preprocessing"]
    assert (
        prep["input_size"] == [3, 32, 32]
        and prep["decode_size"] == 16
        and prep["interpolation"] == "bilinear"
    )
    assert np.allclose(prep["mean"], doc["mean"], atol=1e-6) and np.allclose(
        prep["std"], doc["std"], atol=1e-6
    )
    # the ONNX file starts with the normalisation and says so in its metadata
    model = onnx.load(hub / "model.onnx")
    assert [n.op_type for n in model.graph.node[:2]] == ["Sub", "Div"]
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["mean"]) == prep["mean"] and json.loads(props["gpunas.preprocessing"]) == prep
    assert "Normalisation is inside the model" in (hub / "card.md").read_text()

    idx = split_indices(list_dataset(str(root)).labels, sizes, 0, str(root))["val"]
    listing = list_dataset(str(root))
    files = [str(listing.files[i]) for i in idx]
    labels = [int(listing.labels[i]) for i in idx]
    code = textwrap.dedent(f"""
        import json, numpy as np, onnxruntime as ort, torch
        from gpunas.hub import classify, load_model, read_image
        model, card = load_model({str(hub)!r})
        files, labels = {files!r}, {labels!r}
        x = torch.cat([read_image(f, card) for f in files])
        with torch.inference_mode():
            torch_pred = model(x).argmax(1).tolist()
        sess = ort.InferenceSession({str(hub / "model.onnx")!r}, providers=["CPUExecutionProvider"])
        ort_pred = sess.run(None, {{"input": x.numpy()}})[0].argmax(1).tolist()
        top = classify({str(hub)!r}, files[:1], top=2)
        print(json.dumps({{"torch": torch_pred, "ort": ort_pred, "top": top, "names": card["class_names"]}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    torch_acc = 100.0 * np.mean(np.array(out["torch"]) == labels)
    ort_acc = 100.0 * np.mean(np.array(out["ort"]) == labels)
    assert (
        card["accuracy"] > 60
    )  # well above chance (33%): the test can tell a working model from a broken one
    assert abs(torch_acc - card["accuracy"]) < 1e-9  # exactly what the training measured on the same images
    assert (
        abs(ort_acc - card["accuracy"]) <= 100 / len(labels) + 1e-9
    )  # at most one image off (float rounding)
    (top,) = out["top"]
    assert len(top) == 2 and top[0][0] in COLOURS and out["names"] == sorted(COLOURS)


def test_the_lut_times_the_normalisation_the_model_ships():
    """The stem key (the layer reading the image) is measured with the Sub / Div the shipped model
    starts with, so LUT sums and fidelity networks cover what ships; no other key has it."""
    from collections import Counter

    from gpunas.latency.backends import torch_layer_module
    from gpunas.latency.keys import keys_for_arch
    from gpunas.latency.onnx_graph import layer_graph, network_graph
    from gpunas.models.builder import Normalize, build_model
    from gpunas.models.export import onnx_bytes

    arch = Architecture.from_string(ARCH)
    stem, *rest = keys_for_arch(arch, 3)
    assert stem.reads_image and not any(k.reads_image for k in rest)
    assert [n.op_type for n in layer_graph(stem).graph.node[:2]] == ["Sub", "Div"]
    assert not {"Sub", "Div"} & {n.op_type for k in rest for n in layer_graph(k).graph.node}
    assert isinstance(torch_layer_module(stem)[0], Normalize)
    shipped = Counter(
        n.op_type for n in onnx.load_from_string(onnx_bytes(build_model(arch, 3), 32)).graph.node
    )
    timed = Counter(n.op_type for n in network_graph(arch, 3).graph.node)
    assert (shipped["Sub"], shipped["Div"]) == (timed["Sub"], timed["Div"]) == (1, 1)


def test_gpunas_hub_predict_names_a_missing_tier_in_one_line(tmp_path):
    from gpunas.cli import main

    assert main(["hub", "predict", str(tmp_path / "nope"), str(tmp_path / "x.png")]) == 2
