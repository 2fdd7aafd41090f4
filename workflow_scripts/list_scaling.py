"""Rule list_scaling: the base network's compound-scaling grid and every point's family."""

from gpunas.steps import run_step
from gpunas.steps.scaling import list_scaling

run_step(
    snakemake.log[0],
    list_scaling,
    space=snakemake.input.space,
    hubs=list(snakemake.input.hubs),
    base=snakemake.params.base,
    grid=snakemake.params.grid,
    points=snakemake.params.points,
    members=snakemake.params.members,
    output=snakemake.output.grid,
)
