"""Profiles: what runs where, and every setting of the Slurm profiles says why."""

import re

import pytest
import yaml

from ..conftest import ROOT
from .test_envs import rules

# The rules that go to the cluster; every other rule is cheap and runs beside the driver.
SLURM_RULES = {
    "profile_layers", "check_lut_fidelity", "prepare_dataset", "train_candidate", "train_baseline", "train_finalist",
    "train_model", "train_scaling", "train_async", "validate_hub",
}  # fmt: skip
SLURM_PROFILES = [ROOT / "profiles/slurm/config.yaml", ROOT / "tests/slurm/profile/config.yaml"]


def test_only_the_heavy_rules_leave_the_driver():
    blocks = rules()
    assert set(blocks) > SLURM_RULES
    for name, block in blocks.items():
        local = re.search(r"^    localrule: True$", block, flags=re.M) is not None
        if name != "all":  # a target without output never becomes a job of its own
            assert local == (name not in SLURM_RULES), f"rule {name}: localrule should be {not local}"


def test_default_profile_stays_local():
    profile = yaml.safe_load((ROOT / "profiles/default/config.yaml").read_text())
    assert "executor" not in profile and "set-resources" not in profile


def test_slurm_profile_asks_slurm_for_the_heavy_rules_only():
    profile = yaml.safe_load(SLURM_PROFILES[0].read_text())
    assert profile["executor"] == "slurm" and profile["slurm-status-command"] == "sacct"
    # a global limit would serialise the timing shards on the whole cluster
    assert "resources" not in profile
    defaults = profile["default-resources"]
    assert {"slurm_partition", "slurm_account", "runtime", "mem_mb", "cpus_per_task"} <= set(defaults)
    assert defaults["mem_mb"] >= 300
    assert set(profile["set-resources"]) <= SLURM_RULES
    for rule in ("profile_layers", "check_lut_fidelity", "validate_hub"):
        assert profile["set-resources"][rule]["gpu"] == 1 and profile["set-resources"][rule]["gpu_model"]


@pytest.mark.parametrize("path", SLURM_PROFILES, ids=lambda p: p.parent.name)
def test_every_slurm_profile_entry_says_why(path):
    lines = path.read_text().splitlines()
    sections = {"default-resources", "set-resources"}
    section = None
    for i, line in enumerate(lines):
        match = re.match(r"^( *)([\w-]+):", line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        if indent == 0:
            section = key
        # top-level keys, default resources and the rules of set-resources (not their items)
        if indent == 0 or (indent == 2 and section in sections):
            above = lines[i - 1].strip() if i else ""
            assert above.startswith("#"), f"{path.name}: line {i + 1} ({key}) has no comment above it"
