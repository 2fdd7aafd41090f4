"""Rule design_baselines: every baseline variant costed; per family and budget a pick."""

from gpunas.steps import run_step
from gpunas.steps.baselines import design_baselines

run_step(
    snakemake.log[0],
    design_baselines,
    variants=snakemake.input.variants,
    lut=snakemake.input.lut,
    fidelity=snakemake.input.fidelity,
    subspaces=snakemake.input.subspaces,
    slug=snakemake.params.slug,
    output=snakemake.output.baselines,
)
