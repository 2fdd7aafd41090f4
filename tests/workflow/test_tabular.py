"""evaluator: table runs the same search rules on NAS-Bench-201 lookups (no training/profiling)."""

import json

import pandas as pd
import pytest
import yaml

from .conftest import ROOT

CSV = ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"


@pytest.mark.slow
@pytest.mark.skipif(not CSV.exists(), reason=f"{CSV} is not beside the checkout")
def test_nasbench201_preset_runs_through_the_search_rules(workflow):
    preset = yaml.safe_load((ROOT / "config/presets/nasbench201.yaml").read_text())
    preset["evaluator"]["csv"] = str(CSV)
    preset["search"] |= {"rounds": 2, "batch": 3}
    preset["sampling"]["m"] = 12
    (workflow.path / "preset.yaml").write_text(yaml.safe_dump(preset))
    proc = workflow.run("--configfile", "preset.yaml")
    assert "train_candidate" in proc.stdout + proc.stderr
    res = workflow.path / "results"
    assert not (res / "lut").exists()  # nothing profiled
    table = pd.read_csv(CSV).set_index("cellstr")
    subs = json.loads((res / "subspaces/subspaces.json").read_text())["subspaces"]
    assert [s["hi_ms"] for s in subs] == [5.0, 6.0, 7.0]
    for s in subs:
        hist = pd.read_parquet(res / f"search/{s['id']}/history_r01.parquet")
        assert len(hist) == 6 and hist["encoding"].is_unique
        # lookups, not training: accuracy and latency are the table's
        assert (hist["accuracy"].to_numpy() == table.loc[hist["arch"], "cifar10_test"].to_numpy()).all()
        assert (hist["predicted_ms"] < s["hi_ms"]).all() and (hist["predicted_ms"] >= s["lo_ms"]).all()
        card = json.loads((res / f"hub/{s['id']}/card.json").read_text())
        assert card["status"] == "ok" and card["accuracy"] == hist["accuracy"].max()
