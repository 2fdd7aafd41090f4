"""Rule train_finalist: one finalist, one seed, the reference schedule, scored on the test split."""

from gpunas.steps import run_step
from gpunas.steps.final import train_finalist

run_step(
    snakemake.log[0],
    train_finalist,
    finalists=snakemake.input.finalists,
    slot=snakemake.wildcards.finalist,
    seed=int(snakemake.wildcards.seed),
    dataset=snakemake.input.dataset,
    train=snakemake.params.train,
    final_train=snakemake.params.final_train,
    threads=snakemake.threads,
    attempt=snakemake.resources.attempt,
    workers=snakemake.resources.loader_workers,
    attempts=snakemake.params.attempts,
    output=snakemake.output.metrics,
    weights=snakemake.output.weights,
    mem_mb=snakemake.resources.mem_mb,
    runtime=snakemake.resources.runtime,
)
