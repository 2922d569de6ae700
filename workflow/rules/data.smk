from spikesparse.study.local_data import local_files


rule generate_dataset:
    input:
        # the files a dataset read from a local folder (root) reads: a changed file regenerates it
        lambda wc: local_files(wc.dataset, config["datasets"][wc.dataset]),
    output:
        npz=paths.DATASET,
        meta=paths.DATASET_META,
    log:
        f"{paths.LOGS}/generate_dataset/{{dataset}}.log",
    benchmark:
        f"{paths.BENCHMARKS}/generate_dataset/{{dataset}}.tsv"
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        dataset=lambda wc: quoted_json(config["datasets"][wc.dataset]),
    shell:
        "python -m spikesparse generate-data --dataset {wildcards.dataset} --params {params.dataset}"
        " --out {output.npz} --meta {output.meta} > {log} 2>&1"
