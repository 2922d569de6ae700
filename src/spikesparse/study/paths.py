"""Every path pattern of the study, in one place.

The Snakefile, the CLI, the notebook and the tests all build paths from here, so a file is
never spelled twice. Patterns use Snakemake wildcard syntax (``{name}``) and are relative to the
working directory of the run.
"""

from __future__ import annotations

RESULTS = "results"
DATASET = f"{RESULTS}/data/{{dataset}}.npz"
DATASET_META = f"{RESULTS}/data/{{dataset}}.json"
RUN_DIR = f"{RESULTS}/runs/{{experiment}}/{{method}}/lam={{lam}}/seed={{seed}}"
MODEL = f"{RUN_DIR}/model.pt"
HISTORY = f"{RUN_DIR}/history.csv"
TRAIN_INFO = f"{RUN_DIR}/train.json"
METRICS = f"{RUN_DIR}/metrics.json"
# Conversion experiments (E4): one ANN and one conversion sweep per (experiment, seed).
ANN_DIR = f"{RESULTS}/runs/{{experiment}}/ann/seed={{seed}}"
ANN_MODEL = f"{ANN_DIR}/ann.pt"
ANN_INFO = f"{ANN_DIR}/ann.json"
CONVERSION = f"{RESULTS}/runs/{{experiment}}/conversion/seed={{seed}}/conversion.json"
TABLES = f"{RESULTS}/tables"
RUNS_TABLE = f"{TABLES}/runs.csv"
HISTORY_TABLE = f"{TABLES}/history.csv"
NEURON_TABLE = f"{TABLES}/neuron_rates.csv"
RASTER_TABLE = f"{TABLES}/rasters.csv"
SUMMARY_TABLE = f"{TABLES}/summary.csv"
CONVERSION_TABLE = f"{TABLES}/conversion.csv"
PLANE_TABLE = f"{TABLES}/plane.csv"
CLAIMS_CSV = f"{TABLES}/claims.csv"
CLAIMS_MD = f"{TABLES}/claims.md"
# The report's index of the tables folder (spikesparse.study.report.report_tables): the tables not embedded
# in the report (per-neuron rates, rasters, ...) with where they are on disk.
TABLES_INDEX = f"{TABLES}/index.csv"
# Replication check: this results folder against the reference tables shipped in reference/.
REFERENCE_DIR = "reference"
REPLICATION_CSV = f"{TABLES}/replication.csv"
REPLICATION_MD = f"{TABLES}/replication.md"
# The machine this study's runs ran on (from their provenance), beside the one in reference/.
MACHINE_JSON = f"{TABLES}/machine.json"
# Snakemake `benchmark:` files, one per job (job-seconds for the study-throughput table).
BENCHMARKS = f"{RESULTS}/benchmarks"
# Tables written by the `aggregate` rule: name -> path (the CLI and the notebook use the names).
AGGREGATE_TABLES = {
    "runs": RUNS_TABLE,
    "history": HISTORY_TABLE,
    "neurons": NEURON_TABLE,
    "rasters": RASTER_TABLE,
    "summary": SUMMARY_TABLE,
    "conversion": CONVERSION_TABLE,
    "plane": PLANE_TABLE,
}
# The two jobs that write them: the run-level tables, which the claims and most figures read, and
# the per-neuron ones (rates, rasters: the largest, read by two figures), so that the claims and
# those figures need not wait for the large tables to be built and written.
RUN_LEVEL_TABLES = ("runs", "history", "summary", "conversion", "plane")
PER_NEURON_TABLES = ("neurons", "rasters")
FIGURES_DIR = f"{RESULTS}/figures"
NOTEBOOK_DIR = f"{RESULTS}/notebooks"
NOTEBOOK_EXECUTED = f"{NOTEBOOK_DIR}/analysis.ipynb"
NOTEBOOK_HTML = f"{NOTEBOOK_DIR}/analysis.html"
REPORT = f"{RESULTS}/report.html"
LOGS = f"{RESULTS}/logs"
# Report captions of the figures, written from the figure registry when the workflow is parsed
# (Snakemake's `report(caption=...)` takes a file); beside Snakemake's own state, not a result.
REPORT_CAPTIONS = ".snakemake/spikesparse/captions"


def run_dir(experiment: str, method: str, lam: str, seed: int | str) -> str:
    return RUN_DIR.format(experiment=experiment, method=method, lam=lam, seed=seed)
