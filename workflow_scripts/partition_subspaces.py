"""Rule partition_subspaces: latency bands of the costed samples."""

from gpunas.steps import run_step
from gpunas.steps.latency import partition_subspaces

run_step(
    snakemake.log[0],
    partition_subspaces,
    samples=snakemake.input.samples,
    subspaces=snakemake.params.subspaces,
    output_json=snakemake.output.subspaces,
    output_png=snakemake.output.plot,
)
