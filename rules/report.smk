# Pages and figures of `snakemake --report results/report.html` that are not already plots of
# their own stage: search-space summary, hub cards, validation and baseline tables, recorded
# benchmarks (search strategies, proxy validity).


rule render_report_pages:
    input:
        summary="results/space/summary.json",
        hubs=get_hub_dirs(),
        validation=get_validation_table(),
        baselines=get_baselines_table(),
    output:
        space=report(
            "results/report/space.html",
            caption="../report/space.rst",
            category="1. Search space",
        ),
        hub=report(
            "results/report/hub_cards.html",
            caption="../report/hub_cards.rst",
            category="6. Model hub",
        ),
        validation=report(
            "results/report/validation.html",
            caption="../report/validation.rst",
            category="5. Validation",
        ),
        baselines=report(
            "results/report/baselines.html",
            caption="../report/baselines.rst",
            category="4. Baselines",
        ),
        strategies=report(
            "results/report/search_strategies.png",
            caption="../report/search_strategies.rst",
            category="3. Search",
        ),
        proxy=report(
            "results/report/proxy_validity.png",
            caption="../report/proxy_validity.rst",
            category="2. Latency phase",
        ),
    log:
        "logs/render_report_pages.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        strategy_benchmark=lookup(dpath="report/strategy_benchmark", within=config),
        proxy_validity=lookup(dpath="report/proxy_validity", within=config),
    script:
        "../workflow_scripts/render_report_pages.py"
