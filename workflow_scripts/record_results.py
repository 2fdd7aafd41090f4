"""Rule record_results: append one round's trials to the sub-space's history."""

from gpunas.search.steps import record_results
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    record_results,
    proposals=snakemake.input.proposals,
    metrics=list(snakemake.input.metrics),
    history=snakemake.input.history or None,
    output=snakemake.output.history,
)
