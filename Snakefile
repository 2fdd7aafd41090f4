# gpunas: hardware-aware NAS in the manner of NVIDIA GPUNet, as one Snakemake DAG.
#
# Paths: results/<stage>/..., logs/<rule>/<wildcards>.log, benchmarks/<rule>/<wildcards>.tsv
#   results/space/summary.json          fields, choices and cardinality of the configured space
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/space.smk"
include: "rules/latency.smk"
include: "rules/search.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
