rule aggregate:
    input:
        metrics=run_file(paths.METRICS),
        conversions=conversion_files(paths.CONVERSION),
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
        summary=report(
            paths.SUMMARY_TABLE,
            caption="../report/summary_table.rst",
            category="Tables",
            labels={"table": "summary"},
        ),
        conversion=report(
            paths.CONVERSION_TABLE,
            caption="../report/conversion_table.rst",
            category="Tables",
            labels={"table": "conversion"},
        ),
        plane=report(
            paths.PLANE_TABLE,
            caption="../report/plane_table.rst",
            category="Tables",
            labels={"table": "plane"},
        ),
        neurons=report(
            paths.NEURON_TABLE,
            caption="../report/neuron_table.rst",
            category="Tables",
            labels={"table": "neuron rates"},
        ),
        rasters=report(
            paths.RASTER_TABLE,
            caption="../report/raster_table.rst",
            category="Tables",
            labels={"table": "rasters"},
        ),
    log:
        f"{paths.LOGS}/aggregate/aggregate.log",
    benchmark:
        f"{paths.BENCHMARKS}/aggregate/aggregate.tsv"
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        tables=lambda wildcards, output: str(Path(output.runs).parent),
    shell:
        "python -m spikesparse aggregate --metrics {input.metrics} --conversions {input.conversions}"
        " --tables {params.tables} > {log} 2>&1"


rule claims:
    input:
        runs=paths.RUNS_TABLE,
        conversion=paths.CONVERSION_TABLE,
    output:
        csv=report(
            paths.CLAIMS_CSV,
            caption="../report/claims.rst",
            category="Claims",
            labels={"table": "claims (csv)"},
        ),
        md=report(
            paths.CLAIMS_MD,
            caption="../report/claims.rst",
            category="Claims",
            labels={"table": "claims (markdown)"},
        ),
    log:
        f"{paths.LOGS}/claims/claims.log",
    benchmark:
        f"{paths.BENCHMARKS}/claims/claims.tsv"
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m spikesparse claims --runs {input.runs} --conversion {input.conversion}"
        " --csv {output.csv} --md {output.md} > {log} 2>&1"
