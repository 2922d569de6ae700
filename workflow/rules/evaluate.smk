rule evaluate:
    input:
        model=paths.MODEL,
        info=paths.TRAIN_INFO,
        data=dataset_file,
    output:
        metrics=paths.METRICS,
    params:
        metrics=lambda wc: quoted_json(config["metrics"]),
    threads: config["threads"]
    log:
        run_log("evaluate"),
    resources:
        mem_mb=1500,
        runtime=10,
    shell:
        "{CLI} evaluate --model {input.model} --info {input.info} --data {input.data}"
        " --metrics-config {params.metrics} --threads {threads} --out {output.metrics} > {log} 2>&1"
