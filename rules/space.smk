rule describe_space:
    input:
        space=get_space_path(),
    output:
        summary="results/space/summary.json",
    log:
        "logs/describe_space.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    script:
        "../workflow_scripts/describe_space.py"
