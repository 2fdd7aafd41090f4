"""Rule summarize_search: Pareto front, hub summary and the search plots."""

from pathlib import Path

from gpunas.steps import run_step
from gpunas.steps.hub import summarize_search

run_step(
    snakemake.log[0],
    summarize_search,
    histories=list(snakemake.input.histories),
    cards=[str(Path(d) / "card.json") for d in snakemake.input.hubs],
    subspaces=snakemake.input.subspaces,
    out_json=snakemake.output.hub,
    out_pareto=snakemake.output.pareto,
    out_scatter=snakemake.output.scatter,
    out_progress=snakemake.output.progress,
)
