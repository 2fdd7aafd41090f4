"""Run the real workflow on a copy of the repository's workflow files in a temporary directory."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "slurm", "envs", "report"]


class Workflow:
    def __init__(self, path: Path) -> None:
        self.path = path

    def config(self, **overrides) -> Path:
        """Write config/config.yaml = default config updated with ``overrides``; the scaling stage
        (on in the default config) only where ``overrides`` name it: it has its own tests
        (test_scaling_rules.py), and the others keep their small DAGs."""
        cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
        cfg["scaling"]["enabled"] = False
        cfg.update(overrides)
        target = self.path / "config" / "config.yaml"
        target.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return target

    def run(self, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
        proc = subprocess.run(cmd, cwd=self.path, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


def kill_after(workflow: Workflow, pattern: str, count: int, timeout: float = 600) -> None:
    """Run the workflow and SIGKILL the driver and every job it started once ``count`` files match
    ``pattern`` under ``results/search``."""
    res = workflow.path / "results" / "search"
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=workflow.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while len(list(res.glob(pattern))) < count:
        assert proc.poll() is None, "the workflow ended before it could be killed"
        assert time.monotonic() < deadline, "no trial finished in time"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and every job it started
    proc.wait()


def copy_workflow(path: Path) -> Workflow:
    """The workflow's files copied into ``path`` (created if needed), modification times kept."""
    path.mkdir(exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_symlink():  # `slurm` -> profiles/slurm
            (path / part).symlink_to(src.readlink())
        elif src.is_dir():
            shutil.copytree(src, path / part)
        else:
            shutil.copy2(src, path / part)
    return Workflow(path)


@pytest.fixture
def workflow(tmp_path) -> Workflow:
    return copy_workflow(tmp_path)
