"""Rule enumerate_layers: the distinct layer keys needed, and those not yet in the LUT cache."""

from gpunas.steps import run_step
from gpunas.steps.latency import enumerate_layers

run_step(
    snakemake.log[0],
    enumerate_layers,
    space=snakemake.input.space,
    samples=snakemake.input.samples or None,
    extra_archs=snakemake.input.extra_archs or None,
    keys=snakemake.params.mode,
    conditions=snakemake.params.conditions,
    classes=snakemake.params.classes,
    reuse=snakemake.params.reuse,
    slug=snakemake.wildcards.device,
    cache=snakemake.params.cache,
    output_keys=snakemake.output.needed,
    output_todo=snakemake.output.todo,
)
