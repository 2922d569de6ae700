from spikesparse.study.budget import conversion_priority, conversion_resources


rule train_ann:
    input:
        data=dataset_file,
    output:
        model=paths.ANN_MODEL,
        info=paths.ANN_INFO,
    log:
        f"{paths.LOGS}/train_ann/{{experiment}}/seed={{seed}}.log",
    benchmark:
        f"{paths.BENCHMARKS}/train_ann/{{experiment}}/seed={{seed}}.tsv"
    # longest first, the ANN with its conversion (spikesparse.study.budget.job_priority)
    priority: lambda wc: conversion_priority(config, wc.experiment, "train")
    conda:
        "../envs/spikesparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc: conversion_resources(config, wc.experiment, "train")["mem_mb"],
        runtime=lambda wc: conversion_resources(config, wc.experiment, "train")[
            "runtime"
        ],
        gres=GPU_GRES,
    params:
        spec=ann_spec_json,
    shell:
        "python -m spikesparse train-ann --spec {params.spec} --data {input.data} --threads {threads}"
        " --model {output.model} --info {output.info} > {log} 2>&1"


rule convert:
    input:
        model=paths.ANN_MODEL,
        info=paths.ANN_INFO,
        data=dataset_file,
    output:
        conversion=paths.CONVERSION,
    log:
        f"{paths.LOGS}/convert/{{experiment}}/seed={{seed}}.log",
    benchmark:
        f"{paths.BENCHMARKS}/convert/{{experiment}}/seed={{seed}}.tsv"
    priority: lambda wc: conversion_priority(config, wc.experiment, "convert")
    conda:
        "../envs/spikesparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc: conversion_resources(config, wc.experiment, "convert")[
            "mem_mb"
        ],
        runtime=lambda wc: conversion_resources(config, wc.experiment, "convert")[
            "runtime"
        ],
        gres=GPU_GRES,
    params:
        spec=conversion_spec_json,
        metrics=lambda wc: quoted_json(config["metrics"]),
    shell:
        "python -m spikesparse convert --spec {params.spec} --model {input.model} --info {input.info}"
        " --data {input.data}"
        " --metrics-config {params.metrics} --threads {threads} --out {output.conversion} > {log} 2>&1"
