# Config validation first, then helpers (get_*, is_*). No rules here.
import json
import sys
from pathlib import Path

from gpunas.baselines.families import families_for
from gpunas.config import check_config, resolve_paths, schema_path
from gpunas.errors import GpunasError
from gpunas.latency.partition import subspace_ids
from gpunas.latency.settings import expected_conditions, resolve_slug
from gpunas.scaling.compound import coefficient_grid
from gpunas.scaling.stage import spread
from gpunas.search.asynchronous import trials_per_chain
from gpunas.training.trial import get_schedule
from snakemake.utils import validate

# Tests only (fault injection into given trials): not part of the config schema users see.
INJECTED = config.pop("_inject_fault", None) or {}
validate(config, schema_path())
# Relative paths naming the workflow's own files (recorded benchmarks, the shared data table)
# resolve the same with `-d RUNDIR` / `-s PATH/Snakefile` as from the workflow's directory.
resolve_paths(config, workflow.basedir)
# Budgets, a space the evaluator can score (one line otherwise), a writable results folder. The
# dataset is checked by the check_dataset job before any training (not here, since a dry-run of a
# real-scale config must work on a machine without the data).
try:
    SPACE, EVALUATOR = check_config(config)
except GpunasError as exc:  # one line, no traceback: the message names the key or file
    sys.exit(f"gpunas: error in the config: {exc}")
# What the evaluator needs: a LUT measured on the device (fidelity, validation), or training
# (data, weights, baselines). `evaluator: table` needs neither.
MEASURES = EVALUATOR.measures
TRAINS = EVALUATOR.trains
# Baselines and finalists are always trained (they exist only with evaluator: train).
TRAINING = {"type": "train"}
# The LUT path names the device: backend + hardware + precision + batch. On a cluster the driver's
# node is not the profiling node: `hardware: auto` would name the wrong device (or differ between
# jobs), so it is refused there.
if MEASURES and not workflow.local_exec and config["latency"]["hardware"] == "auto":
    sys.exit(
        "gpunas: error in the config: latency.hardware: auto detects the machine that builds the DAG, not "
        "the cluster's profiling nodes; name the device (e.g. latency.hardware: a100)"
    )
SLUG = resolve_slug(config["latency"]) if MEASURES else EVALUATOR.name
SUBSPACES = subspace_ids(config["subspaces"])
# Baselines need a LUT and training.
BASELINES = config["baselines"]["enabled"] and MEASURES and TRAINS
FAMILIES = (
    [f.name for f in families_for(SPACE, config["baselines"]["families"])]
    if BASELINES
    else []
)
# Finalists: retrained with the reference schedule on the held-out test split (needs training and
# a test split); which networks is known once select_finalists (a checkpoint) has run.
FINAL = config["final"]["enabled"] and TRAINS and config["data"]["test_images"] > 0
# Scaling (search once, scale by latency): needs a LUT and training; its grid points are known
# from the config (the same grid and spread the stage computes).
SCALING = config["scaling"]["enabled"] and MEASURES and TRAINS
SCALING_POINTS = (
    [
        f"g{i:02d}"
        for i in range(
            len(
                spread(
                    coefficient_grid(**config["scaling"]["grid"]),
                    config["scaling"]["points"],
                )
            )
        )
    ]
    if SCALING
    else []
)


wildcard_constraints:
    device=r"[a-z0-9][a-z0-9\-]*",
    part=r"search|baselines|scaling",
    network=r"n[0-9a-f]{10}",
    seed=r"\d+",
    family=r"[a-z0-9_]+",
    shard=r"\d{3}",
    shards=r"\d{3}",
    subspace=r"s\d+",
    round=r"\d{2}",
    slot=r"\d{2}",
    chain=r"\d{2}",
    trial=r"\d{3}",


def get_space_path():
    """The space YAML the run uses (a name resolves to config/spaces/ or gpunas's own spaces)."""
    return SPACE.source


def get_lut():
    """The LUT of the samples' layer keys (the search's)."""
    return f"results/lut/{SLUG}/search/lut.parquet" if MEASURES else []


def get_baselines_lut():
    """The LUT of the baseline variants' layer keys."""
    return f"results/lut/{SLUG}/baselines/lut.parquet"


def get_fidelity():
    return f"results/lut/{SLUG}/fidelity.json" if MEASURES else []


def get_lut_cache(wildcards):
    """Every key ever profiled for this device (gpunas.latency.cache owns it: read by
    enumerate_layers, grown by merge_lut; outside the DAG on purpose)."""
    return f"results/lut/{wildcards.device}/cache.parquet"


def get_part_shards(wildcards):
    """Profiling jobs of a LUT: latency.shards for the search's keys, one for the baselines'."""
    return config["latency"]["shards"] if wildcards.part == "search" else 1


