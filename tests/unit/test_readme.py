"""The README's commands are the ones CI runs."""

import re

from ..conftest import ROOT


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", quick, flags=re.S)


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _commands()
    assert len(commands) == 2
    run, test = commands
    assert "snakemake" in run and "torch==2.13.0" in run
    assert "pytest" in test and "torch==2.13.0" in test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci
