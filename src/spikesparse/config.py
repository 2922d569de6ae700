"""Config validation and expansion of the study into runs.

Why here and not only in the schema: the schema (workflow/schemas/config.schema.yaml) fills
defaults and rejects unknown keys and wrong types; this module adds the rules a schema cannot
say (non-finite numbers, parameters that belong to another regularizer, a batch larger than the
dataset) and turns every error into one line naming the key path. It also defines what a *run*
is: one (experiment, method, lambda, seed), with a fully resolved spec that becomes the
Snakemake ``params`` of its jobs, so a changed value reruns exactly the jobs it touches.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from .data import STATIC_DATASETS
from .regularizers import REGULARIZERS

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value breaks a rule; the message names the key path and the rule."""


@dataclass(frozen=True)
class RunKey:
    experiment: str
    method: str
    lam: str
    seed: int

    @property
    def wildcards(self) -> dict:
        return {
            "experiment": self.experiment,
            "method": self.method,
            "lam": self.lam,
            "seed": self.seed,
        }


def format_lambda(value: float) -> str:
    """Lambda as it appears in paths: shortest round-trip form (0.001 -> '0.001', 1e-05 -> '1e-05')."""
    return repr(float(value)).replace("+", "")


def _key_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _with_defaults(validator_class):
    set_props = validator_class.VALIDATORS["properties"]

    def fill(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from set_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": fill})


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _reject_nonfinite(node, parts) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _reject_nonfinite(v, [*parts, k])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _reject_nonfinite(v, [*parts, i])
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"config error at {_key_path(parts)}: {node} is not a finite number")


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        return f"config error at {where}: {error.message} (unknown key)"
    if error.validator == "required":
        return f"config error at {where}: {error.message} (missing required key)"
    return f"config error at {where}: {error.message} (rule: {error.validator})"


def validate_config(config, schema_path: str | Path = SCHEMA_PATH) -> dict:
    """Fill defaults into ``config`` in place and check it; raise ConfigError on the first problem."""
    if not isinstance(config, dict):
        raise ConfigError(
            f"config error at <root>: must be a mapping of keys to values, got {type(config).__name__}"
        )
    _reject_nonfinite(config, [])
    validator = _with_defaults(jsonschema.Draft202012Validator)(load_schema(schema_path))
    errors = list(validator.iter_errors(config))
    if errors:
        # Report the deepest error: it names the most specific key path.
        error = max(errors, key=lambda e: len(e.absolute_path))
        raise ConfigError(_describe(error))
    _check_semantics(config)
    return config


# Parameters each encoder accepts (besides its name).
ENCODER_PARAMS = {"rate": {"gain", "population", "width", "n_steps"}, "latency": {"n_steps", "threshold"}}


def _check_dataset_section(config: dict, where: str, dataset: str) -> None:
    if dataset not in config["datasets"]:
        raise ConfigError(
            f"config error at {where}.dataset: dataset {dataset!r} has no section under datasets"
        )


def _check_encoding(where: str, encoding: dict, dataset: str) -> None:
    name = encoding["name"]
    for key in encoding:
        if key != "name" and key not in ENCODER_PARAMS[name]:
            raise ConfigError(
                f"config error at {where}.encoding.{key}: not a parameter of the {name!r} encoder "
                f"(allowed: {sorted(ENCODER_PARAMS[name])})"
            )
    static = dataset in STATIC_DATASETS
    if static and "n_steps" not in encoding:
        raise ConfigError(
            f"config error at {where}.encoding.n_steps: required for the static dataset {dataset!r}"
        )
    if not static and "n_steps" in encoding:
        raise ConfigError(
            f"config error at {where}.encoding.n_steps: the sequence dataset {dataset!r} sets its own "
            "number of steps (n_steps of the dataset)"
        )
    if name == "latency" and not static:
        raise ConfigError(
            f"config error at {where}.encoding.name: latency coding needs a static dataset "
            f"({sorted(STATIC_DATASETS)}), not {dataset!r}"
        )


def _check_conversions(config: dict) -> None:
    for name, conv in config.get("conversions", {}).items():
        where = f"conversions.{name}"
        _check_dataset_section(config, where, conv["dataset"])
        if 0 not in conv["alphas"]:
            raise ConfigError(
                f"config error at {where}.alphas: must include 0 (the unadjusted baseline), "
                f"got {conv['alphas']}"
            )
        if name in config["experiments"]:
            raise ConfigError(f"config error at {where}: name already used by experiments.{name}")


