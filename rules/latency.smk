# Latency phase: Sobol samples -> layer keys -> profiled LUT (sharded) -> fidelity/correction
# -> predicted latency per sample -> latency sub-spaces.


rule sample_sobol:
    input:
        space=get_space_path(),
    output:
        samples="results/samples/sobol.parquet",
    log:
        "logs/sample_sobol.log",
    benchmark:
        "results/benchmarks/sample_sobol.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        m=lookup(dpath="sampling/m", within=config),
        seed=lookup(dpath="seed", within=config),
    script:
        "../workflow_scripts/sample_sobol.py"


rule enumerate_layers:
    input:
        space=get_space_path(),
        samples="results/samples/sobol.parquet",
        extra_archs=get_extra_archs(),
        dataset_check=get_dataset_check(),
    output:
        needed="results/lut/{device}/keys.parquet",
        todo="results/lut/{device}/todo.parquet",
    log:
        "logs/enumerate_layers/{device}.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        latency=lookup(dpath="latency", within=config),
        classes=lookup(dpath="classes", within=config),
        cache=get_lut_cache,
    script:
        "../workflow_scripts/enumerate_layers.py"


rule profile_layers:
    input:
        todo="results/lut/{device}/todo.parquet",
    output:
        shard="results/lut/{device}/shards/{shard}.parquet",
    log:
        "logs/profile_layers/{device}/{shard}.log",
    benchmark:
        "results/benchmarks/profile_layers/{device}/{shard}.tsv"
    conda:
        "../envs/latency.yaml"
    threads: get_profile_threads
    resources:
        mem_mb=get_mem_mb(2000),
        runtime=get_runtime(config["latency"]["runtime"]),
        gpu=get_latency_gpus(),
        latency_slots=1,
    params:
        shards=lookup(dpath="latency/shards", within=config),
        latency=lookup(dpath="latency", within=config),
        classes=lookup(dpath="classes", within=config),
        seed=lookup(dpath="seed", within=config),
    script:
        "../workflow_scripts/profile_layers.py"


rule merge_lut:
    input:
        needed="results/lut/{device}/keys.parquet",
        shards=get_lut_shards,
    output:
        lut="results/lut/{device}/lut.parquet",
    log:
        "logs/merge_lut/{device}.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        cache=get_lut_cache,
    script:
        "../workflow_scripts/merge_lut.py"


rule check_lut_fidelity:
    input:
        space=get_space_path(),
        samples="results/samples/sobol.parquet",
        lut="results/lut/{device}/lut.parquet",
    output:
        report="results/lut/{device}/fidelity.json",
        plot=report(
            "results/lut/{device}/fidelity.png",
            caption="../report/fidelity.rst",
            category="2. Latency phase",
        ),
    log:
        "logs/check_lut_fidelity/{device}.log",
    benchmark:
        "results/benchmarks/check_lut_fidelity/{device}.tsv"
    conda:
        "../envs/latency.yaml"
    threads: get_profile_threads
    resources:
        mem_mb=get_mem_mb(2000),
        runtime=get_runtime(config["fidelity"]["runtime"]),
        gpu=get_latency_gpus(),
        latency_slots=1,
    params:
        subspaces=lookup(dpath="subspaces", within=config),
        per_subspace=lookup(dpath="fidelity/per_subspace", within=config),
        protocol=lookup(dpath="fidelity/protocol", within=config, default={}),
        latency=lookup(dpath="latency", within=config),
        classes=lookup(dpath="classes", within=config),
        seed=lookup(dpath="seed", within=config),
    script:
        "../workflow_scripts/check_lut_fidelity.py"


rule estimate_latency:
    input:
        space=get_space_path(),
        samples="results/samples/sobol.parquet",
        lut=get_lut(),
        fidelity=get_fidelity(),
    output:
        samples="results/samples/samples.parquet",
    log:
        "logs/estimate_latency.log",
    benchmark:
        "results/benchmarks/estimate_latency.tsv"
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        slug=SLUG,
        evaluator=lookup(dpath="evaluator", within=config),
    script:
        "../workflow_scripts/estimate_latency.py"


rule partition_subspaces:
    input:
        samples="results/samples/samples.parquet",
    output:
        subspaces="results/subspaces/subspaces.json",
        plot=report(
            "results/subspaces/latency_hist.png",
            caption="../report/latency_hist.rst",
            category="2. Latency phase",
        ),
    log:
        "logs/partition_subspaces.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        subspaces=lookup(dpath="subspaces", within=config),
    script:
        "../workflow_scripts/partition_subspaces.py"
