"""Rule record_async_results: a band's history of its asynchronous trials."""

from gpunas.steps import run_step
from gpunas.steps.search import record_async_results

run_step(
    snakemake.log[0],
    record_async_results,
    proposals=list(snakemake.input.proposals),
    metrics=list(snakemake.input.metrics),
    subspace=snakemake.wildcards.subspace,
    output=snakemake.output.history,
)
