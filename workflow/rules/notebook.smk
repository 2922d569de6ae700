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
    params:
        results=paths.RESULTS,
    log:
        f"{paths.LOGS}/notebook/analysis.log",
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{CLI} notebook --notebook {input.notebook} --executed {output.executed}"
        " --html {output.html} --results {params.results} > {log} 2>&1"
