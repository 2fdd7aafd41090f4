"""Rule propose_async: the next trial of one chain of one band, from every trial finished now."""

from gpunas.steps import run_step
from gpunas.steps.search import propose_async

run_step(
    snakemake.log[0],
    propose_async,
    space=snakemake.input.space,
    samples=snakemake.input.samples,
    subspaces=snakemake.input.subspaces,
    subspace=snakemake.wildcards.subspace,
    chain=int(snakemake.wildcards.chain),
    trial=int(snakemake.wildcards.trial),
    batch=snakemake.params.batch,
    search=snakemake.params.search,
    seed=snakemake.params.seed,
    output=snakemake.output.proposal,
)
