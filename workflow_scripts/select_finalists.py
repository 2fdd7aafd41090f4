"""Rule select_finalists: every tier's model and the baselines inside each budget, by slot."""

from gpunas.steps import run_step
from gpunas.steps.final import select_finalists

run_step(
    snakemake.log[0],
    select_finalists,
    hubs=list(snakemake.input.hubs),
    baselines=snakemake.input.baselines or None,
    subspaces=snakemake.input.subspaces,
    per_family=snakemake.params.per_family,
    scaling=snakemake.input.scaling or None,
    output=snakemake.output.finalists,
)
