"""The single-node Slurm cluster of cluster.sh: up for the whole session once a slurm test runs."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpunas.config import merge_settings

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


SITE = ROOT / "tests" / "slurm" / "profile" / "config.yaml"
# The shipped profile runs the asynchronous search; tests of the rounds (train_candidate) say so,
# as a user does on the command line.
SYNC = ['search={"mode": "sync"}']
TIMEOUT_S = 900


def site_profile(workdir: Path, **extra: Any) -> None:
    """Edit ``workdir``'s profiles/slurm/config.yaml for the test cluster (tests/slurm/profile, then
    ``extra``), as a site edits the SITE lines of the shipped profile."""
    target = workdir / "profiles" / "slurm" / "config.yaml"
    profile = merge_settings(yaml.safe_load(target.read_text()), yaml.safe_load(SITE.read_text()))
    target.write_text(yaml.safe_dump(merge_settings(profile, extra), sort_keys=False))


def slurm_command(*args: str) -> list[str]:
    """The README's cluster command, `snakemake --profile slurm`, with a hard time limit."""
    return ["timeout", "-k", "10", str(TIMEOUT_S),  # the plugin ignores SIGTERM while it waits
            sys.executable, "-m", "snakemake", "--profile", "slurm", *args]  # fmt: skip


def slurm_logs(workdir: Path) -> str:
    return "\n".join(
        f"--- {p}\n{p.read_text()[-3000:]}"
        for p in sorted((workdir / ".snakemake/slurm_logs").rglob("*.log"))
    )


def run_on_slurm(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir`` on the test cluster with `snakemake --profile slurm`."""
    proc = subprocess.run(
        slurm_command(*args), cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT_S + 30
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"Slurm run failed ({proc.returncode}):\n{proc.stderr[-6000:]}\n{slurm_logs(workdir)}"
        )
    return proc


SACCT_FIELDS = ["JobID", "Comment", "Partition", "Account", "AllocCPUS", "ReqMem", "State", "ExitCode", "Elapsed"]  # fmt: skip


def sacct_rows(workdir: Path, since: str, duplicates: bool = False) -> list[dict[str, str]]:
    """sacct's rows (allocations, not steps) of the jobs that ran in ``workdir`` since ``since``;
    ``duplicates``: every run of a requeued job, not only its last (sacct -D)."""
    fields = [*SACCT_FIELDS, "Start", "End", "WorkDir"]
    cmd = ["sacct", "-X", "-a", "-P", "-S", since, "-E", "now", f"--format={','.join(fields)}"]
    out = subprocess.run(
        cmd + (["-D"] if duplicates else []), capture_output=True, text=True, check=True
    ).stdout
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()[1:]]
    return [r for r in rows if Path(r["WorkDir"]) == workdir.resolve()]


def show(rows: list[dict[str, str]]) -> str:
    """sacct rows as a table, for the test's output."""
    if not rows:
        return "(no rows)"
    widths = {f: max(len(f), *(len(r[f]) for r in rows)) for f in SACCT_FIELDS}
    lines = ["  ".join(f.ljust(widths[f]) for f in SACCT_FIELDS)]
    lines += ["  ".join(r[f].ljust(widths[f]) for f in SACCT_FIELDS) for r in rows]
    return "\n".join(lines)
