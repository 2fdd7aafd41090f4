# The model hub: the best in-budget model of each latency tier, with card, weights and ONNX,
# and the search summarised (Pareto front, plots).


rule select_hub:
    input:
        histories=get_final_histories(),
        subspaces="results/subspaces/subspaces.json",
        weights=get_all_weights(),
        dataset=get_prepared_dataset(),
    output:
        hub=directory("results/hub/{subspace}"),
    log:
        "logs/select_hub/{subspace}.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        train=get_training_schedule(),
        seed=lookup(dpath="seed", within=config),
        evaluator=lookup(dpath="evaluator", within=config),
    script:
        "../workflow_scripts/select_hub.py"


rule summarize_search:
    input:
        histories=get_final_histories(),
        hubs=get_hub_dirs(),
        subspaces="results/subspaces/subspaces.json",
    output:
        hub="results/hub/hub.json",
        pareto="results/hub/pareto.csv",
        scatter=report(
            "results/hub/accuracy_vs_latency.png",
            caption="../report/accuracy_vs_latency.rst",
            category="3. Search",
        ),
        progress=report(
            "results/hub/progress.png",
            caption="../report/progress.rst",
            category="3. Search",
        ),
    log:
        "logs/summarize_search.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    script:
        "../workflow_scripts/summarize_search.py"
