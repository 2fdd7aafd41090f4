"""evaluator: table runs the same search rules on NAS-Bench-201 lookups (no training/profiling)."""

import json

import pandas as pd
import pytest
import yaml

from .conftest import ROOT

CSV = ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"


@pytest.mark.slow
@pytest.mark.skipif(not CSV.exists(), reason=f"{CSV} is not beside the checkout")
@pytest.mark.parametrize("rows", [None, 5000], ids=["whole", "first-5000-rows"])
def test_nasbench201_preset_runs_through_the_search_rules(workflow, rows):
    preset = yaml.safe_load((ROOT / "config/presets/nasbench201.yaml").read_text())
    csv = CSV
    if rows:  # a sparse table: the real file's first rows, as they are
        csv = workflow.path / "partial.csv"
        csv.write_text("".join(CSV.read_text().splitlines(keepends=True)[: rows + 1]))
    preset["evaluator"]["csv"] = str(csv)
    preset["search"] |= {"rounds": 3, "batch": 3}  # 2 Sobol rounds, then BO
    preset["sampling"]["m"] = 12
    (workflow.path / "preset.yaml").write_text(yaml.safe_dump(preset))
    proc = workflow.run("--configfile", "preset.yaml")
    assert "train_candidate" in proc.stdout + proc.stderr
    res = workflow.path / "results"
    assert not (res / "lut").exists()  # nothing profiled
    table = pd.read_csv(csv).set_index("cellstr")
    samples = pd.read_parquet(res / "samples/samples.parquet")
    assert len(samples) == min(len(table), 2**12)  # the table's rows are the candidates
    subs = json.loads((res / "subspaces/subspaces.json").read_text())["subspaces"]
    assert [s["hi_ms"] for s in subs] == [5.0, 6.0, 7.0]
    for s in subs:
        hist = pd.read_parquet(res / f"search/{s['id']}/history_r02.parquet")
        assert len(hist) == 9 and hist["encoding"].is_unique
        # lookups, not training: accuracy and latency are the table's
        assert (hist["accuracy"].to_numpy() == table.loc[hist["arch"], "cifar10_test"].to_numpy()).all()
        assert (hist["predicted_ms"] < s["hi_ms"]).all() and (hist["predicted_ms"] >= s["lo_ms"]).all()
        proposals = json.loads((res / f"search/{s['id']}/r02/proposals.json").read_text())
        # one surrogate learns from every band's trials of rounds 0 and 1
        assert proposals["surrogate"] == "shared" and proposals["model"]["trials_seen"] == 3 * 2 * 3
        card = json.loads((res / f"hub/{s['id']}/card.json").read_text())
        assert card["status"] == "ok" and card["accuracy"] == hist["accuracy"].max()
    logs = "".join(p.read_text() for p in (workflow.path / "logs/propose_candidates").rglob("*.log"))
    assert "Warning" not in logs and "warn" not in logs.lower()  # the surrogate fits quietly
