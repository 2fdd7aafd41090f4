# Hand-designed baselines: families scaled across the latency range, costed with the same LUT,
# the largest variant inside each budget trained with the same proxy, compared with the search.


rule list_baselines:
    input:
        space=get_space_path(),
    output:
        variants="results/baselines/variants.json",
    log:
        "logs/list_baselines.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        families=lookup(dpath="baselines/families", within=config),
        phis=lookup(dpath="baselines/phis", within=config),
    script:
        "../workflow_scripts/list_baselines.py"


rule design_baselines:
    input:
        variants="results/baselines/variants.json",
        lut=get_baselines_lut(),
        fidelity=get_fidelity(),
        subspaces="results/subspaces/subspaces.json",
    output:
        baselines="results/baselines/baselines.json",
    log:
        "logs/design_baselines.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        slug=SLUG,
    script:
        "../workflow_scripts/design_baselines.py"


use rule train_model as train_baseline with:
    input:
        entries="results/baselines/baselines.json",
        space=get_space_path(),
        dataset=get_prepared_dataset(),
    output:
        metrics="results/baselines/{family}/{subspace}/metrics.json",
        weights="results/baselines/{family}/{subspace}/weights.pt",
    log:
        "logs/train_baseline/{family}/{subspace}.log",
    benchmark:
        "results/benchmarks/train_baseline/{family}/{subspace}.tsv"
    params:
        kind="baseline",
        key="{family}/{subspace}",
        seed=lookup(dpath="seed", within=config),
        train=get_training_schedule(),
        attempts=get_train_attempts(),
        evaluator=TRAINING,
        fault="",


rule compare_baselines:
    input:
        baselines="results/baselines/baselines.json",
        metrics=get_baseline_metrics(),
        histories=get_final_histories(),
        hubs=get_hub_dirs(),
    output:
        table="results/baselines/comparison.csv",
        markdown="results/baselines/comparison.md",
        pareto=report(
            "results/baselines/pareto.png",
            caption="../report/pareto_baselines.rst",
            category="4. Baselines",
        ),
    log:
        "logs/compare_baselines.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    script:
        "../workflow_scripts/compare_baselines.py"
