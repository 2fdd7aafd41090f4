"""Rule validate_hub: measure every hub model end to end on the validation backend."""

from gpunas.steps import run_step
from gpunas.steps.validation import validate_hub

run_step(
    snakemake.log[0],
    validate_hub,
    hub_dirs=list(snakemake.input.hubs),
    lut=snakemake.input.lut,
    latency=snakemake.params.latency,
    validation=snakemake.params.validation,
    slug=snakemake.params.slug,
    seed=snakemake.params.seed,
    fidelity=snakemake.input.fidelity or None,
    output_csv=snakemake.output.table,
    output_json=snakemake.output.drift,
    output_png=snakemake.output.plot,
)
