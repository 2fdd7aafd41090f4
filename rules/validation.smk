# Final validation: each hub model measured end to end on the target runtime (TensorRT FP16 on a
# GPU with TensorRT, PyTorch CUDA without it, ONNX Runtime on CPU) against its LUT prediction,
# beside fidelity networks re-timed to measure the machine's drift since the LUT.


rule validate_hub:
    input:
        hubs=get_hub_dirs(),
        lut=get_lut(),
        fidelity=get_fidelity(),
    output:
        table="results/validation/validation.csv",
        drift="results/validation/drift.json",
        plot=report(
            "results/validation/validation.png",
            caption="../report/validation_plot.rst",
            category="5. Validation",
        ),
    log:
        "logs/validate_hub.log",
    benchmark:
        "results/benchmarks/validate_hub.tsv"
    conda:
        "../envs/latency.yaml"
    threads: get_timing_threads
    resources:
        mem_mb=get_mem_mb(2000),
        runtime=get_runtime(config["validation"]["runtime"]),
        gpu=get_latency_gpus(),
        latency_slots=1,
    params:
        latency=get_latency_settings(),
        validation=lookup(dpath="validation", within=config),
        slug=SLUG,
        seed=lookup(dpath="seed", within=config),
    script:
        "../workflow_scripts/validate_hub.py"
