"""Rule train_candidate: score one proposed candidate (a training job, or a lookup)."""

from gpunas.steps import run_step
from gpunas.steps.search import train_candidate

run_step(
    snakemake.log[0],
    train_candidate,
    space=snakemake.input.space,
    proposals=snakemake.input.proposals,
    slot=int(snakemake.wildcards.slot),
    dataset=snakemake.input.dataset or None,
    train=snakemake.params.train,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
    attempt=snakemake.resources.attempt,
    workers=snakemake.resources.loader_workers,
    attempts=snakemake.params.attempts,
    evaluator=snakemake.params.evaluator,
    output=snakemake.output.metrics,
    weights=snakemake.output.weights,
    mem_mb=snakemake.resources.mem_mb,
    runtime=snakemake.resources.runtime,
)
