# Config validation, the run list and helpers. Rules know paths and parameters, never tensors.
import json
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from spikesparse.study import paths
from spikesparse.study.report import figure_registry
from spikesparse.study.config import (
    SCHEMA_PATH,
    ConfigError,
    read_config_file,
    validate_config,
)
from spikesparse.study.runs import (
    ann_spec,
    conversion_spec,
    expand_conversions,
    expand_runs,
    run_spec,
    train_rules,
)

REPO = Path(workflow.basedir)
SCHEMA = SCHEMA_PATH

# Our check first: one line naming the key path and the rule; then Snakemake's own validation,
# which also fills the schema's defaults. The config files are read again by our reader, which
# refuses a key written twice (Snakemake's loader keeps the last one) and non-UTF-8 text.
try:
    for configfile_path in workflow.configfiles:
        read_config_file(configfile_path)
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
try:
    TRAIN_RULES = train_rules(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None
CONVERSIONS = expand_conversions(config)
# One GPU per training and conversion job when the config asks for CUDA (SLURM's --gres, set by
# the executor from this resource; empty, and so ignored, otherwise).
GPU_GRES = "gpu:1" if config.get("device") == "cuda" else ""


wildcard_constraints:
    experiment="[a-z][a-z0-9_]*",
    method="[a-z][a-z0-9_]*",
    lam="[0-9][0-9.e-]*",
    seed="[0-9]+",
    dataset="[a-z0-9_]+",


def quoted_json(obj):
    return shlex.quote(json.dumps(obj, sort_keys=True))


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
    return [figure_registry.figure_path(name) for name in figure_registry.FIGURE_TITLES]


def train_outputs(train_rule, pattern):
    """The per-run files one job of ``train_rule`` writes: ``pattern`` for each of its seeds."""
    return [
        pattern.format(
            experiment=train_rule.experiment, method="{method}", lam="{lam}", seed=seed
        )
        for seed in train_rule.seeds
    ]


def train_specs(train_rule):
    """The resolved specs of one job's runs (its params: a changed spec reruns the job)."""

    def specs(wildcards):
        return quoted_json(
            [
                run_spec(config, key)
                for key in train_rule.runs(wildcards.method, wildcards.lam)
            ]
        )

    return specs


def train_job_file(root, train_rule, suffix):
    return f"{root}/train/{train_rule.experiment}/{{method}}/lam={{lam}}.{suffix}"
