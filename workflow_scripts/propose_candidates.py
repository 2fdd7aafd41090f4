"""Rule propose_candidates: B proposals for one round of one sub-space."""

from gpunas.steps import run_step
from gpunas.steps.search import propose_candidates

run_step(
    snakemake.log[0],
    propose_candidates,
    space=snakemake.input.space,
    samples=snakemake.input.samples,
    subspaces=snakemake.input.subspaces,
    subspace=snakemake.wildcards.subspace,
    round_=int(snakemake.wildcards.round),
    histories=list(snakemake.input.histories),
    batch=snakemake.params.batch,
    search=snakemake.params.search,
    seed=snakemake.params.seed,
    output=snakemake.output.proposals,
)
