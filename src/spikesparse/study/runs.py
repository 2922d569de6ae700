"""What a *run* of a validated config is, and the study's jobs.

A run is one (experiment, method, lambda, seed) (``RunKey``), with a fully resolved spec
(``run_spec``) that becomes the Snakemake ``params`` of its jobs, so a changed value reruns
exactly the jobs it touches. Training jobs group a setting's seeds (``TrainRule``); conversion
jobs (E4) are one ANN and one sweep per (experiment, seed).

Why apart from ``spikesparse.study.config``: the cost of a run (``spikesparse.study.budget``) is estimated
from its spec, and config validation refuses a run that cannot fit; with the run list in
``config`` the two modules imported each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..plugins import resolve_regularizer


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


def method_lambdas(method: dict) -> list[str]:
    """Lambda strings of a method; a method without lambda has the single value '0'."""
    if resolve_regularizer(method["regularizer"]).uses_lambda:
        return [format_lambda(x) for x in method["lambdas"]]
    return [format_lambda(0.0)]


def method_seeds(exp: dict, method: dict) -> list[int]:
    """The seeds of a method's runs: its own list (costly arms of a sweep may run on fewer), else
    its experiment's."""
    return [int(s) for s in method.get("seeds", exp["training"]["seeds"])]


def expand_runs(config: dict, experiments: list[str] | None = None) -> list[RunKey]:
    """Every (experiment, method, lambda, seed) of the study, in config order."""
    runs = []
    for exp_name, exp in config["experiments"].items():
        if experiments is not None and exp_name not in experiments:
            continue
        for method_name, method in exp["methods"].items():
            for lam in method_lambdas(method):
                for seed in method_seeds(exp, method):
                    runs.append(RunKey(exp_name, method_name, lam, seed))
    return runs


@dataclass(frozen=True)
class TrainRule:
    """One Snakemake training rule: the runs of ``experiment`` whose methods share one seed list.

    Why: a job of this rule trains every seed of one (method, lambda) in one process, so torch is
    imported, the dataset loaded and validation encoded once per setting instead of once per run,
    while every run keeps its own output files. A Snakemake rule's outputs cannot depend on its
    wildcards' values beyond their text, so the seed list is fixed per rule: one rule per
    experiment, plus one per method that overrides the experiment's seeds."""

    name: str
    experiment: str
    methods: tuple[str, ...]
    seeds: tuple[int, ...]

    def runs(self, method: str, lam: str) -> list[RunKey]:
        """The runs one job of this rule trains, in seed order."""
        return [RunKey(self.experiment, method, lam, seed) for seed in self.seeds]


def train_rules(config: dict) -> list[TrainRule]:
    """The training rules of the study (see ``TrainRule``); every run of ``expand_runs`` belongs
    to exactly one job of one rule. Names: ``train_<experiment>``, and
    ``train_<experiment>_<method>`` for a method with its own seed list."""
    rules = []
    for exp_name, exp in config["experiments"].items():
        default = tuple(int(s) for s in exp["training"]["seeds"])
        shared = []
        for method_name, method in exp["methods"].items():
            seeds = tuple(method_seeds(exp, method))
            if seeds == default:
                shared.append(method_name)
            else:
                rules.append(TrainRule(f"train_{exp_name}_{method_name}", exp_name, (method_name,), seeds))
        if shared:
            rules.append(TrainRule(f"train_{exp_name}", exp_name, tuple(shared), default))
    names = [r.name for r in rules]
    taken = {"train_ann", *[n for n in names if names.count(n) > 1]}
    for rule in rules:
        if rule.name in taken:
            raise ConfigError(
                f"config error at experiments.{rule.experiment}: its training rule would be named "
                f"{rule.name!r}, which another experiment, method or rule already uses; rename it"
            )
    return rules


def expand_conversions(config: dict) -> list[tuple[str, int]]:
    """Every (conversion experiment, seed) of the study: one ANN trained and converted per pair."""
    return [
        (name, int(seed))
        for name, conv in config.get("conversions", {}).items()
        for seed in conv["ann"]["seeds"]
    ]


# The keys every spec of a kind has (run_spec: ``regime`` only on a regime map's runs; ann_spec;
# conversion_spec). ``device`` may be left out: it defaults to auto.
CONVERSION_SWEEP = (
    "normalizations",
    "percentile",
    "percentile_of",
    "calibration_samples",
    "alphas",
    "time_steps",
)
SPEC_KEYS = {
    "run": (
        "experiment",
        "study",
        "method",
        "seed",
        "dataset",
        "encoding",
        "model",
        "regularizer",
        "training",
    ),
    "ANN": ("experiment", "seed", "dataset", "ann"),
    "conversion": ("experiment", "seed", "dataset", "ann", *CONVERSION_SWEEP),
}


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
    return {**ann_spec(config, name, seed), **{k: conv[k] for k in CONVERSION_SWEEP}}


def run_spec(config: dict, key: RunKey) -> dict:
    """Everything that determines one run's numbers, and nothing else (no seed list, no other
    methods), so Snakemake reruns a job exactly when its own spec changes."""
    if key.experiment not in config["experiments"]:
        raise ConfigError(f"no experiment {key.experiment!r}; the config has {sorted(config['experiments'])}")
    exp = config["experiments"][key.experiment]
    if key.method not in exp["methods"]:
        raise ConfigError(
            f"no method {key.method!r} in experiments.{key.experiment}; it has {sorted(exp['methods'])}"
        )
    method = exp["methods"][key.method]
    where = f"experiments.{key.experiment}.methods.{key.method}"
    if key.lam not in method_lambdas(method):
        raise ConfigError(f"no lambda {key.lam} in {where}; it has {method_lambdas(method)}")
    seeds = method_seeds(exp, method)
    if key.seed not in seeds:
        raise ConfigError(f"no seed {key.seed} in {where}; its runs have seeds {seeds}")
    neuron = {**exp["model"]["neuron"], **method.get("neuron", {})}
    reg_params = {k: method[k] for k in resolve_regularizer(method["regularizer"]).params if k in method}
    training = {k: v for k, v in exp["training"].items() if k != "seeds"}
    spec = {
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
    if "regime" in exp:
        # Which knobs place this run on a regime map (their values are in encoding/model above).
        spec["regime"] = {"map": exp["regime"]["map"], "knobs": list(exp["regime"]["knobs"])}
    return spec
