"""Rule merge_lut: cached entries + new shards -> the LUT of the keys this run needs."""

from gpunas.latency.steps import merge_lut
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    merge_lut,
    keys=snakemake.input.needed,
    shards=list(snakemake.input.shards),
    cache=snakemake.params.cache,
    slug=snakemake.wildcards.device,
    output=snakemake.output.lut,
)
