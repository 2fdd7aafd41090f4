# Final evaluation: the hub models and the baselines inside each budget retrained with the
# reference schedule and several seeds, scored on the held-out test split, compared with intervals.
# select_finalists is a checkpoint: the finalist trainings are planned from what it chose, one per
# distinct network and seed (a network under several slots is trained once), none for empty slots.


checkpoint select_finalists:
    input:
        hubs=get_hub_dirs(),
        baselines=get_baselines_design(),
        scaling=get_scaling_design(),
        subspaces="results/subspaces/subspaces.json",
    output:
        finalists="results/final/finalists.json",
    log:
        "logs/select_finalists.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        per_family=lookup(dpath="final/variants_per_family", within=config),
    script:
        "../workflow_scripts/select_finalists.py"


use rule train_model as train_finalist with:
    input:
        entries="results/final/finalists.json",
        space=get_space_path(),
        dataset=get_prepared_dataset(),
    output:
        metrics="results/final/networks/{network}/seed{seed}/metrics.json",
        weights="results/final/networks/{network}/seed{seed}/weights.pt",
    log:
        "logs/train_finalist/{network}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_finalist/{network}/seed{seed}.tsv"
    params:
        kind="finalist",
        key="{network}",
        seed="{seed}",
        train=get_finalist_schedule(),
        attempts=get_train_attempts(),
        evaluator=TRAINING,
        fault="",


rule compare_finalists:
    input:
        finalists="results/final/finalists.json",
        metrics=get_finalist_metrics,
    output:
        table=report(
            "results/final/comparison.csv",
            caption="../report/final_table.rst",
            category="4. Baselines",
        ),
        markdown="results/final/comparison.md",
        plot=report(
            "results/final/comparison.png",
            caption="../report/final.rst",
            category="4. Baselines",
        ),
    log:
        "logs/compare_finalists.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        seeds=lookup(dpath="final/seeds", within=config),
        final_train=lookup(dpath="final/train", within=config),
    script:
        "../workflow_scripts/compare_finalists.py"
