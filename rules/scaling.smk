# Search once, scale by latency: the hub model of the smallest budget (or a configured network)
# grown by a grid of compound-scaling coefficients, costed with its own LUT part, each grid point
# trained with the proxy; coefficients chosen by the latency-aware reward (EfficientNet-X's LACS)
# and by accuracy at equal FLOPs (EfficientNet); each rule's family joins the finalists.


rule list_scaling:
    input:
        space=get_space_path(),
        hubs=get_scaling_hubs(),
    output:
        grid="results/scaling/grid.json",
    log:
        "logs/list_scaling.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        base=lookup(dpath="scaling/base", within=config),
        grid=lookup(dpath="scaling/grid", within=config),
        points=lookup(dpath="scaling/points", within=config),
        members=lookup(dpath="scaling/members", within=config),
    script:
        "../workflow_scripts/list_scaling.py"


rule cost_scaling:
    input:
        grid="results/scaling/grid.json",
        lut=get_scaling_lut(),
        fidelity=get_fidelity(),
    output:
        costed="results/scaling/costed.json",
    log:
        "logs/cost_scaling.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        slug=SLUG,
    script:
        "../workflow_scripts/cost_scaling.py"


use rule train_model as train_scaling with:
    input:
        entries="results/scaling/costed.json",
        space=get_space_path(),
        dataset=get_prepared_dataset(),
    output:
        metrics="results/scaling/grid/{point}/metrics.json",
        weights="results/scaling/grid/{point}/weights.pt",
    log:
        "logs/train_scaling/{point}.log",
    benchmark:
        "results/benchmarks/train_scaling/{point}.tsv"
    params:
        kind="scaling",
        key="{point}",
        seed=lookup(dpath="seed", within=config),
        train=get_training_schedule(),
        attempts=get_train_attempts(),
        evaluator=TRAINING,
        fault="",


rule choose_scaling:
    input:
        costed="results/scaling/costed.json",
        metrics=get_scaling_metrics(),
        subspaces="results/subspaces/subspaces.json",
        search_benchmarks=get_search_benchmarks(),
        scaling_benchmarks=get_scaling_benchmarks(),
    output:
        scaling="results/scaling/scaling.json",
        table=report(
            "results/scaling/grid.csv",
            caption="../report/scaling_grid.rst",
            category="4. Baselines",
        ),
        plot=report(
            "results/scaling/scaling.png",
            caption="../report/scaling.rst",
            category="4. Baselines",
        ),
    log:
        "logs/choose_scaling.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        reward=lookup(dpath="scaling/reward", within=config),
    script:
        "../workflow_scripts/choose_scaling.py"
