"""The rules of the report (rules/report.smk), one function each, under the rule's name."""

from __future__ import annotations

from pathlib import Path

from gpunas.report.pages import render


def render_report_pages(
    summary: str,
    hub_dirs: list[str],
    validation: str | None,
    baselines: str | None,
    strategy_benchmark: str | None,
    outdir: str | Path,
    proxy_validity: str | None = None,
) -> None:
    """The HTML pages and figures of ``snakemake --report`` that are not plots of their own stage."""
    render(summary, hub_dirs, validation, baselines, strategy_benchmark, proxy_validity, outdir)
