rule train:
    input:
        data=dataset_file,
    output:
        model=paths.MODEL,
        history=paths.HISTORY,
        info=paths.TRAIN_INFO,
    log:
        run_log("train"),
    conda:
        "../envs/spikesparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        spec=spec_json,
    shell:
        "python -m spikesparse train --spec {params.spec} --data {input.data} --threads {threads}"
        " --model {output.model} --history {output.history} --info {output.info} > {log} 2>&1"
