# Training data: checked once (before profiling and training), then decoded once into arrays that
# every training reads a batch at a time.


rule check_dataset:
    output:
        check="results/data/check.json",
    log:
        "logs/check_dataset.log",
    priority: 100
    localrule: True
    conda:
        "../envs/search.yaml"
    params:
        source=lookup(dpath="data/source", within=config),
        classes=lookup(dpath="classes", within=config),
        max_image_pixels=lookup(dpath="data/max_image_pixels", within=config),
    script:
        "../workflow_scripts/check_dataset.py"


rule prepare_dataset:
    input:
        check="results/data/check.json",
    output:
        dataset="results/data/prepared/dataset.json",
        arrays=expand(
            "results/data/prepared/{split}.npy", split=["train", "val", "test"]
        ),
        labels="results/data/prepared/labels.npz",
    log:
        "logs/prepare_dataset.log",
    benchmark:
        "results/benchmarks/prepare_dataset.tsv"
    conda:
        "../envs/train.yaml"
    threads: get_data_workers
    resources:
        mem_mb=get_mem_mb(config["data"]["mem_mb"]),
        runtime=get_runtime(config["data"]["runtime"]),
    params:
        source=lookup(dpath="data/source", within=config),
        max_image_pixels=lookup(dpath="data/max_image_pixels", within=config),
        train_images=lookup(dpath="data/train_images", within=config),
        val_images=lookup(dpath="data/val_images", within=config),
        test_images=lookup(dpath="data/test_images", within=config),
        split_seed=lookup(dpath="data/split_seed", within=config),
        image_size=lookup(dpath="data/image_size", within=config),
        classes=lookup(dpath="classes", within=config),
    script:
        "../workflow_scripts/prepare_dataset.py"
