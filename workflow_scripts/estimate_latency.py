"""Rule estimate_latency: the predicted latency of every sample."""

from gpunas.steps import run_step
from gpunas.steps.latency import estimate_latency

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
