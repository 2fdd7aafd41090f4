"""Rule sample_sobol: 2^m scrambled, seeded Sobol candidates of the space (or a table's rows)."""

from gpunas.steps import run_step
from gpunas.steps.latency import sample_sobol

run_step(
    snakemake.log[0],
    sample_sobol,
    space=snakemake.input.space,
    m=snakemake.params.m,
    seed=snakemake.params.seed,
    evaluator=snakemake.params.evaluator,
    output=snakemake.output.samples,
)
