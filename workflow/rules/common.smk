# Config validation, the run list and helpers. Rules know paths and parameters, never tensors.
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from spikesparse import paths
from spikesparse.config import (
    SCHEMA_PATH,
    ConfigError,
    RunKey,
    ann_spec,
    conversion_spec,
    expand_conversions,
    expand_runs,
    run_spec,
    validate_config,
)

REPO = Path(workflow.basedir)
SCHEMA = SCHEMA_PATH

# Our check first: one line naming the key path and the rule; then Snakemake's own validation,
# which also fills the schema's defaults.
try:
    validate_config(config, SCHEMA)
except ConfigError as err:
    raise WorkflowError(str(err)) from None
validate(config, str(SCHEMA))

# Jobs call the package as `python -m spikesparse`; put this interpreter's folder first on PATH
# so that `python` is the environment Snakemake runs in (a venv need not be activated).
os.environ["PATH"] = (
    f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
)
RUNS = expand_runs(config)
CONVERSIONS = expand_conversions(config)


wildcard_constraints:
    experiment="[a-z][a-z0-9_]*",
    method="[a-z][a-z0-9_]*",
    lam="[0-9][0-9.e-]*",
    seed="[0-9]+",
    dataset="[a-z0-9_]+",


def quoted_json(obj):
    return shlex.quote(json.dumps(obj, sort_keys=True))


def run_key(wildcards):
    return RunKey(
        wildcards.experiment, wildcards.method, wildcards.lam, int(wildcards.seed)
    )


def spec_json(wildcards):
    """The resolved spec of one run: its params, so a changed value reruns just that job."""
    return quoted_json(run_spec(config, run_key(wildcards)))


def dataset_file(wildcards):
    section = (
        "experiments"
        if wildcards.experiment in config["experiments"]
        else "conversions"
    )
    name = config[section][wildcards.experiment]["dataset"]
    return paths.DATASET.format(dataset=name)


def ann_spec_json(wildcards):
    return quoted_json(ann_spec(config, wildcards.experiment, int(wildcards.seed)))


def conversion_spec_json(wildcards):
    return quoted_json(
        conversion_spec(config, wildcards.experiment, int(wildcards.seed))
    )


def conversion_files(pattern):
    return [pattern.format(experiment=name, seed=seed) for name, seed in CONVERSIONS]


def run_file(pattern, keys=RUNS):
    return [pattern.format(**key.wildcards) for key in keys]


def all_figures():
    return [paths.figure(name) for name in paths.FIGURE_NAMES]


def run_log(rule_name):
    return f"{paths.LOGS}/{rule_name}/{{experiment}}/{{method}}/lam={{lam}}/seed={{seed}}.log"


def run_benchmark(rule_name):
    """Snakemake's per-job timing file (job-seconds for `spikesparse bench-study`)."""
    return f"{paths.BENCHMARKS}/{rule_name}/{{experiment}}/{{method}}/lam={{lam}}/seed={{seed}}.tsv"
