"""Runs as users start them: from another directory (`-s PATH/Snakefile -d RUNDIR`), and with
budgets that hold no candidate. Each works the same or stops once, early and clearly."""

import os
import shutil

import pytest
import yaml

from .conftest import ROOT, copy_workflow

CSV = ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"


def _preset(**search):
    preset = yaml.safe_load((ROOT / "config/presets/nasbench201.yaml").read_text())
    preset["search"] |= {"rounds": 2, "batch": 2, **search}
    preset["sampling"]["m"] = 10
    return preset


@pytest.mark.slow
@pytest.mark.skipif(not CSV.exists(), reason=f"{CSV} is not beside the checkout")
def test_a_run_from_another_directory_reads_the_workflows_own_files(tmp_path):
    """Field report: with -d the report said the recorded benchmarks were 'not recorded'."""
    wf = copy_workflow(tmp_path / "wf")
    shutil.copytree(ROOT / "benchmarks" / "results", wf.path / "benchmarks" / "results")
    os.symlink(CSV.parent.parent, tmp_path / "shared")  # ../shared/data/... as beside the checkout
    preset = _preset()
    preset["report"] = {
        "strategy_benchmark": "benchmarks/results/tabular.json"
    }  # relative, as configs write it
    assert preset["evaluator"]["csv"] == "../shared/data/nasbench201_hw.csv"
    (wf.path / "preset.yaml").write_text(yaml.safe_dump(preset))
    run = tmp_path / "run"
    run.mkdir()
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "-s", str(wf.path / "Snakefile"), "-d", str(run),
           "--configfile", str(wf.path / "preset.yaml")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=run, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (run / "results/hub/hub.json").exists() and not (wf.path / "results").exists()
    log = (run / "logs/render_report_pages.log").read_text()
    assert f"search strategies from {wf.path / 'benchmarks/results/tabular.json'}" in log
    assert "not found" not in log


@pytest.mark.slow
@pytest.mark.skipif(not CSV.exists(), reason=f"{CSV} is not beside the checkout")
def test_budgets_below_every_candidate_stop_before_any_trial(workflow):
    """Field report: budgets below every NAS-Bench-201 cell kept a run going for over 10 minutes."""
    preset = _preset()
    preset["evaluator"]["csv"] = str(CSV)
    preset["subspaces"] = {"kind": "edges_ms", "budgets": [0.5, 1.0, 2.0]}
    (workflow.path / "preset.yaml").write_text(yaml.safe_dump(preset))
    proc = workflow.run("--configfile", "preset.yaml", check=False)
    assert proc.returncode != 0
    lines = {ln.split("error: ", 1)[-1] for ln in (proc.stdout + proc.stderr).splitlines()
             if "no candidate is under any budget" in ln}  # fmt: skip
    assert len(lines) == 1, proc.stdout + proc.stderr
    (line,) = lines
    assert line.startswith(
        "subspaces.budgets: no candidate is under any budget (0.5, 1, 2 ms): the fastest of the "
    )
    assert "samples is predicted at" in line and line.endswith("budgets below the device's fastest network?)")
    assert not list((workflow.path / "results/search").glob("*/r*/s*/metrics.json"))
    assert not list((workflow.path / "results/search").glob("*/r*/proposals.json"))