def get_lut_shards(wildcards):
    """The shards of a LUT; their names carry the count, so a changed latency.shards is a new set
    of (temporary) files, not a changed parameter of finished jobs."""
    n = get_part_shards(wildcards)
    return [
        f"results/lut/{wildcards.device}/{wildcards.part}/shards/{i:03d}-of-{n:03d}.parquet"
        for i in range(n)
    ]


def get_part_samples(wildcards):
    """The search's LUT costs the Sobol samples (or the whole space)."""
    return "results/samples/sobol.parquet" if wildcards.part == "search" else []


def get_part_archs(wildcards):
    """The baselines' LUT costs the baseline variants; the scaling LUT the scaled families."""
    return {
        "baselines": "results/baselines/variants.json",
        "scaling": "results/scaling/grid.json",
    }.get(wildcards.part, [])


def get_part_keys_mode(wildcards):
    return config["latency"]["keys"] if wildcards.part == "search" else "archs"


def get_latency_settings():
    """The latency.* keys that change a measurement (not shards, keys, reuse or runtime), so that
    editing a parallelism setting re-measures nothing."""
    keep = (
        "backend",
        "device",
        "hardware",
        "precision",
        "batch",
        "threads",
        "padding",
        "protocol",
        "options",
    )
    return {k: v for k, v in config["latency"].items() if k in keep}


def get_latency_conditions():
    """The measuring conditions a LUT cache must share to be reused (gpunas.latency.settings)."""
    return expected_conditions(config["latency"], SLUG, config["classes"])


def get_timing_threads(wildcards):
    """Timing jobs take every local core, so no other job runs beside them and disturbs the
    timings (they measure with latency.threads); on a cluster they ask for latency.threads.
    """
    return workflow.cores if workflow.local_exec else config["latency"]["threads"]


def get_network_cache(wildcards):
    """Whole networks measured on the device (gpunas.latency.cache.NetworkCache owns it)."""
    return f"results/lut/{wildcards.device}/networks.parquet"


def get_fidelity_networks():
    """Networks measured over the samples' range: fidelity.per_subspace per latency budget."""
    return config["fidelity"]["per_subspace"] * len(config["subspaces"]["budgets"])


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


def get_training_runtime(wildcards, attempt):
    """Minutes of a training job x attempt: final.runtime for finalists (the reference schedule),
    train.runtime for candidates and baselines."""
    key = "final" if "network" in wildcards.keys() else "train"
    return config[key]["runtime"] * attempt


def get_checkpoint_seconds():
    """Seconds between a training's checkpoints (train.checkpoint_minutes; 0: only when told to
    stop), an integer: Snakemake keeps resources as integers."""
    return round(config["train"]["checkpoint_minutes"] * 60)


def get_attempt(wildcards, attempt):
    """Snakemake's attempt (1, 2, ...), for jobs that record a failure on their last attempt."""
    return attempt


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
# search.mode async: search.in_flight chains of trials shared by the bands (as many trials in all
# as the rounds would train), each trial proposed when its chain's previous one has finished, in
# the band with the most training work left.
ASYNC = config["search"].get("mode", "sync") == "async"
CHAINS = (
    trials_per_chain(
        ROUNDS * BATCH * len(SUBSPACES), config["search"].get("in_flight", 24)
    )
    if ASYNC
    else []
)


def async_trials():
    """(chain, trial) of every asynchronous trial."""
    return [(k, t) for k, n in enumerate(CHAINS) for t in range(n)]


def get_async_previous(wildcards):
    """The chain's previous trial ([] for its first): a chain trains one trial at a time."""
    t = int(wildcards.trial)
    return (
        f"results/search/async/k{wildcards.chain}/t{t - 1:03d}/metrics.json"
        if t
        else []
    )


def get_async_first():
    """Every chain's first proposal (one job proposes them all: nothing has finished yet)."""
    return [
        f"results/search/async/k{k:03d}/t000/proposal.json" for k in range(len(CHAINS))
    ]


def get_async_files(kind):
    """Every asynchronous trial's ``kind`` file (proposal.json, metrics.json, weights.pt)."""
    return [f"results/search/async/k{k:03d}/t{t:03d}/{kind}" for k, t in async_trials()]


def get_previous_history(wildcards):
    """The history up to the previous round ([] for round 0)."""
    r = int(wildcards.round)
    return (
        []
        if r == 0
        else f"results/search/{wildcards.subspace}/history_r{r - 1:02d}.parquet"
    )


def get_evaluator_table():
    """The CSV of evaluator: table (its rows are the candidates), else nothing."""
    return (
        config["evaluator"]["csv"] if config["evaluator"].get("type") == "table" else []
    )


def get_surrogate_histories(wildcards):
    """What the round's proposals learn from: every band's history up to the previous round
    (search.surrogate: shared), or the band's own (band); [] for round 0."""
    r = int(wildcards.round)
    if r == 0:
        return []
    bands = (
        SUBSPACES
        if config["search"].get("surrogate", "shared") == "shared"
        else [wildcards.subspace]
    )
    return [f"results/search/{s}/history_r{r - 1:02d}.parquet" for s in bands]


