"""The package's layout keeps its promises: no import cycles, rule functions only in gpunas.steps
(used only by the workflow's scripts), inference without the search stack, files that carry the
user's umask, and a CLI that behaves in a pipe."""

import ast
import json
import os
import stat
import subprocess
import sys
import textwrap
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "gpunas"


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, modules: set[str]) -> set[str]:
    """gpunas modules a file imports anywhere (lazy imports inside functions included)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            names = [n for n in names[:-1] if n in modules] or [node.module]
        else:
            continue
        out |= {n for n in names if n in modules}
    return out


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p, PACKAGE.parent): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: imported(ast.parse(path.read_text()), modules) - {name} for name, path in files.items()}


def test_package_has_no_import_cycles():
    graph = import_graph()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")
    assert "gpunas.arch" in order
    # a submodule never imports its own package's __init__ (re-exports go the other way)
    for name, deps in graph.items():
        for dep in deps:
            assert not (name.startswith(dep + ".") and (PACKAGE.parent / dep.replace(".", "/")).is_dir()), (
                name,
                dep,
            )


def test_steps_are_imported_only_by_the_workflow_scripts():
    graph = import_graph()
    importers = {name for name, deps in graph.items() for d in deps if d.startswith("gpunas.steps")}
    assert importers <= {n for n in graph if n.startswith("gpunas.steps")}
    modules = set(graph)
    outside = {}
    for folder in ("tests", "benchmarks", "rules"):
        for path in (ROOT / folder).rglob("*.py"):
            outside[path] = {
                d for d in imported(ast.parse(path.read_text()), modules) if d.startswith("gpunas.steps")
            }
    assert not {str(p): d for p, d in outside.items() if d}
    for path in (ROOT / "rules").glob("*.smk"):
        assert "gpunas.steps" not in path.read_text(), path
    # every rule's script calls the function of its rule, from the module of its rules/<stage>.smk
    for smk in (ROOT / "rules").glob("*.smk"):
        stage = smk.stem
        for line in smk.read_text().splitlines():
            if line.startswith("rule ") and stage != "common":
                rule = line.split()[1].rstrip(":")
                if rule == "all":
                    continue
                script = (ROOT / "workflow_scripts" / f"{rule}.py").read_text()
                assert f"from gpunas.steps.{stage} import {rule}" in script, (stage, rule)


BLOCKED = [
    "sklearn",
    "skopt",
    "snakemake",
    "scipy",
    "pandas",
    "pyarrow",
    "matplotlib",
    "onnxruntime",
    "jsonschema",
]


def test_load_model_needs_torch_alone(tmp_path):
    import torch

    from gpunas.arch import Architecture
    from gpunas.models.builder import build_model

    arch = Architecture.from_string("res32-s0_conv_n1_k3_s2_c8_swish-s1_ir_n1_k3_s2_e2_c16_relu_se-head32")
    model = build_model(arch, 5)
    (tmp_path / "arch.txt").write_text(arch.to_string() + "\n")
    (tmp_path / "card.json").write_text(json.dumps({"status": "ok"}))
    torch.save({"state_dict": model.state_dict(), "num_classes": 5}, tmp_path / "weights.pt")
    code = textwrap.dedent(f"""
        import importlib.abc, sys
        BLOCKED = {BLOCKED!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} is blocked in this test")
        sys.meta_path.insert(0, Block())
        from gpunas.hub import load_model
        import torch
        model, card = load_model({str(tmp_path)!r})
        print(tuple(model(torch.zeros(1, 3, 32, 32)).shape))
        print(sorted(m for m in BLOCKED if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["(1, 5)", "[]"]


def test_files_carry_the_users_umask(tmp_path):
    import pandas as pd

    from gpunas.io import atomic_write_json
    from gpunas.tables import write_table

    old = os.umask(0o002)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        write_table(pd.DataFrame({"x": [1]}), {}, tmp_path / "t.parquet")
    finally:
        os.umask(old)
    for name in ("a.json", "t.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o664, name
    old = os.umask(0o077)
    try:
        atomic_write_json(tmp_path / "b.json", {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "command", ["gpunas space gpunet", "gpunas describe GPUNet-2", "gpunas space tiny --json"]
)
def test_cli_exits_quietly_when_the_pipe_closes(command):
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command} | head -1 > /dev/null; echo status ${{PIPESTATUS[0]}}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.stderr == "", proc.stderr  # no BrokenPipeError traceback
    assert proc.stdout.strip() in ("status 0", "status 141")
