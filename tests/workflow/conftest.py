"""Run the real workflow on a copy of the repository's workflow files in a temporary directory."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "envs", "report"]


class Workflow:
    def __init__(self, path: Path) -> None:
        self.path = path

    def config(self, **overrides) -> Path:
        """Write config/config.yaml = default config updated with ``overrides``."""
        cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
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


@pytest.fixture
def workflow(tmp_path) -> Workflow:
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, tmp_path / part)
        else:
            shutil.copy(src, tmp_path / part)
    return Workflow(tmp_path)
