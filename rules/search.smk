# Accuracy phase: per sub-space, R rounds of B proposals; every candidate is its own training
# job (or a lookup); the history grows one round at a time.


rule propose_candidates:
    input:
        space=get_space_path(),
        samples="results/samples/samples.parquet",
        subspaces="results/subspaces/subspaces.json",
        histories=get_surrogate_histories,
    output:
        proposals="results/search/{subspace}/r{round}/proposals.json",
    log:
        "logs/propose_candidates/{subspace}/r{round}.log",
    benchmark:
        "results/benchmarks/propose_candidates/{subspace}/r{round}.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        batch=lookup(dpath="search/batch", within=config),
        search=get_search_settings(),
        seed=lookup(dpath="seed", within=config),
    script:
        "../workflow_scripts/propose_candidates.py"


use rule train_model as train_candidate with:
    input:
        entries="results/search/{subspace}/r{round}/proposals.json",
        space=get_space_path(),
        dataset=get_prepared_dataset(),
    output:
        metrics="results/search/{subspace}/r{round}/s{slot}/metrics.json",
        # empty when the trial has no model (failed, skipped, a lookup); select_hub copies the winner's
        weights="results/search/{subspace}/r{round}/s{slot}/weights.pt",
    log:
        "logs/train_candidate/{subspace}/r{round}/s{slot}.log",
    benchmark:
        "results/benchmarks/train_candidate/{subspace}/r{round}/s{slot}.tsv"
    params:
        kind="candidate",
        key="{slot}",
        seed=lookup(dpath="seed", within=config),
        train=get_training_schedule(),
        attempts=get_train_attempts(),
        evaluator=lookup(dpath="evaluator", within=config),
        fault=get_injected_fault,


rule record_results:
    input:
        proposals="results/search/{subspace}/r{round}/proposals.json",
        metrics=get_round_metrics,
        history=get_previous_history,
    output:
        history="results/search/{subspace}/history_r{round}.parquet",
    log:
        "logs/record_results/{subspace}/r{round}.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    script:
        "../workflow_scripts/record_results.py"


# search.mode async: no round; search.in_flight chains, shared by the bands, propose and train one
# trial at a time, each proposal choosing its band (the most training work left) and reading every
# trial finished at that moment (see gpunas.search.asynchronous); every chain's first trial is
# proposed by one job (nothing has finished then; one process instead of in_flight); a band's
# history is written once every chain is done.


rule propose_async_first:
    input:
        space=get_space_path(),
        samples="results/samples/samples.parquet",
        subspaces="results/subspaces/subspaces.json",
    output:
        proposals=get_async_first(),
    log:
        "logs/propose_async_first.log",
    benchmark:
        "results/benchmarks/propose_async_first.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        budget=ROUNDS * BATCH,
        batch=lookup(dpath="search/batch", within=config),
        search=get_search_settings(),
        seed=lookup(dpath="seed", within=config),
    script:
        "../workflow_scripts/propose_async_first.py"


rule propose_async:
    input:
        space=get_space_path(),
        samples="results/samples/samples.parquet",
        subspaces="results/subspaces/subspaces.json",
        previous=get_async_previous,
    output:
        proposal="results/search/async/k{chain}/t{trial}/proposal.json",
    log:
        "logs/propose_async/k{chain}/t{trial}.log",
    benchmark:
        "results/benchmarks/propose_async/k{chain}/t{trial}.tsv"
    wildcard_constraints:
        chain=r"\d+",
        # trial 0 of every chain: propose_async_first
        trial=r"\d*[1-9]\d*",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        budget=ROUNDS * BATCH,
        batch=lookup(dpath="search/batch", within=config),
        search=get_search_settings(),
        seed=lookup(dpath="seed", within=config),
    script:
        "../workflow_scripts/propose_async.py"


use rule train_model as train_async with:
    input:
        entries="results/search/async/k{chain}/t{trial}/proposal.json",
        space=get_space_path(),
        dataset=get_prepared_dataset(),
    output:
        metrics="results/search/async/k{chain}/t{trial}/metrics.json",
        weights="results/search/async/k{chain}/t{trial}/weights.pt",
    log:
        "logs/train_async/k{chain}/t{trial}.log",
    benchmark:
        "results/benchmarks/train_async/k{chain}/t{trial}.tsv"
    wildcard_constraints:
        chain=r"\d+",
        trial=r"\d+",
    params:
        kind="async",
        key="0",
        seed=lookup(dpath="seed", within=config),
        train=get_training_schedule(),
        attempts=get_train_attempts(),
        evaluator=lookup(dpath="evaluator", within=config),
        fault="",


rule record_async_results:
    input:
        proposals=get_async_files("proposal.json"),
        metrics=get_async_files("metrics.json"),
    output:
        history="results/search/{subspace}/history.parquet",
    log:
        "logs/record_async_results/{subspace}.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    script:
        "../workflow_scripts/record_async_results.py"
