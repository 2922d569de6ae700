rule aggregate:
    input:
        metrics=run_file(paths.METRICS),
    output:
        runs=report(
            paths.RUNS_TABLE,
            caption="../report/runs_table.rst",
            category="Tables",
            labels={"table": "runs"},
        ),
        history=report(
            paths.HISTORY_TABLE,
            caption="../report/history_table.rst",
            category="Tables",
            labels={"table": "history"},
        ),
        neurons=paths.NEURON_TABLE,
    log:
        f"{paths.LOGS}/aggregate/aggregate.log",
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    shell:
        "python -m spikesparse aggregate --metrics {input.metrics} --runs {output.runs}"
        " --history {output.history} --neurons {output.neurons} > {log} 2>&1"
