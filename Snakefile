# gpunas: hardware-aware NAS in the manner of NVIDIA GPUNet, as one Snakemake DAG.
#
# Paths: results/<stage>/..., logs/<rule>/<wildcards>.log, results/benchmarks/<rule>/<wildcards>.tsv
#   results/space/summary.json          fields, choices and cardinality of the configured space
import os

from snakemake.utils import min_version

min_version("9.0")


# The embedded default config: the run directory's config/config.yaml (the workflow catalog's
# layout), else the workflow's own, so `snakemake -s PATH/Snakefile -d RUNDIR` runs it too.
# Relative paths in the config (recorded benchmarks, data) resolve the same way (rules/common.smk).
DEFAULT_CONFIG = "config/config.yaml"
if not os.path.exists(DEFAULT_CONFIG):
    DEFAULT_CONFIG = os.path.join(workflow.basedir, DEFAULT_CONFIG)


configfile: DEFAULT_CONFIG


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/training.smk"
include: "rules/space.smk"
include: "rules/latency.smk"
include: "rules/data.smk"
include: "rules/search.smk"
include: "rules/hub.smk"
include: "rules/baselines.smk"
include: "rules/scaling.smk"
include: "rules/final.smk"
include: "rules/validation.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
