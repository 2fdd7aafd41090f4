"""Rule sample_sobol: 2^m scrambled Sobol candidates of the space."""

from gpunas.latency.steps import sample_sobol
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    sample_sobol,
    space=snakemake.input.space,
    m=snakemake.params.m,
    seed=snakemake.params.seed,
    output=snakemake.output.samples,
)
