"""Rules train_candidate, train_baseline, train_finalist (use rule train_model): one training job."""

from gpunas.steps import run_step
from gpunas.steps.training import train_model

run_step(
    snakemake.log[0],
    train_model,
    kind=snakemake.params.kind,
    entries=snakemake.input.entries,
    key=snakemake.params.key,
    space=snakemake.input.space,
    dataset=snakemake.input.dataset or None,
    train=snakemake.params.train,
    seed=int(snakemake.params.seed),
    threads=snakemake.threads,
    attempt=snakemake.resources.attempt,
    attempts=snakemake.params.attempts,
    evaluator=snakemake.params.evaluator,
    output=snakemake.output.metrics,
    weights=snakemake.output.weights,
    mem_mb=snakemake.resources.mem_mb,
    runtime=snakemake.resources.runtime,
    workers=snakemake.resources.loader_workers,
    checkpoint_s=snakemake.resources.checkpoint_s,
    gpus=snakemake.resources.gpu,
    fault=snakemake.params.fault,
)
