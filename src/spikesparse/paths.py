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
    "e1_rate_histograms": "Per-neuron firing-rate histograms per method (E1)",
    "e1_synaptic_efficiency": "Synaptic efficiency per method (E1)",
    "e1_spike_rasters": "Spike raster of one test sample per method (E1)",
    "e1_regime_map": "Regime map: baseline and homeostatic rates and accuracy over two drive knobs (E1)",
    "e2_pareto": "Accuracy against spikes per sample, spike-count loss sweep (E2)",
    "e2_reduction": "Spike reduction against accuracy drop, relative to the baseline (E2)",
    "e3_pareto": "Accuracy against spikes per sample, first-spike penalty (E3)",
    "e3_silent_layers": "Silent-neuron fraction per layer per method (E3)",
    "e3_phase_switch": "Training curves across the phase switch (E3)",
    "e3_rate_vs_size": "Baseline hidden rate and accuracy against depth and width (E3)",
    "e3_switch_off": "Share of runs with a silent hidden layer against lambda, per arm and size (E3)",
    "e4_accuracy_vs_t": "Converted SNN accuracy against time steps per normalization (E4)",
    "e4_l4_gain": "Accuracy gain of the L4 adjustment over its baseline against time steps (E4)",
    "e4_spikes_vs_t": "Spikes per sample against time steps (E4)",
    "e5_pareto_rate": "Every method: accuracy against hidden firing rate, Pareto front (E5)",
    "e5_pareto_synops": "Every method: accuracy against SynOps per sample, Pareto front (E5)",
    "e5_synaptic_efficiency": "Synaptic efficiency of every method (E5)",
    "e5_energy": "Energy estimate against the ANN's MAC energy (E5)",
}


def run_dir(experiment: str, method: str, lam: str, seed: int | str) -> str:
    return RUN_DIR.format(experiment=experiment, method=method, lam=lam, seed=seed)


def figure(name: str) -> str:
    return FIGURE.format(name=name)
