"""The single-node Slurm cluster of cluster.sh: up for the whole session once a slurm test runs."""

import importlib.util
import os
import subprocess

import pytest

from ..conftest import ROOT

CLUSTER_SH = ROOT / "tests" / "slurm" / "cluster.sh"


def cluster(command: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``cluster.sh <command>`` and return its result (output captured)."""
    return subprocess.run(["bash", str(CLUSTER_SH), command], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def slurm_cluster():
    """Install and start the cluster unless it is up; stop it at the end if this fixture started it."""
    if os.geteuid() != 0:
        pytest.skip("the Slurm test cluster needs root: cluster.sh installs packages and starts daemons")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip('snakemake-executor-plugin-slurm is not installed: pip install -e ".[slurm]"')
    was_up = cluster("status").returncode == 0
    if not was_up:
        for command in ("install", "start"):
            proc = cluster(command)
            if command == "install" and proc.returncode == 3:
                pytest.skip(proc.stderr.strip())
            if proc.returncode != 0:
                pytest.fail(f"cluster.sh {command} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    yield
    if not was_up:
        proc = cluster("stop")
        assert proc.returncode == 0, f"cluster.sh stop failed:\n{proc.stdout}\n{proc.stderr}"
