"""Rule check_dataset: the training data exists and has the config's number of classes."""

from gpunas.steps import run_step
from gpunas.steps.data import check_dataset

run_step(
    snakemake.log[0],
    check_dataset,
    source=snakemake.params.source,
    classes=snakemake.params.classes,
    max_image_pixels=snakemake.params.max_image_pixels,
    output=snakemake.output.check,
)
