rule figures:
    input:
        list(paths.AGGREGATE_TABLES.values()),
    output:
        [
            report(
                paths.figure(name),
                caption=f"../report/{name}.rst",
                category=name.split("_")[0].upper(),
                labels={"figure": title},
            )
            for name, title in paths.FIGURE_NAMES.items()
        ],
    log:
        f"{paths.LOGS}/figures/figures.log",
    benchmark:
        f"{paths.BENCHMARKS}/figures/figures.tsv"
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        tables=lambda wildcards, input: str(Path(input[0]).parent),
    shell:
        "python -m spikesparse figures --tables {params.tables} --out {output} > {log} 2>&1"
