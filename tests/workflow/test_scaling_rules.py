"""Search once, scale by latency, as a real Snakemake run: the hub model of the smallest budget grown
by a grid of compound-scaling coefficients, costed with its own LUT part, each grid point trained
with the proxy, coefficients chosen by both rules, their families placed into the budgets and
retrained beside the search's models as finalists."""

import json

import numpy as np
import pandas as pd
import pytest

from gpunas.arch import Architecture
from gpunas.baselines.costing import predict
from gpunas.latency.estimate import Correction
from gpunas.latency.lut import read_lut

from .test_final_rules import FINAL

SCALING = {
    **FINAL,
    "baselines": {**FINAL["baselines"], "enabled": False},
    "final": {**FINAL["final"], "seeds": 2},
    "scaling": {"enabled": True, "base": "hub", "grid": {"step": 0.2, "target": 2.0, "band": 0.15,
                "max_width": 1.2, "max_resolution": 1.2}, "points": 3, "members": 2,
                "reward": {"target_ms": None, "w": -0.07}},
}  # fmt: skip


@pytest.mark.slow
def test_scaling_stage_grid_families_and_routes(workflow):
    workflow.config(**SCALING)
    workflow.run()
    res = workflow.path / "results"
    doc = json.loads((res / "scaling/scaling.json").read_text())
    hub = {s: json.loads((res / f"hub/{s}/card.json").read_text()) for s in ("s0", "s1")}
    smallest = min((c for c in hub.values() if c["status"] == "ok"), key=lambda c: c["budget_ms"])
    assert doc["base"]["arch"] == smallest["arch"]
    grid = pd.read_csv(res / "scaling/grid.csv")
    assert len(grid) == 3 and (grid["status"] == "complete").all()
    assert (abs(grid["alpha"] * grid["beta"] ** 2 * grid["gamma"] ** 2 / 2 - 1) <= 0.15).all()
    # each grid point was trained (its own job) with the proxy
    for p in grid["point"]:
        m = json.loads((res / f"scaling/grid/{p}/metrics.json").read_text())
        assert m["status"] == "complete" and m["arch"] == grid.set_index("point").loc[p, "arch"]
    # every member's predicted latency is the LUT (its scaling part) with the applied correction
    table, meta = read_lut(next((res / "lut").glob("*/scaling/lut.parquet")))
    corr = Correction.read(next((res / "lut").glob("*/fidelity.json")))
    for rule, fam in doc["families"].items():
        archs = [m["arch"] for m in fam["members"]]
        expected = predict(archs, table, corr, meta["classes"], meta["padding"])
        assert np.allclose([m["predicted_ms"] for m in fam["members"]], expected), rule
        assert [m["phi"] for m in fam["members"]] == [1, 2]
        layers = [sum(s.layers for s in Architecture.from_string(a).stages) for a in archs]
        assert layers == sorted(layers)  # the family grows
        for sub, member in fam["budgets"].items():
            if member is not None:
                assert member["predicted_ms"] < doc["budgets_ms"][sub]
    assert doc["chosen"]["flops"]["point"] == grid.loc[grid["accuracy"].idxmax(), "point"]
    assert doc["chosen"]["lacs"]["point"] == grid.loc[grid["reward"].idxmax(), "point"]
    # the routes join the finalists: trained beside the search's models, compared per budget
    final = json.loads((res / "final/finalists.json").read_text())["finalists"]
    scaled = {s: f for s, f in final.items() if f["kind"] == "scaled"}
    assert {f["route"] for f in scaled.values()} == {"lacs", "flops"}
    comparison = pd.read_csv(res / "final/comparison.csv")
    for f in scaled.values():
        if not f["skip"]:
            row = comparison.set_index("subspace").loc[f["tier"]]
            assert np.isfinite(row[f"{f['route']}_test_top1"])
            assert (
                row[f"{f['route']}_gain_ci_low"]
                <= row[f"{f['route']}_gain_pts"]
                <= row[f"{f['route']}_gain_ci_high"]
            )
    assert "Search once and scale" in (res / "final/comparison.md").read_text()
