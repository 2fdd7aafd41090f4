"""Rule propose_async_first: every chain's first trial, in one job (nothing has finished yet)."""

from gpunas.steps import run_step
from gpunas.steps.search import propose_async_first

run_step(
    snakemake.log[0],
    propose_async_first,
    space=snakemake.input.space,
    samples=snakemake.input.samples,
    subspaces=snakemake.input.subspaces,
    budget=snakemake.params.budget,
    batch=snakemake.params.batch,
    search=snakemake.params.search,
    seed=snakemake.params.seed,
    outputs=list(snakemake.output.proposals),
)
