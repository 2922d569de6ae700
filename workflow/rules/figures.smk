rule figures:
    input:
        runs=paths.RUNS_TABLE,
        history=paths.HISTORY_TABLE,
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
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    shell:
        "python -m spikesparse figures --runs {input.runs} --history {input.history} --out {output} > {log} 2>&1"
