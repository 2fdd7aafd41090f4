"""The real-scale preset is honest: its dry-run plans jobs whose requests fit what the data needs."""

import re

import pytest
import yaml


@pytest.mark.slow
def test_real_scale_preset_requests_fit_the_data_pipeline(workflow):
    proc = workflow.run("-n", "--configfile", "config/presets/gpunet.yaml")
    assert int(re.search(r"^train_candidate\s+(\d+)$", proc.stdout, flags=re.M)[1]) == 1200
    preset = yaml.safe_load((workflow.path / "config/presets/gpunet.yaml").read_text())
    for key, value, expected in (
        ("train", {"mem_mb": 2000}, "train.mem_mb 2000 is below what one training job needs: ~4323 MB"),
        (
            "data",
            {"workers": 1, "runtime": 2},
            "data.runtime 2 min is below what decoding the splits takes: ~10 min",
        ),
    ):
        small = workflow.path / "config/presets/small.yaml"
        small.write_text(yaml.safe_dump({**preset, key: {**preset[key], **value}}))
        proc = workflow.run("-n", "--configfile", str(small), check=False)
        assert proc.returncode != 0
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "profile" not in ln]
        assert len(lines) == 1 and expected in lines[0], proc.stderr
