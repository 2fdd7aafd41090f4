"""Rule enumerate_layers: the distinct layer keys needed, and those not yet in the LUT cache."""

from gpunas.latency.steps import enumerate_layers
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    enumerate_layers,
    space=snakemake.input.space,
    samples=snakemake.input.samples,
    cfg=snakemake.params.latency,
    classes=snakemake.params.classes,
    slug=snakemake.wildcards.device,
    cache=snakemake.params.cache,
    baselines=snakemake.params.baselines,
    output_keys=snakemake.output.needed,
    output_todo=snakemake.output.todo,
)
