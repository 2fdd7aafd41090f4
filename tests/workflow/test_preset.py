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


def _resources(dry_run: str, rule: str) -> list[dict[str, str]]:
    """The resources of every job of ``rule`` in a dry run's output (Snakemake's ``resources:`` lines)."""
    blocks = re.findall(rf"^rule {rule}:\n(.*?)(?:\n\n|\Z)", dry_run, flags=re.M | re.S)
    lines = [re.search(r"^\s+resources: (.*)$", b, flags=re.M)[1] for b in blocks]
    return [dict(kv.split("=", 1) for kv in line.split(", ")) for line in lines]


def test_the_cluster_command_resolves_and_does_not_limit_timing_jobs_to_one_slot(workflow):
    """Field report: `snakemake --profile slurm`, the README's command, found no profile, and
    `--profile profiles/slurm` kept profiles/default's `latency_slots: 1`, so the GPU profiling
    shards would run one at a time on the whole cluster. Now the command resolves (`slurm` in the
    workflow directory), profiles/default still loads beside it, and each timing job on the
    cluster asks for 0 of the local timing slots and for one GPU; a local run keeps 1 slot each."""
    proc = workflow.run("-n", "--profile", "slurm")
    assert "Using profiles slurm and workflow specific profile profiles/default" in proc.stderr
    for rule in ("profile_layers", "check_lut_fidelity", "validate_hub"):
        jobs = _resources(proc.stdout, rule)
        assert jobs, f"no {rule} job in the dry run"
        assert all(j["latency_slots"] == "0" and j["gpu"] == "1" for j in jobs), (rule, jobs)
    assert all(j["slurm_extra"] == "--signal=TERM@60" for j in _resources(proc.stdout, "train_candidate"))
    local = workflow.run("-n").stdout
    assert all(j["latency_slots"] == "1" for j in _resources(local, "profile_layers"))
