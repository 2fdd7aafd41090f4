"""Rule cost_scaling: every scaled architecture costed with the LUT and the correction."""

from gpunas.steps import run_step
from gpunas.steps.scaling import cost_scaling

run_step(
    snakemake.log[0],
    cost_scaling,
    grid=snakemake.input.grid,
    lut=snakemake.input.lut,
    fidelity=snakemake.input.fidelity,
    slug=snakemake.params.slug,
    output=snakemake.output.costed,
)
