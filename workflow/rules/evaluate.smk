rule evaluate:
    input:
        model=paths.MODEL,
        info=paths.TRAIN_INFO,
        data=dataset_file,
    output:
        metrics=paths.METRICS,
    log:
        run_log("evaluate"),
    conda:
        "../envs/spikesparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        metrics=lambda wc: quoted_json(config["metrics"]),
    shell:
        "python -m spikesparse evaluate --model {input.model} --info {input.info} --data {input.data}"
        " --metrics-config {params.metrics} --threads {threads} --out {output.metrics} > {log} 2>&1"
