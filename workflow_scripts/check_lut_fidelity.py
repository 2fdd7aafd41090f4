"""Rule check_lut_fidelity: the LUT sum against measured exported networks, and the correction."""

from gpunas.steps import run_step
from gpunas.steps.latency import check_lut_fidelity

run_step(
    snakemake.log[0],
    check_lut_fidelity,
    space=snakemake.input.space,
    samples=snakemake.input.samples,
    lut=snakemake.input.lut,
    networks=snakemake.params.networks,
    cfg={**snakemake.params.latency, "protocol": snakemake.params.protocol},
    slug=snakemake.wildcards.device,
    classes=snakemake.params.classes,
    seed=snakemake.params.seed,
    cache=snakemake.params.networks_cache,
    output_json=snakemake.output.report,
    output_png=snakemake.output.plot,
)
