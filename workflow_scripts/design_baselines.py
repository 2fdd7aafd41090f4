"""Rule design_baselines: cost every baseline variant, pick one per family and sub-space."""

from gpunas.baselines import design
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    design,
    space=snakemake.input.space,
    lut=snakemake.input.lut,
    fidelity=snakemake.input.fidelity,
    subspaces=snakemake.input.subspaces,
    cfg=snakemake.params.baselines,
    slug=snakemake.params.slug,
    output=snakemake.output.baselines,
)
