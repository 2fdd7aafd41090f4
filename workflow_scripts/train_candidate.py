"""Rule train_candidate: train one proposed candidate (in a child process) and write metrics."""

from gpunas.search.steps import train_candidate_job
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    train_candidate_job,
    space=snakemake.input.space,
    proposals=snakemake.input.proposals,
    slot=int(snakemake.wildcards.slot),
    data=snakemake.params.data,
    train=snakemake.params.train,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
    attempts=snakemake.params.attempts,
    evaluator=snakemake.params.evaluator,
    output=snakemake.output.metrics,
    mem_mb=snakemake.resources.mem_mb,
)