def _check_semantics(config: dict) -> None:
    _check_conversions(config)
    for exp_name, exp in config["experiments"].items():
        where = f"experiments.{exp_name}"
        dataset = exp["dataset"]
        _check_dataset_section(config, where, dataset)
        _check_encoding(where, exp["encoding"], dataset)
        n_train = config["datasets"][dataset].get("n_train")
        if n_train is not None and exp["training"]["batch_size"] > n_train:
            raise ConfigError(
                f"config error at {where}.training.batch_size: {exp['training']['batch_size']} is "
                f"larger than the dataset's n_train={n_train}"
            )
        for method_name, method in exp["methods"].items():
            m_where = f"{where}.methods.{method_name}"
            reg = REGULARIZERS[method["regularizer"]]
            allowed = set(reg.params) | {"regularizer", "lambdas", "neuron"}
            for key in method:
                if key not in allowed:
                    raise ConfigError(
                        f"config error at {m_where}.{key}: not a parameter of regularizer "
                        f"{method['regularizer']!r} (allowed: {sorted(allowed)})"
                    )
            if reg.uses_lambda and "lambdas" not in method:
                raise ConfigError(
                    f"config error at {m_where}.lambdas: required for regularizer {method['regularizer']!r}"
                )
            if not reg.uses_lambda and "lambdas" in method:
                raise ConfigError(
                    f"config error at {m_where}.lambdas: regularizer "
                    f"{method['regularizer']!r} takes no lambda"
                )
            lams = [format_lambda(x) for x in method.get("lambdas", [])]
            if len(set(lams)) != len(lams):
                raise ConfigError(f"config error at {m_where}.lambdas: duplicate values {lams}")


def load_config(path: str | Path, schema_path: str | Path = SCHEMA_PATH) -> dict:
    """Read a YAML config file and validate it (defaults filled)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"config error: {path} is not valid YAML ({err})") from None
    return validate_config(raw, schema_path)


def method_lambdas(method: dict) -> list[str]:
    """Lambda strings of a method; a method without lambda has the single value '0'."""
    if REGULARIZERS[method["regularizer"]].uses_lambda:
        return [format_lambda(x) for x in method["lambdas"]]
    return [format_lambda(0.0)]


def expand_runs(config: dict, experiments: list[str] | None = None) -> list[RunKey]:
    """Every (experiment, method, lambda, seed) of the study, in config order."""
    runs = []
    for exp_name, exp in config["experiments"].items():
        if experiments is not None and exp_name not in experiments:
            continue
        for method_name, method in exp["methods"].items():
            for lam in method_lambdas(method):
                for seed in exp["training"]["seeds"]:
                    runs.append(RunKey(exp_name, method_name, lam, int(seed)))
    return runs


def expand_conversions(config: dict) -> list[tuple[str, int]]:
    """Every (conversion experiment, seed) of the study: one ANN trained and converted per pair."""
    return [
        (name, int(seed))
        for name, conv in config.get("conversions", {}).items()
        for seed in conv["ann"]["seeds"]
    ]


def ann_spec(config: dict, name: str, seed: int) -> dict:
    """What determines one conversion job's ANN: dataset, ANN settings and seed. Normalizations,
    alphas and time steps are not in it, so changing them reconverts without retraining."""
    conv = config["conversions"][name]
    return {
        "experiment": name,
        "seed": int(seed),
        "dataset": {"name": conv["dataset"], **config["datasets"][conv["dataset"]]},
        "ann": {k: v for k, v in conv["ann"].items() if k != "seeds"},
        "device": config["device"],
    }


def conversion_spec(config: dict, name: str, seed: int) -> dict:
    """Everything that determines one conversion job's numbers (the seed list excluded)."""
    conv = config["conversions"][name]
    sweep = ("normalizations", "percentile", "calibration_samples", "alphas", "time_steps")
    return {**ann_spec(config, name, seed), **{k: conv[k] for k in sweep}}


def run_spec(config: dict, key: RunKey) -> dict:
    """Everything that determines one run's numbers, and nothing else (no seed list, no other
    methods), so Snakemake reruns a job exactly when its own spec changes."""
    exp = config["experiments"][key.experiment]
    method = exp["methods"][key.method]
    if key.lam not in method_lambdas(method):
        raise ConfigError(f"no lambda {key.lam} in experiments.{key.experiment}.methods.{key.method}")
    neuron = {**exp["model"]["neuron"], **method.get("neuron", {})}
    reg_params = {k: method[k] for k in REGULARIZERS[method["regularizer"]].params if k in method}
    training = {k: v for k, v in exp["training"].items() if k != "seeds"}
    return {
        "experiment": key.experiment,
        "study": exp["study"],
        "method": key.method,
        "seed": key.seed,
        "dataset": {"name": exp["dataset"], **config["datasets"][exp["dataset"]]},
        "encoding": dict(exp["encoding"]),
        "model": {**{k: v for k, v in exp["model"].items() if k != "neuron"}, "neuron": neuron},
        "regularizer": {"name": method["regularizer"], "lam": float(key.lam), **reg_params},
        "training": training,
        "device": config["device"],
    }
