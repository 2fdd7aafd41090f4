# gpunas: hardware-aware NAS in the manner of NVIDIA GPUNet, as one Snakemake DAG.
#
# Paths: results/<stage>/..., logs/<rule>/<wildcards>.log, benchmarks/<rule>/<wildcards>.tsv
#   results/space/summary.json          fields, choices and cardinality of the configured space
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/space.smk"
include: "rules/latency.smk"
include: "rules/data.smk"
include: "rules/search.smk"
include: "rules/hub.smk"
include: "rules/baselines.smk"
include: "rules/final.smk"
include: "rules/validation.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
