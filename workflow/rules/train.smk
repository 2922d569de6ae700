rule train:
    input:
        data=dataset_file,
    output:
        model=paths.MODEL,
        history=paths.HISTORY,
        info=paths.TRAIN_INFO,
    params:
        spec=spec_json,
    threads: config["threads"]
    log:
        run_log("train"),
    resources:
        mem_mb=1500,
        runtime=30,
    shell:
        "{CLI} train --spec {params.spec} --data {input.data} --threads {threads}"
        " --model {output.model} --history {output.history} --info {output.info} > {log} 2>&1"
