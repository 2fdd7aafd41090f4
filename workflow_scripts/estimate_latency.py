"""Rule estimate_latency: corrected LUT-sum latency of every sample."""

from gpunas.latency.steps import estimate_latency
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    estimate_latency,
    space=snakemake.input.space,
    samples=snakemake.input.samples,
    lut=snakemake.input.lut or None,
    fidelity=snakemake.input.fidelity or None,
    evaluator=snakemake.params.evaluator,
    slug=snakemake.params.slug,
    output=snakemake.output.samples,
)
