rule train:
    input:
        data=dataset_file,
    output:
        model=paths.MODEL,
        history=paths.HISTORY,
        info=paths.TRAIN_INFO,
        metrics=paths.METRICS,
    log:
        run_log("train"),
    benchmark:
        run_benchmark("train")
    conda:
        "../envs/spikesparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        spec=spec_json,
        metrics=lambda wc: quoted_json(config["metrics"]),
    shell:
        "python -m spikesparse train --spec {params.spec} --data {input.data} --threads {threads}"
        " --metrics-config {params.metrics} --model {output.model} --history {output.history}"
        " --info {output.info} --metrics {output.metrics} > {log} 2>&1"
