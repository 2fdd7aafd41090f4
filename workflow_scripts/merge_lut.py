"""Rule merge_lut: the LUT from the shards and the cache; the cache grows."""

from gpunas.steps import run_step
from gpunas.steps.latency import merge_lut

run_step(
    snakemake.log[0],
    merge_lut,
    keys=snakemake.input.needed,
    shards=list(snakemake.input.shards),
    cache=snakemake.params.cache,
    slug=snakemake.wildcards.device,
    output=snakemake.output.lut,
)
