# Every figure of `spikesparse.figure_registry`, drawn in one job. The registry also gives each
# figure's report caption, written to a file here because `report(caption=...)` takes a path.
from spikesparse.figure_registry import FIGURES as FIGURE_REGISTRY
from spikesparse.figure_registry import write_captions

FIGURE_CAPTIONS = write_captions(paths.REPORT_CAPTIONS)


rule figures:
    input:
        list(paths.AGGREGATE_TABLES.values()),
    output:
        [
            report(
                paths.figure(fig.name),
                caption=FIGURE_CAPTIONS[fig.name],
                category=fig.study.upper(),
                labels={"figure": fig.title},
            )
            for fig in FIGURE_REGISTRY.values()
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
