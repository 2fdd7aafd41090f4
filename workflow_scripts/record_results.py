"""Rule record_results: append one round's trials to the history."""

from gpunas.steps import run_step
from gpunas.steps.search import record_results

run_step(
    snakemake.log[0],
    record_results,
    proposals=snakemake.input.proposals,
    metrics=list(snakemake.input.metrics),
    history=snakemake.input.history or None,
    output=snakemake.output.history,
)
