# spikesparse: data -> training across regularizers -> evaluation -> tables -> figures -> notebook.
# The report (`snakemake --report results/report.html`) is built after the run; see docs/study/index.md.
from snakemake.utils import min_version

min_version("9.0")


# The full study by default; `--configfile other.yaml` replaces it (no merge with the default).
if not config:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# Jobs find the environment's `python` through PATH (set in workflow/rules/common.smk).
envvars:
    "PATH",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/convert.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/notebook.smk"
include: "workflow/rules/replication.smk"


rule all:
    default_target: True
    input:
        list(paths.AGGREGATE_TABLES.values()),
        paths.CLAIMS_CSV,
        paths.CLAIMS_MD,
        all_figures(),
        paths.NOTEBOOK_HTML,
        paths.REPLICATION_CSV,
        paths.REPLICATION_MD,
        paths.TABLES_INDEX,
