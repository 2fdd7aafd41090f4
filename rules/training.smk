# One training-job rule for searched candidates, baselines and finalists: `train_model` is the
# template (its own outputs are never requested); rules/search.smk, baselines.smk and final.smk
# `use rule train_model as ... with:` it, each naming what to train (an entries file and the
# entry's key), its paths and its seed. Resources, retries and the script are shared.


rule train_model:
    input:
        entries="results/training/{job}/entries.json",
        space=get_space_path(),
        dataset=get_prepared_dataset(),
    output:
        metrics="results/training/{job}/metrics.json",
        # empty when the entry has no model (skipped, failed, a lookup)
        weights="results/training/{job}/weights.pt",
    log:
        "logs/train_model/{job}.log",
    benchmark:
        "results/benchmarks/train_model/{job}.tsv"
    retries: get_train_retries()
    conda:
        "../envs/train.yaml"
    threads: get_train_threads
    resources:
        mem_mb=get_mem_mb(config["train"]["mem_mb"]),
        runtime=get_training_runtime,
        gpu=config["train"]["gpu"],
        attempt=get_attempt,
        # DataLoader processes and the checkpoint interval: resources, not parameters (they change
        # no result)
        loader_workers=config["train"]["workers"],
        checkpoint_s=get_checkpoint_seconds(),
    params:
        kind="candidate",
        key="{job}",
        seed=lookup(dpath="seed", within=config),
        train=get_training_schedule(),
        attempts=get_train_attempts(),
        evaluator=lookup(dpath="evaluator", within=config),
        fault="",
    script:
        "../workflow_scripts/train_model.py"
