"""Rule summarize_search: hub index, Pareto front and search plots."""

from pathlib import Path

from gpunas.hub import summarize_search
from gpunas.workflow import run_step

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
