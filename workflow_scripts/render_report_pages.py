"""Rule render_report_pages: HTML pages and the recorded benchmarks' figures of the Snakemake report."""

from pathlib import Path

from gpunas.steps import run_step
from gpunas.steps.report import render_report_pages

run_step(
    snakemake.log[0],
    render_report_pages,
    summary=snakemake.input.summary,
    hub_dirs=list(snakemake.input.hubs),
    validation=snakemake.input.validation or None,
    baselines=snakemake.input.baselines or None,
    strategy_benchmark=snakemake.params.strategy_benchmark or None,
    proxy_validity=snakemake.params.proxy_validity or None,
    outdir=Path(snakemake.output.space).parent,
)
