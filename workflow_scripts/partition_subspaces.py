"""Rule partition_subspaces: cut the samples into latency sub-spaces."""

from gpunas.latency.steps import partition_subspaces
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    partition_subspaces,
    samples=snakemake.input.samples,
    subspaces=snakemake.params.subspaces,
    output_json=snakemake.output.subspaces,
    output_png=snakemake.output.plot,
)
