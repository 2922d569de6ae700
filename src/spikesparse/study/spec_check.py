"""A spec written by hand (``spikesparse train``, ``train-ann``, ``convert --spec``), checked by the
config's own rules.

Why a round trip: a spec is one run of a config made explicit (``runs.run_spec``, ``ann_spec``,
``conversion_spec``). The workflow's specs come from a validated config; a hand-written one could
hold a negative learning rate, an unknown neuron key or a kernel larger than its input, and would
then fail deep inside training, or train on something no config allows. So the spec is turned back
into the one-experiment config it is a run of, validated there by ``config.validate_config`` (the
same schema, component parameters and rules as ``check-config``), and expanded again: the result
must be the spec given. A value the config refuses is named by its key in the spec; a nested key
the spec lacks (the config would fill its default) is named too, since the run would otherwise
record a spec that is not the one it trained."""

from __future__ import annotations

import copy
import re

from ..errors import ConfigError
from ..plugins import resolve_regularizer
from .config import load_schema, validate_config
from .local_data import official_sizes
from .runs import CONVERSION_SWEEP, SPEC_KEYS, RunKey, ann_spec, conversion_spec, format_lambda, run_spec

# Keys a spec may leave out: their value is the config's default (``device``), or they are set
# only on some runs (``regime``: a regime map's cells).
_OPTIONAL = ("device", "regime")
_NO_KEY = object()
_CONFIG_PATH = re.compile(r"\b(?:experiments|conversions|datasets)\.[A-Za-z0-9_.\[\]]+")


def check_spec(spec, kind: str) -> dict:
    """``spec`` unchanged if it is a complete ``kind`` spec ("run", "ANN" or "conversion") whose
    values a config allows; otherwise a ConfigError naming the key in the spec."""
    if not isinstance(spec, dict):
        raise ConfigError(f"a {kind} spec must be a JSON object, got {type(spec).__name__}")
    missing = [k for k in SPEC_KEYS[kind] if k not in spec]
    if missing:
        raise ConfigError(f"the {kind} spec lacks {missing}{_hint(kind)}")
    for key in ("dataset", "model", "encoding", "training", "regularizer", "ann"):
        if key in spec and not isinstance(spec[key], dict):
            raise ConfigError(
                f"the {kind} spec's {key} must be a JSON object, got {type(spec[key]).__name__}"
            )
    if not isinstance(spec["dataset"].get("name"), str):
        raise ConfigError(f"the {kind} spec's dataset lacks its name (the section's name under datasets)")
    config = _config_of(spec, kind)
    try:
        # The job reads its data from a prepared file (checked against its meta file), not from the
        # dataset's source folder, which need not be on this machine: file checks are skipped.
        with official_sizes():
            validated = validate_config(config, schema=_schema(kind))
        again = _expand(validated, spec, kind)
    except ConfigError as err:
        raise ConfigError(_in_spec_terms(str(err), spec, kind)) from None
    _compare(spec, again, kind)
    return spec


def _hint(kind: str) -> str:
    return "; `spikesparse spec` prints a complete one for a run of a config" if kind == "run" else ""


def _schema(kind: str) -> dict:
    """The config schema; an ANN or conversion spec's config has no experiments."""
    schema = load_schema()
    if kind != "run":
        schema["required"] = [k for k in schema["required"] if k != "experiments"]
        schema["properties"]["experiments"].pop("minProperties", None)
    return schema


def _without_hidden(net: dict) -> dict:
    """A layer-list net's section without ``hidden``, which the builders ignore beside ``layers``.
    The workflow's specs carry it there (Snakemake's own validation fills the schema's default
    back in after ours removed it, and the run's config hash includes it), so a spec may hold
    both; a config may not."""
    return {k: v for k, v in net.items() if k != "hidden"} if "layers" in net else net


def _config_of(spec: dict, kind: str) -> dict:
    """The config of which ``spec`` is a run: its dataset, and one experiment (or conversion) with
    one method, one lambda and one seed."""
    spec = copy.deepcopy(spec)
    for key in ("model", "ann"):
        if isinstance(spec.get(key), dict):
            spec[key] = _without_hidden(spec[key])
    dataset = spec["dataset"]
    name = dataset.pop("name")
    config = {"datasets": {name: dataset}, "experiments": {}}
    if "device" in spec:
        config["device"] = spec["device"]
    if kind == "run":
        reg = spec["regularizer"]
        method = {k: v for k, v in reg.items() if k not in ("name", "lam")}
        method["regularizer"] = reg.get("name")
        if _uses_lambda(reg.get("name")):
            method["lambdas"] = [reg.get("lam")]
        experiment = {
            "study": spec["study"],
            "dataset": name,
            "encoding": spec["encoding"],
            "model": spec["model"],
            "training": {**spec["training"], "seeds": [spec["seed"]]},
            "methods": {spec["method"]: method},
        }
        regime = spec.get("regime")
        if isinstance(regime, dict) and isinstance(regime.get("knobs"), list):
            # a cell of a regime map: its knobs' values are in the spec (path: encoding.gain, ...)
            knobs = {path: _at(spec, path) for path in regime["knobs"]}
            experiment["regime"] = {**regime, "knobs": knobs}
        elif regime is not None:
            experiment["regime"] = regime
        config["experiments"][spec["experiment"]] = experiment
    else:
        conversion = {"dataset": name, "ann": {**spec["ann"], "seeds": [spec["seed"]]}}
        conversion.update({k: spec[k] for k in CONVERSION_SWEEP if k in spec})
        config["conversions"] = {spec["experiment"]: conversion}
    return config


