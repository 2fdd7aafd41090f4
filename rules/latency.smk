# Latency phase: Sobol samples -> layer keys -> profiled LUT (sharded) -> fidelity/correction
# -> predicted latency per sample -> latency sub-spaces. Two LUTs per device ({part}): `search`
# (the samples' keys) and `baselines` (the baseline variants' keys), so that editing the baselines
# never touches the search; both read and grow the device's one cache of measured keys.


rule sample_sobol:
    input:
        space=get_space_path(),
        table=get_evaluator_table(),
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
        evaluator=lookup(dpath="evaluator", within=config),
    script:
        "../workflow_scripts/sample_sobol.py"


rule enumerate_layers:
    input:
        space=get_space_path(),
        samples=get_part_samples,
        extra_archs=get_part_archs,
        dataset_check=get_dataset_check(),
    output:
        needed="results/lut/{device}/{part}/keys.parquet",
        todo="results/lut/{device}/{part}/todo.parquet",
    log:
        "logs/enumerate_layers/{device}/{part}.log",
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        mode=get_part_keys_mode,
        conditions=get_latency_conditions(),
        classes=lookup(dpath="classes", within=config),
        reuse=lookup(dpath="latency/reuse", within=config),
        cache=get_lut_cache,
    script:
        "../workflow_scripts/enumerate_layers.py"


rule profile_layers:
    input:
        todo="results/lut/{device}/{part}/todo.parquet",
    output:
        # kept only until merged: a changed latency.shards reruns nothing measured (README)
        shard=temp("results/lut/{device}/{part}/shards/{shard}-of-{shards}.parquet"),
    log:
        "logs/profile_layers/{device}/{part}/{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/profile_layers/{device}/{part}/{shard}-of-{shards}.tsv"
    conda:
        "../envs/latency.yaml"
    threads: get_timing_threads
    resources:
        mem_mb=get_mem_mb(2000),
        runtime=get_runtime(config["latency"]["runtime"]),
        gpu=get_latency_gpus(),
        latency_slots=1,
    params:
        latency=get_latency_settings(),
        classes=lookup(dpath="classes", within=config),
        seed=lookup(dpath="seed", within=config),
        cache=get_lut_cache,
    script:
        "../workflow_scripts/profile_layers.py"


rule merge_lut:
    input:
        needed="results/lut/{device}/{part}/keys.parquet",
        shards=get_lut_shards,
    output:
        lut="results/lut/{device}/{part}/lut.parquet",
    log:
        "logs/merge_lut/{device}/{part}.log",
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
        lut="results/lut/{device}/search/lut.parquet",
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
    threads: get_timing_threads
    resources:
        mem_mb=get_mem_mb(2000),
        runtime=get_runtime(config["fidelity"]["runtime"]),
        gpu=get_latency_gpus(),
        latency_slots=1,
    params:
        networks=get_fidelity_networks(),
        protocol=lookup(dpath="fidelity/protocol", within=config, default={}),
        latency=get_latency_settings(),
        classes=lookup(dpath="classes", within=config),
        seed=lookup(dpath="seed", within=config),
        networks_cache=get_network_cache,
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
