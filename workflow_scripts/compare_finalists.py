"""Rule compare_finalists: per budget, the hub model against the best baseline, with intervals."""

from gpunas.steps import run_step
from gpunas.steps.final import compare_finalists

run_step(
    snakemake.log[0],
    compare_finalists,
    finalists=snakemake.input.finalists,
    metrics=list(snakemake.input.metrics),
    seeds=snakemake.params.seeds,
    final_train=snakemake.params.final_train,
    output_csv=snakemake.output.table,
    output_md=snakemake.output.markdown,
    output_png=snakemake.output.plot,
)
