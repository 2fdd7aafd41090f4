"""Rule check_dataset: the training data exists, has >= 2 classes and decodes."""

from gpunas.steps import run_step
from gpunas.steps.data import check_dataset

run_step(
    snakemake.log[0],
    check_dataset,
    source=snakemake.params.data["source"],
    image_size=snakemake.params.data["image_size"],
    per_class=snakemake.params.per_class,
    output=snakemake.output.dataset,
)
