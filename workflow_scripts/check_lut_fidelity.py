"""Rule check_lut_fidelity: LUT sum vs measured whole networks, and the fitted correction."""

from gpunas.steps import run_step
from gpunas.steps.latency import check_lut_fidelity

run_step(
    snakemake.log[0],
    check_lut_fidelity,
    space=snakemake.input.space,
    samples=snakemake.input.samples,
    lut=snakemake.input.lut,
    subspaces=snakemake.params.subspaces,
    per_subspace=snakemake.params.per_subspace,
    cfg={**snakemake.params.latency, "threads": snakemake.threads, "protocol": snakemake.params.protocol},
    slug=snakemake.wildcards.device,
    classes=snakemake.params.classes,
    seed=snakemake.params.seed,
    output_json=snakemake.output.report,
    output_png=snakemake.output.plot,
)
