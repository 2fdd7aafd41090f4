"""The documentation stays true: a short README, the config reference generated from the schema,
every file path the docs name exists, the tutorial's commands are the README's."""

import re

import pytest

from gpunas.config import reference_markdown

from ..conftest import ROOT

DOCS = sorted((ROOT / "docs").glob("*.md"))
# a path-like token inside backticks that names a file or folder of the repository
PATH = re.compile(
    r"`((?:\.\./shared|src|tests|benchmarks|config|rules|workflow_scripts|profiles|envs|report|docs|\.ci)"
    r"/[A-Za-z0-9_./\-]*|README\.md|LICENSE|Snakefile|pyproject\.toml|mkdocs\.yml)`"
)


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("path", ["config/README.md", "docs/config.md"])
def test_config_reference_is_generated_from_the_schema(path):
    """Stale? Run `gpunas config reference --output config/README.md docs/config.md`."""
    assert (ROOT / path).read_text() == reference_markdown()


def test_every_schema_key_has_a_description():
    text = reference_markdown()
    rows = [ln for ln in text.splitlines() if ln.startswith("| `")]
    assert len(rows) > 80 and not [r for r in rows if r.rstrip().endswith("|  |")]


@pytest.mark.parametrize(
    "doc", [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *DOCS], ids=lambda p: p.name
)
def test_paths_named_in_the_docs_exist(doc):
    missing = []
    for path in PATH.findall(doc.read_text()):
        if any(c in path for c in "<>{}*") or path.endswith("/..."):
            continue
        target = (ROOT / path).resolve()
        if path.startswith("../shared") and not (ROOT.parent / "shared").exists():
            continue
        if not target.exists():
            missing.append(path)
    assert not missing, f"{doc.name} names paths that do not exist: {missing}"


def test_the_tutorial_gives_the_readmes_two_commands():
    def blocks(text):
        quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
        return re.findall(r"```bash\n(.+?)\n```", quick, flags=re.S)

    assert blocks((ROOT / "docs/tutorial.md").read_text()) == blocks((ROOT / "README.md").read_text())
