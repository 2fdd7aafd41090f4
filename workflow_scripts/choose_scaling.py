"""Rule choose_scaling: the coefficients by both rules and their families in the budgets."""

from gpunas.steps import run_step
from gpunas.steps.scaling import choose_scaling

run_step(
    snakemake.log[0],
    choose_scaling,
    costed=snakemake.input.costed,
    metrics=list(snakemake.input.metrics),
    subspaces=snakemake.input.subspaces,
    reward=snakemake.params.reward,
    output_json=snakemake.output.scaling,
    output_csv=snakemake.output.table,
    output_png=snakemake.output.plot,
    search_benchmarks=list(snakemake.input.search_benchmarks),
    scaling_benchmarks=list(snakemake.input.scaling_benchmarks),
)
