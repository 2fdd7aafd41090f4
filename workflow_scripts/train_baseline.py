"""Rule train_baseline: train one picked baseline with the search's proxy and write metrics."""

from gpunas.baselines import train_job
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    train_job,
    baselines=snakemake.input.baselines,
    family=snakemake.wildcards.family,
    subspace=snakemake.wildcards.subspace,
    data=snakemake.params.data,
    train=snakemake.params.train,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
    attempts=snakemake.params.attempts,
    output=snakemake.output.metrics,
    mem_mb=snakemake.resources.mem_mb,
)
