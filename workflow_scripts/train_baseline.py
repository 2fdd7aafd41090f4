"""Rule train_baseline: train one picked baseline with the search's proxy."""

from gpunas.steps import run_step
from gpunas.steps.baselines import train_baseline

run_step(
    snakemake.log[0],
    train_baseline,
    baselines=snakemake.input.baselines,
    family=snakemake.wildcards.family,
    subspace=snakemake.wildcards.subspace,
    dataset=snakemake.input.dataset or None,
    train=snakemake.params.train,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
    attempt=snakemake.resources.attempt,
    workers=snakemake.resources.loader_workers,
    attempts=snakemake.params.attempts,
    output=snakemake.output.metrics,
    weights=snakemake.output.weights,
    mem_mb=snakemake.resources.mem_mb,
    runtime=snakemake.resources.runtime,
)