def _uses_lambda(name) -> bool:
    """Whether the regularizer takes a lambda; an unknown name is left to validation to name."""
    try:
        return resolve_regularizer(name).uses_lambda
    except (ConfigError, TypeError, ValueError, ImportError, AttributeError):
        return True


def _at(spec: dict, path: str):
    """The value at a dotted ``path`` of ``spec`` (``encoding.gain``), None where there is none."""
    node = spec
    for part in str(path).split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _expand(config: dict, spec: dict, kind: str) -> dict:
    """The validated config's spec for the given run, as the workflow would write it."""
    if kind == "run":
        lam = spec["regularizer"].get("lam")
        if not _uses_lambda(spec["regularizer"]["name"]) and lam not in (0, 0.0):
            raise ConfigError(
                f"config error at regularizer.lam: regularizer {spec['regularizer']['name']!r} takes "
                f"no lambda, so its runs have lam 0, got {lam!r}"
            )
        key = RunKey(spec["experiment"], spec["method"], format_lambda(lam), spec["seed"])
        return run_spec(config, key)
    build = ann_spec if kind == "ANN" else conversion_spec
    return build(config, spec["experiment"], spec["seed"])


def _in_spec_terms(message: str, spec: dict, kind: str) -> str:
    """A config error's key paths as the spec's keys: ``experiments.e1.training.lr`` is the spec's
    ``training.lr``, ``datasets.digits.n_val`` its ``dataset.n_val``."""
    section = f"experiments.{spec['experiment']}" if kind == "run" else f"conversions.{spec['experiment']}"
    method = f"{section}.methods.{spec.get('method')}"
    renames = [  # longest first
        (f"{method}.lambdas[0]", "regularizer.lam"),
        (f"{method}.lambdas", "regularizer.lam"),
        (f"{method}.regularizer", "regularizer.name"),
        (method, "regularizer"),
        (f"{section}.methods", "method"),
        (f"{section}.training.seeds[0]", "seed"),
        (f"{section}.training.seeds", "seed"),
        (f"{section}.ann.seeds[0]", "seed"),
        (f"{section}.ann.seeds", "seed"),
        (f"{section}.dataset", "dataset.name"),
        (section, ""),
        (f"datasets.{spec['dataset']['name']}", "dataset"),
    ]

    def rename(match) -> str:
        path = match.group(0).rstrip(".")
        for old, new in renames:
            if path == old or path.startswith((old + ".", old + "[")):
                rest = path[len(old) :]
                path = new + rest if new else rest.lstrip(".") or "<root>"
                break
        return path + match.group(0)[len(match.group(0).rstrip(".")) :]

    message = _CONFIG_PATH.sub(rename, message)
    for table in ("experiments", "conversions"):  # a name the schema's key pattern refuses
        message = message.replace(f"at {table}:", "at experiment:")
    return message.replace("config error at", f"{kind} spec error at", 1)


def _compare(spec: dict, again: dict, kind: str) -> None:
    """Refuse a spec that is not the expansion of its own config: a nested key it lacks, or one
    the config would hold another value for."""
    lacks, differ = [], []
    given = {
        k: _without_hidden(v) if k in ("model", "ann") and isinstance(v, dict) else v for k, v in spec.items()
    }
    _walk(given, again, [], lacks, differ)
    lacks = [p for p in lacks if p not in _OPTIONAL]
    if lacks:
        raise ConfigError(
            f"the {kind} spec lacks {lacks} (a config fills their defaults; a spec states every "
            f"value){_hint(kind)}"
        )
    if differ:
        path, value, expected = differ[0]
        if expected is _NO_KEY:
            raise ConfigError(f"{kind} spec error at {path}: unknown key (a {kind} spec has {sorted(again)})")
        raise ConfigError(
            f"{kind} spec error at {path}: {value!r} is not what its config gives ({expected!r})"
        )


def _walk(given, expected, parts: list, lacks: list, differ: list) -> None:
    """Collect the key paths ``expected`` has and ``given`` lacks, and (path, value, expected
    value or ``_NO_KEY``) where they differ."""
    if isinstance(given, dict) and isinstance(expected, dict):
        for key, value in expected.items():
            if key not in given:
                lacks.append(".".join(map(str, [*parts, key])))
            else:
                _walk(given[key], value, [*parts, key], lacks, differ)
        for key in given.keys() - expected.keys():
            if not parts and key in _OPTIONAL:
                continue
            differ.append((".".join(map(str, [*parts, key])), given[key], _NO_KEY))
    elif given != expected:
        differ.append((".".join(map(str, parts)) or "<root>", given, expected))
