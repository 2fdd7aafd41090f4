"""Rule describe_space: fields, choices and cardinality of the configured space."""

from gpunas.steps import run_step
from gpunas.steps.space import describe_space

run_step(snakemake.log[0], describe_space, space=snakemake.input.space, output=snakemake.output.summary)
