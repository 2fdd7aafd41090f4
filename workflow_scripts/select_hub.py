"""Rule select_hub: the best in-budget candidate of one sub-space, with card, weights and ONNX."""

from gpunas.hub import select_hub
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    select_hub,
    history=snakemake.input.history,
    subspaces=snakemake.input.subspaces,
    subspace=snakemake.wildcards.subspace,
    train=snakemake.params.train,
    data=snakemake.params.data,
    seed=snakemake.params.seed,
    evaluator=snakemake.params.evaluator,
    outdir=snakemake.output.hub,
)
