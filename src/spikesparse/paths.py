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
TABLES = f"{RESULTS}/tables"
RUNS_TABLE = f"{TABLES}/runs.csv"
HISTORY_TABLE = f"{TABLES}/history.csv"
NEURON_TABLE = f"{TABLES}/neuron_rates.csv"
FIGURES = f"{RESULTS}/figures"
FIGURE = f"{FIGURES}/{{name}}.png"
NOTEBOOK_DIR = f"{RESULTS}/notebooks"
NOTEBOOK_EXECUTED = f"{NOTEBOOK_DIR}/analysis.ipynb"
NOTEBOOK_HTML = f"{NOTEBOOK_DIR}/analysis.html"
REPORT = f"{RESULTS}/report.html"
LOGS = f"{RESULTS}/logs"

# Figures drawn by the `figures` rule: name -> what it shows (also the report caption's title).
FIGURE_NAMES = {
    "e1_accuracy_vs_rate": "Accuracy against hidden firing rate, per method (E1)",
    "e1_rate_trajectories": "Hidden firing rate per epoch, per method, with the homeostatic target",
}


def run_dir(experiment: str, method: str, lam: str, seed: int | str) -> str:
    return RUN_DIR.format(experiment=experiment, method=method, lam=lam, seed=seed)


def figure(name: str) -> str:
    return FIGURE.format(name=name)
