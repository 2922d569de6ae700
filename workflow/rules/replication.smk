# The replication check: this study's claims and summary against the reference tables shipped in
# reference/ (in the repository, not the working directory). Without reference/ the rule still
# runs and writes a "no reference" table, so a fresh clone's study never fails here.
# A new or changed reference reruns the check (its files that exist are inputs).
from spikesparse.study.analysis.replication import MACHINE_FILE, REFERENCE_TABLES

REFERENCE = REPO / paths.REFERENCE_DIR
REFERENCE_FILES = [REFERENCE / name for name in (*REFERENCE_TABLES, MACHINE_FILE)]


rule replication:
    input:
        claims=paths.CLAIMS_CSV,
        summary=paths.SUMMARY_TABLE,
        # which runs (config hashes) stand behind each summary setting: another config's
        # settings are not compared with the reference's
        runs=paths.RUNS_TABLE,
        metrics=run_file(paths.METRICS),
        reference=lambda wildcards: [str(f) for f in REFERENCE_FILES if f.exists()],
    output:
        csv=report(
            paths.REPLICATION_CSV,
            caption="../report/replication.rst",
            category="Replication",
            labels={"table": "replication (csv)"},
        ),
        md=report(
            paths.REPLICATION_MD,
            caption="../report/replication.rst",
            category="Replication",
            labels={"table": "replication (markdown)"},
        ),
        machine=paths.MACHINE_JSON,
    log:
        f"{paths.LOGS}/replication/replication.log",
    benchmark:
        f"{paths.BENCHMARKS}/replication/replication.tsv"
    conda:
        "../envs/spikesparse.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        tables=lambda wildcards, input: str(Path(input.claims).parent),
        reference=str(REFERENCE),
    shell:
        "python -m spikesparse replicate --ours {params.tables} --reference {params.reference}"
        " --records {input.metrics} --csv {output.csv} --md {output.md}"
        " --machine {output.machine} > {log} 2>&1"
