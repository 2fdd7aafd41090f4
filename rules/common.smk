# Config validation first, then helpers (get_*, is_*). No rules here.
from pathlib import Path

from snakemake.utils import validate

from gpunas.space import load_space

validate(config, "../config/schema.yaml")

SPACE = load_space(config["space"])


def get_space_path():
    """The space YAML the run uses (a name resolves to config/spaces/<name>.yaml)."""
    return SPACE.source


def get_final_outputs():
    """Everything `rule all` builds."""
    return ["results/space/summary.json"]
