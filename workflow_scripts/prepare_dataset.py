"""Rule prepare_dataset: decode the train / val / test splits once into uint8 arrays."""

from pathlib import Path

from gpunas.steps import run_step
from gpunas.steps.data import prepare_dataset

run_step(
    snakemake.log[0],
    prepare_dataset,
    source=snakemake.params.source,
    train_images=snakemake.params.train_images,
    val_images=snakemake.params.val_images,
    test_images=snakemake.params.test_images,
    split_seed=snakemake.params.split_seed,
    image_size=snakemake.params.image_size,
    classes=snakemake.params.classes,
    max_pixels=snakemake.params.max_image_pixels,
    workers=snakemake.threads,
    outdir=Path(snakemake.output.dataset).parent,
)
