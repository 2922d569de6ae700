rule notebook:
    input:
        notebook=REPO / "notebooks" / "analysis.ipynb",
        tables=list(paths.AGGREGATE_TABLES.values()),
        # the drawn figure files: the notebook embeds them instead of drawing them again
        figures=all_figures(),
        claims=paths.CLAIMS_CSV,
        replication=paths.REPLICATION_CSV,
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
    benchmark:
        f"{paths.BENCHMARKS}/notebook/analysis.tsv"
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        results=lambda wildcards, input: str(Path(input.claims).parents[1]),
    shell:
        "python -m spikesparse notebook --notebook {input.notebook} --executed {output.executed}"
        " --html {output.html} --results {params.results} > {log} 2>&1"
