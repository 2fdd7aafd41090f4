"""Rule describe_space: write the space summary (fields, choices, cardinality)."""

from gpunas.workflow import describe_space, run_step

run_step(snakemake.log[0], describe_space, space=snakemake.input.space, output=snakemake.output.summary)
