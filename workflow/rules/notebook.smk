rule notebook:
    input:
        notebook=REPO / "notebooks" / "analysis.ipynb",
        runs=paths.RUNS_TABLE,
        history=paths.HISTORY_TABLE,
        neurons=paths.NEURON_TABLE,
    output:
        executed=paths.NOTEBOOK_EXECUTED,
        html=report(
            paths.NOTEBOOK_HTML,
            caption="../report/notebook.rst",
            category="Notebook",
            labels={"notebook": "analysis"},
        ),
    log:
        f"{paths.LOGS}/notebook/analysis.log",
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        results=lambda wildcards, input: str(Path(input.runs).parents[1]),
    shell:
        "python -m spikesparse notebook --notebook {input.notebook} --executed {output.executed}"
        " --html {output.html} --results {params.results} > {log} 2>&1"
