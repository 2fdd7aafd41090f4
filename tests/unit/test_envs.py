"""The conda environments in envs/: pinned, consistent with pyproject.toml, complete for their rules."""

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from ..conftest import ROOT

ENVS = sorted((ROOT / "envs").glob("*.yaml"))
# Packages that install a module under another distribution's name.
PROVIDES = {"onnxruntime-gpu": "onnxruntime"}


def rules() -> dict[str, str]:
    """Rule name -> its block of text, for every rule in rules/*.smk; a `use rule BASE as NAME with:`
    block is its own text followed by its base's (so its own directives are found first)."""
    blocks, derived = {}, {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        parts = re.split(r"^(?:rule (\w+)|use rule (\w+) as (\w+) with):\n", smk.read_text(), flags=re.M)
        for name, base, alias, text in zip(parts[1::4], parts[2::4], parts[3::4], parts[4::4], strict=True):
            if name:
                blocks[name] = text
            else:
                derived[alias] = (base, text)
    blocks |= {alias: text + blocks[base] for alias, (base, text) in derived.items()}
    return blocks


def directive(block: str, name: str) -> str | None:
    """The quoted value of a rule's one-line directive (conda, script), or None."""
    match = re.search(rf"^    {name}:\n\s+\"([^\"]+)\"", block, flags=re.M)
    return match.group(1) if match else None


def pyproject_specifiers() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    specs: dict[str, SpecifierSet] = {}
    for req in map(Requirement, reqs):
        name = canonicalize_name(req.name)
        specs[name] = specs.get(name, SpecifierSet()) & req.specifier
    return specs


def core_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}


def env_pins(path: Path) -> dict[str, Requirement]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    return {canonicalize_name(r.name): r for r in map(Requirement, pip)}


def _module_file(name: str) -> Path | None:
    base = ROOT / "src" / Path(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def third_party_imports(script: Path) -> set[str]:
    """Top-level modules outside gpunas that ``script`` can import, following every gpunas module
    it reaches, imports inside functions (lazy ones) included."""
    seen: set[Path] = set()
    found: set[str] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] != "gpunas":
                    found.add(parts[0])
                    continue
                for i in range(1, len(parts) + 1):
                    module = _module_file(".".join(parts[:i]))
                    if module is not None:
                        todo.append(module)
    return found


def test_there_is_an_env_per_rule_group():
    assert {p.stem for p in ENVS} >= {"search", "latency", "train"}


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.stem)
def test_env_is_pinned_within_pyproject(env):
    spec = yaml.safe_load(env.read_text())
    conda = [d for d in spec["dependencies"] if isinstance(d, str)]
    python = next(d for d in conda if d.startswith("python="))
    requires_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires_python).contains(python.split("=")[1]), python
    specifiers = pyproject_specifiers()
    pins = env_pins(env)
    assert pins, f"{env.name}: no pip packages"
    for name, req in pins.items():
        (pin,) = req.specifier  # exactly one specifier ...
        assert pin.operator == "==", f"{env.name}: {req} is not pinned with =="
        if name in specifiers:  # ... inside pyproject's range for the package
            assert specifiers[name].contains(pin.version, prereleases=True), (
                f"{env.name}: {req} is outside pyproject.toml's {name}{specifiers[name]}"
            )


def test_every_rule_names_an_existing_env():
    for name, block in rules().items():
        if name == "all":
            continue
        conda = directive(block, "conda")
        assert conda is not None, f"rule {name} has no conda: directive"
        assert (ROOT / "rules" / conda).resolve().is_file(), f"rule {name}: {conda} does not exist"


def test_every_env_has_the_dependencies_its_rules_import():
    import_to_dist = packages_distributions()
    needed_by_env: dict[Path, set[str]] = {}
    for block in rules().values():
        conda, script = directive(block, "conda"), directive(block, "script")
        if conda is None or script is None:
            continue
        modules = third_party_imports((ROOT / "rules" / script).resolve())
        dists = {canonicalize_name(d) for m in modules for d in import_to_dist.get(m, [m])}
        needed_by_env.setdefault((ROOT / "rules" / conda).resolve(), set()).update(dists)
    assert len(needed_by_env) >= 3
    core = core_dependencies()
    for env, needed in needed_by_env.items():
        have = {PROVIDES.get(name, name) for name in env_pins(env)}
        missing = (needed & core) - have
        assert not missing, f"{env.name} lacks {sorted(missing)}, imported by the rules that use it"
        unused = (have & core) - needed
        assert not unused, f"{env.name} pins {sorted(unused)}, which none of its rules imports"
