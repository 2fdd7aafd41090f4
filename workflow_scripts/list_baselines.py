"""Rule list_baselines: every variant of the baseline families (the LUT costs them too)."""

from gpunas.steps import run_step
from gpunas.steps.baselines import list_baselines

run_step(
    snakemake.log[0],
    list_baselines,
    space=snakemake.input.space,
    families=snakemake.params.families,
    phis=snakemake.params.phis,
    output=snakemake.output.variants,
)
