"""Rule render_report_pages: HTML pages and the BO-vs-random figure of the Snakemake report."""

from pathlib import Path

from gpunas.report_pages import render
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    render,
    summary=snakemake.input.summary,
    hub_dirs=list(snakemake.input.hubs),
    validation=snakemake.input.validation or None,
    baselines=snakemake.input.baselines or None,
    strategy_benchmark=snakemake.params.strategy_benchmark or None,
    outdir=Path(snakemake.output.space).parent,
)
