"""Rule compare_baselines: the search against the baselines, per budget."""

from gpunas.steps import run_step
from gpunas.steps.baselines import compare_baselines

run_step(
    snakemake.log[0],
    compare_baselines,
    baselines=snakemake.input.baselines,
    metrics=list(snakemake.input.metrics),
    histories=list(snakemake.input.histories),
    hubs=list(snakemake.input.hubs),
    output_csv=snakemake.output.table,
    output_md=snakemake.output.markdown,
    output_png=snakemake.output.pareto,
)
