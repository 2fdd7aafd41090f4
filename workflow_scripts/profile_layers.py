"""Rule profile_layers: measure one shard of the layer keys still to profile."""

from gpunas.steps import run_step
from gpunas.steps.latency import profile_layers

run_step(
    snakemake.log[0],
    profile_layers,
    todo=snakemake.input.todo,
    shard=int(snakemake.wildcards.shard),
    shards=int(snakemake.wildcards.shards),
    cfg=snakemake.params.latency,
    slug=snakemake.wildcards.device,
    classes=snakemake.params.classes,
    seed=snakemake.params.seed,
    cache=snakemake.params.cache,
    output=snakemake.output.shard,
)
