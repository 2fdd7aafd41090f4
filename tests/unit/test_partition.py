import numpy as np
import pytest

from gpunas.latency.partition import assign, budget_edges, check_spec, partition, subspace_ids


def test_explicit_edges_bands():
    lat = np.array([0.1, 0.49, 0.5, 0.64, 0.7, 0.9, 3.0])
    res = partition(lat, {"kind": "edges_ms", "budgets": [0.5, 0.65, 0.85]})
    assert [s["members"] for s in res["subspaces"]] == [[0, 1], [2, 3], [4]]
    assert [s["count"] for s in res["subspaces"]] == [2, 2, 1]
    assert res["above_last_edge"] == 2
    assert res["subspaces"][1]["lo_ms"] == 0.5 and res["subspaces"][1]["hi_ms"] == 0.65
    assert res["subspaces"][0]["name"] == "< 0.5 ms"


def test_empty_subspace_is_reported_not_dropped():
    res = partition(np.array([0.7, 0.8]), {"kind": "edges_ms", "budgets": [0.5, 1.0]})
    assert [s["id"] for s in res["subspaces"]] == ["s0", "s1"]
    assert res["subspaces"][0]["empty"] is True and res["subspaces"][0]["count"] == 0
    assert res["subspaces"][0]["min_ms"] is None


def test_quantile_edges_cover_all_samples():
    lat = np.random.default_rng(0).lognormal(size=1000)
    res = partition(lat, {"kind": "quantiles", "budgets": [0.25, 0.5, 0.75, 1.0]})
    assert [s["count"] for s in res["subspaces"]] == [250, 250, 250, 250]
    assert res["above_last_edge"] == 0
    edges = budget_edges(lat, {"kind": "quantiles", "budgets": [0.5, 1.0]})
    assert (assign(lat, edges) >= 0).all()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "edges_ms", "budgets": [0.65, 0.5]}, "strictly increasing"),
        ({"kind": "edges_ms", "budgets": [0.5, 0.5]}, "strictly increasing"),
        ({"kind": "edges_ms", "budgets": [-1, 0.5]}, "must be > 0"),
        ({"kind": "quantiles", "budgets": [0.5, 1.5]}, "quantiles must be <= 1"),
        ({"budgets": [1]}, "subspaces.kind: None is not one of"),
        ({"kind": "ms", "budgets": [1]}, "subspaces.kind: 'ms' is not one of"),
    ],
)
def test_bad_budget_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        check_spec(spec)


def test_ids_known_from_config():
    assert subspace_ids({"kind": "edges_ms", "budgets": [0.5, 0.65, 0.85]}) == ["s0", "s1", "s2"]
