"""Rule select_hub: the best in-budget candidate of one tier, with card, weights and ONNX."""

from gpunas.steps import run_step
from gpunas.steps.hub import select_hub

run_step(
    snakemake.log[0],
    select_hub,
    histories=list(snakemake.input.histories),
    subspaces=snakemake.input.subspaces,
    subspace=snakemake.wildcards.subspace,
    weights=list(snakemake.input.weights),
    train=snakemake.params.train,
    dataset=snakemake.input.dataset or None,
    seed=snakemake.params.seed,
    evaluator=snakemake.params.evaluator,
    outdir=snakemake.output.hub,
)
