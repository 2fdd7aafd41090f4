"""Rule compare_baselines: per budget, best searched vs best baseline; Pareto plot of all families."""

from gpunas.baselines import compare
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    compare,
    baselines=snakemake.input.baselines,
    metrics=list(snakemake.input.metrics),
    histories=list(snakemake.input.histories),
    hub_cards=[f"{h}/card.json" for h in snakemake.input.hubs],
    output_csv=snakemake.output.table,
    output_md=snakemake.output.markdown,
    output_png=snakemake.output.pareto,
)
