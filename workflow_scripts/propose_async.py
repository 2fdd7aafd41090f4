"""Rule propose_async: the next trial of one chain, in the band with the most work left."""

from gpunas.steps import run_step
from gpunas.steps.search import propose_async

run_step(
    snakemake.log[0],
    propose_async,
    space=snakemake.input.space,
    samples=snakemake.input.samples,
    subspaces=snakemake.input.subspaces,
    chain=int(snakemake.wildcards.chain),
    trial=int(snakemake.wildcards.trial),
    budget=snakemake.params.budget,
    batch=snakemake.params.batch,
    search=snakemake.params.search,
    seed=snakemake.params.seed,
    output=snakemake.output.proposal,
)
