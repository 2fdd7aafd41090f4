"""Rule check_dataset: the training data exists, has >= 2 classes and its images decode."""

from gpunas.datasets.loader import check_dataset
from gpunas.workflow import run_step

run_step(
    snakemake.log[0],
    check_dataset,
    source=snakemake.params.data["source"],
    image_size=snakemake.params.data["image_size"],
    per_class=snakemake.params.per_class,
    output=snakemake.output.dataset,
)
