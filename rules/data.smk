# Training data: checked once, before any training job.


rule check_dataset:
    output:
        dataset="results/data/dataset.json",
    log:
        "logs/check_dataset.log",
    priority: 100
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        data=lookup(dpath="data", within=config),
        per_class=20,
    script:
        "../workflow_scripts/check_dataset.py"
