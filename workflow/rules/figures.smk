# Every figure of `spikesparse.study.report.figure_registry`, one job per figure (`{figure}`), so that the
# figures are drawn in parallel after the aggregate job, each from the tables it reads only.
# The registry gives each figure's report caption: one caption template for the rule, written
# here because `report(caption=...)` takes a path, branching on the job's `figure` wildcard.
from spikesparse.study.report.figure_registry import FIGURES as FIGURE_REGISTRY
from spikesparse.study.report.figure_registry import write_caption_template

FIGURE_CAPTION = write_caption_template(paths.REPORT_CAPTIONS)


rule figures:
    input:
        # the tables this figure reads, only
        lambda wildcards: [
            paths.AGGREGATE_TABLES[t] for t in FIGURE_REGISTRY[wildcards.figure].tables
        ],
    output:
        report(
            f"{paths.FIGURES_DIR}/{{figure}}.png",
            caption=FIGURE_CAPTION,
            category=lambda wildcards: FIGURE_REGISTRY[wildcards.figure].study.upper(),
            labels=lambda wildcards: {
                "figure": FIGURE_REGISTRY[wildcards.figure].title
            },
        ),
    log:
        f"{paths.LOGS}/figures/{{figure}}.log",
    benchmark:
        f"{paths.BENCHMARKS}/figures/{{figure}}.tsv"
    wildcard_constraints:
        figure="|".join(FIGURE_REGISTRY),
    # Below the claims -> replication chain (default 0), which then runs beside the figures
    # instead of after them: both end before the notebook, which needs every figure.
    priority: -1
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        tables=paths.TABLES,
    shell:
        "python -m spikesparse figures --tables {params.tables} --out {output} > {log} 2>&1"
