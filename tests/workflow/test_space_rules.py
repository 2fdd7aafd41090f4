import json

import pytest
import yaml

from .conftest import ROOT


def test_describe_space_rule(workflow):
    workflow.run("--until", "describe_space")
    summary = json.loads((workflow.path / "results/space/summary.json").read_text())
    assert summary["name"] == "tiny" and summary["dim"] == 41
    assert summary["cardinality"] == 867875055206400
    assert (workflow.path / "logs/describe_space.log").read_text().count("space tiny") == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"seed": -1}, "-1 is less than the minimum of 0"),
        ({"colour": "red"}, "Additional properties are not allowed ('colour' was unexpected)"),
        ({"space": "nope"}, "search space 'nope' not found"),
        ({"subspaces": {"kind": "edges_ms", "budgets": [0.65, 0.5]}}, "values must be strictly increasing"),
        ({"sampling": {"m": 30}}, "30 is greater than the maximum of 24"),
    ],
)
def test_bad_config_is_refused(workflow, overrides, expected):
    workflow.config(**overrides)
    proc = workflow.run("-n", check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr
    assert not (workflow.path / "results").exists()


def test_gpunet_space_dry_run_and_lint(workflow):
    # on the CPU the default train.mem_mb cannot hold the space's largest network at 512 px:
    # refused before anything runs, naming the key and the estimate's parts
    workflow.config(space="gpunet")
    proc = workflow.run("-n", check=False)
    assert proc.returncode != 0 and "train.mem_mb 3000 is below what one training job needs" in proc.stderr
    assert "activations" in proc.stderr and not (workflow.path / "results").exists()
    # with a GPU per training job (as the gpunet preset asks) the same space plans
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    workflow.config(space="gpunet", train={**default["train"], "gpu": 1, "mem_mb": 16000})
    proc = workflow.run("-n")
    assert "describe_space" in proc.stdout
    workflow.run("--lint")
