# Config validation first, then helpers (get_*, is_*). No rules here.
from gpunas.baselines import families_for
from gpunas.io import check_writable_dir
from gpunas.latency.partition import check_spec, subspace_ids
from gpunas.latency.steps import resolve_slug
from gpunas.space import load_space
from snakemake.utils import validate

validate(config, "../config/schema.yaml")
check_spec(config["subspaces"])
check_writable_dir("results")
# The dataset is checked by the check_dataset job before any training (not here, since a dry-run of a
# real-scale config must work on a machine without the data).

SPACE = load_space(config["space"])
# evaluator: table looks accuracy and latency up in a CSV (no profiling, no training).
IS_TABLE = config["evaluator"]["type"] == "table"
# The LUT path names the device: backend + hardware + precision + batch.
SLUG = "table" if IS_TABLE else resolve_slug(config["latency"])
SUBSPACES = subspace_ids(config["subspaces"])
# Baselines need a LUT and training: off in table mode.
BASELINES = config["baselines"]["enabled"] and not IS_TABLE
FAMILIES = (
    [f.name for f in families_for(SPACE, config["baselines"]["families"])]
    if BASELINES
    else []
)


wildcard_constraints:
    device=r"[a-z0-9][a-z0-9\-]*",
    family=r"[a-z0-9_]+",
    shard=r"\d{3}",
    subspace=r"s\d+",
    round=r"\d{2}",
    slot=r"\d{2}",


def get_space_path():
    """The space YAML the run uses (a name resolves to config/spaces/<name>.yaml)."""
    return SPACE.source


def get_lut():
    return [] if IS_TABLE else f"results/lut/{SLUG}/lut.parquet"


def get_fidelity():
    return [] if IS_TABLE else f"results/lut/{SLUG}/fidelity.json"


def get_lut_cache(wildcards):
    """Every key ever profiled for this device; read by enumerate_layers, grown by merge_lut."""
    return f"results/lut/{wildcards.device}/cache.parquet"


def get_lut_shards(wildcards):
    n = config["latency"]["shards"]
    return [f"results/lut/{wildcards.device}/shards/{i:03d}.parquet" for i in range(n)]


def get_profile_threads(wildcards):
    return config["latency"]["threads"]


def get_latency_gpus():
    """Profiling on a GPU backend asks the scheduler for one GPU."""
    return 0 if config["latency"]["device"] == "cpu" else 1


def get_mem_mb(base):
    """Memory request that grows with each retry (attempt 1, 2, ...)."""

    def mem_mb(wildcards, attempt):
        return base * attempt

    return mem_mb


def get_runtime(minutes):
    """Runtime request in minutes that grows with each retry."""

    def runtime(wildcards, attempt):
        return minutes * attempt

    return runtime


def get_train_threads(wildcards):
    return config["train"]["threads"]


def get_train_retries():
    """Retries of a training job, done by the driver only.

    Inside a cluster job (remote mode) a retry would rerun in the same allocation, without the
    larger mem_mb and runtime of the next attempt (snakemake-executor-plugin-slurm issue #284:
    the rule's retries override the --retries 0 the plugin passes), so it is 0 there.
    """
    return 0 if workflow.remote_exec else config["train"]["retries"]


def get_train_attempts():
    """How many times a training job may run (Snakemake retries it after a crash)."""
    return config["train"]["retries"] + 1


ROUNDS = config["search"]["rounds"]
BATCH = config["search"]["batch"]


def get_previous_history(wildcards):
    """The history up to the previous round ([] for round 0)."""
    r = int(wildcards.round)
    return (
        []
        if r == 0
        else f"results/search/{wildcards.subspace}/history_r{r - 1:02d}.parquet"
    )


def get_round_metrics(wildcards):
    return [
        f"results/search/{wildcards.subspace}/r{wildcards.round}/s{slot:02d}/metrics.json"
        for slot in range(BATCH)
    ]


def get_final_history(wildcards):
    return f"results/search/{wildcards.subspace}/history_r{ROUNDS - 1:02d}.parquet"


def get_final_histories():
    return [f"results/search/{s}/history_r{ROUNDS - 1:02d}.parquet" for s in SUBSPACES]


def get_hub_dirs():
    return [f"results/hub/{s}" for s in SUBSPACES]


def get_baselines_config():
    """Baseline families whose layer keys join the LUT (none in table mode)."""
    return config["baselines"] if BASELINES else {"enabled": False}


def get_baseline_metrics():
    return [
        f"results/baselines/{family}/{s}/metrics.json"
        for family in FAMILIES
        for s in SUBSPACES
    ]


def get_dataset_check():
    """Training jobs wait for rule check_dataset (table mode trains nothing)."""
    return [] if IS_TABLE else "results/data/dataset.json"


def get_validation_table():
    return [] if IS_TABLE else "results/validation/validation.csv"


def get_baselines_table():
    return "results/baselines/comparison.csv" if BASELINES else []


def get_final_outputs():
    """Everything `rule all` builds."""
    return [
        "results/space/summary.json",
        "results/subspaces/subspaces.json",
        *([] if IS_TABLE else [get_fidelity()]),
        "results/hub/hub.json",
        *([] if IS_TABLE else ["results/validation/validation.csv"]),
        *(["results/baselines/comparison.csv"] if BASELINES else []),
        "results/report/space.html",
    ]