def get_round_metrics(wildcards):
    return [
        f"results/search/{wildcards.subspace}/r{wildcards.round}/s{slot:02d}/metrics.json"
        for slot in range(BATCH)
    ]


def get_all_weights():
    """The declared weights of every trial (a tier's hub copies its winner's, from any band)."""
    if ASYNC:
        return get_async_files("weights.pt")
    return [
        f"results/search/{s}/r{r:02d}/s{slot:02d}/weights.pt"
        for s in SUBSPACES
        for r in range(ROUNDS)
        for slot in range(BATCH)
    ]


def get_final_histories():
    if ASYNC:
        return [f"results/search/{s}/history.parquet" for s in SUBSPACES]
    return [f"results/search/{s}/history_r{ROUNDS - 1:02d}.parquet" for s in SUBSPACES]


def get_hub_dirs():
    return [f"results/hub/{s}" for s in SUBSPACES]


def get_scaling_lut():
    """The LUT of the scaled families' layer keys."""
    return f"results/lut/{SLUG}/scaling/lut.parquet"


def get_scaling_hubs():
    """The hub models, when the scaling base is the hub's smallest tier."""
    return get_hub_dirs() if config["scaling"]["base"] == "hub" else []


def get_scaling_metrics():
    return [f"results/scaling/grid/{p}/metrics.json" for p in SCALING_POINTS]


def get_search_benchmarks():
    """Every search training's benchmark file (the routes' costs)."""
    if ASYNC:
        return [
            f"results/benchmarks/train_async/k{k:03d}/t{t:03d}.tsv"
            for k, t in async_trials()
        ]
    return [
        f"results/benchmarks/train_candidate/{s}/r{r:02d}/s{slot:02d}.tsv"
        for s in SUBSPACES
        for r in range(ROUNDS)
        for slot in range(BATCH)
    ]


def get_scaling_benchmarks():
    return [f"results/benchmarks/train_scaling/{p}.tsv" for p in SCALING_POINTS]


def get_scaling_design():
    return "results/scaling/scaling.json" if SCALING else []


def get_baseline_metrics():
    return [
        f"results/baselines/{family}/{s}/metrics.json"
        for family in FAMILIES
        for s in SUBSPACES
    ]


def get_dataset_check():
    """Profiling waits for rule check_dataset (the data has the config's classes, which the
    head's layer keys depend on); nothing to check when nothing trains."""
    return "results/data/check.json" if TRAINS else []


def get_prepared_dataset():
    """What a training reads: the splits decoded once by rule prepare_dataset (none for lookups)."""
    return "results/data/prepared/dataset.json" if TRAINS else []


def get_data_workers(wildcards):
    return config["data"]["workers"]


def get_search_settings():
    """The search.* keys that change a proposal (not rounds: raising it adds rounds, it does not
    redo the earlier ones; not mode and in_flight: they choose which jobs exist)."""
    return {
        k: v
        for k, v in config["search"].items()
        if k not in ("rounds", "mode", "in_flight")
    }


def get_training_schedule():
    """The train.* keys that change a training's result (not its resources, threads or workers),
    so editing train.mem_mb or train.runtime reruns no finished training."""
    return get_schedule(config["train"])


def get_finalist_schedule():
    """The training schedule of finalists: the proxy's, with final.train's keys on top."""
    return {**get_training_schedule(), **config["final"]["train"]}


def get_injected_fault(wildcards):
    """Tests only: the failure `_inject_fault` (popped from the config before it is validated:
    not a user setting) injects into this trial, '' for none."""
    return INJECTED.get(
        f"{wildcards.subspace}/{int(wildcards.round)}/{int(wildcards.slot)}", ""
    )


def get_baselines_design():
    return "results/baselines/baselines.json" if BASELINES else []


def get_finalist_metrics(wildcards):
    """Every finalist training: each distinct network select_finalists chose, x final.seeds."""
    chosen = checkpoints.select_finalists.get().output.finalists
    doc = json.loads(Path(chosen).read_text())
    return [
        f"results/final/networks/{net}/seed{k}/metrics.json"
        for net in doc["networks"]
        for k in range(config["final"]["seeds"])
    ]


def get_validation_table():
    """Hub models are measured end to end when they exist (training) on a measured device."""
    return "results/validation/validation.csv" if MEASURES and TRAINS else []


def get_baselines_table():
    return "results/baselines/comparison.csv" if BASELINES else []


def get_final_outputs():
    """Everything `rule all` builds."""
    return [
        "results/space/summary.json",
        "results/subspaces/subspaces.json",
        *([get_fidelity()] if MEASURES else []),
        "results/hub/hub.json",
        *([get_validation_table()] if MEASURES and TRAINS else []),
        *([get_baselines_table()] if BASELINES else []),
        *([get_scaling_design()] if SCALING else []),
        *(["results/final/comparison.csv"] if FINAL else []),
        "results/report/space.html",
    ]
