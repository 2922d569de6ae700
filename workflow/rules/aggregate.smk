# Two jobs over the same result files: the run-level tables first (the claims and 18 of the 20
# figures read only them), and beside the claims and figures the per-neuron tables, the largest
# (rates and rasters: about 30 MB of CSV in the default study), which two figures read.
rule aggregate:
    input:
        metrics=run_file(paths.METRICS),
        conversions=conversion_files(paths.CONVERSION),
    # The report embeds the seed summary; the other tables stay on disk (rule tables_index
    # lists them for the report with where they are): the per-neuron rates and the rasters alone
    # made the report 55 MB in the default study.
    output:
        runs=paths.RUNS_TABLE,
        history=paths.HISTORY_TABLE,
        summary=report(
            paths.SUMMARY_TABLE,
            caption="../report/summary_table.rst",
            category="Tables",
            labels={"table": "summary"},
        ),
        conversion=paths.CONVERSION_TABLE,
        plane=paths.PLANE_TABLE,
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
        "python -m spikesparse aggregate --part runs --metrics {input.metrics}"
        " --conversions {input.conversions} --tables {params.tables} > {log} 2>&1"


rule aggregate_neurons:
    input:
        metrics=run_file(paths.METRICS),
    output:
        neurons=paths.NEURON_TABLE,
        rasters=paths.RASTER_TABLE,
    log:
        f"{paths.LOGS}/aggregate/aggregate_neurons.log",
    benchmark:
        f"{paths.BENCHMARKS}/aggregate_neurons/aggregate_neurons.tsv"
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        tables=lambda wildcards, output: str(Path(output.neurons).parent),
    shell:
        "python -m spikesparse aggregate --part neurons --metrics {input.metrics}"
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


# The report's index of the tables folder (spikesparse.study.report.report_tables): every table with its rows,
# columns, bytes, whether the report embeds it, and its path; the caption gives the folder.
rule tables_index:
    input:
        tables=list(paths.AGGREGATE_TABLES.values()),
        claims=paths.CLAIMS_CSV,
        replication=paths.REPLICATION_CSV,
    output:
        report(
            paths.TABLES_INDEX,
            caption="../report/tables_index.rst",
            category="Tables",
            labels={"table": "index of all tables"},
        ),
    log:
        f"{paths.LOGS}/tables_index/tables_index.log",
    benchmark:
        f"{paths.BENCHMARKS}/tables_index/tables_index.tsv"
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        # the working directory's tables folder, named in the report's caption
        folder=lambda wildcards: str(Path(paths.TABLES).resolve()),
    shell:
        "python -m spikesparse.study.report.report_tables --out {output} > {log} 2>&1"
