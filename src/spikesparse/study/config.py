"""Config validation and expansion of the study into runs.

Why here and not only in the schema: the schema (``config.schema.yaml`` inside the package, so a
wheel carries it) fills defaults and rejects unknown keys and wrong types; this module adds the
rules a schema cannot say (non-finite numbers, keys that are not text, a batch larger than the
dataset, an encoding that does not fit its dataset, a conv kernel larger than its input), asks
each dataset, encoder and regularizer to check its own parameters
(``spikesparse.study.components``: every component declares them where it is defined) and each
regularizer its schedule against the epochs (``Regularizer.schedule_problem``: a two-phase switch
after the last epoch), and turns every error into one line naming the key path. ``regime_maps`` (grids over
drive knobs) become ordinary experiments here (``expand_regime_maps``), so nothing downstream
needs to know about them. A validated config is expanded into runs by ``spikesparse.study.runs``;
validation refuses a run whose estimated peak memory cannot fit (``spikesparse.study.budget``).
``load_config`` reads the file: UTF-8 text, no key written twice in one mapping."""

from __future__ import annotations

import copy
import functools
import itertools
import math
from pathlib import Path

import jsonschema
import yaml

from ..errors import ConfigError
from ..layer_spec import check_ann_layers, check_layers, layer_shapes
from ..plugins import resolve_regularizer
from .components import Validator, key_path, type_cause
from .registry import component, dataset_is_static, param_schema, validate_params
from .runs import format_lambda

SCHEMA_PATH = Path(__file__).resolve().with_name("config.schema.yaml")


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
    """The schema at ``path``, a copy the caller may change (parsed once per process: the YAML
    parse takes about 80 ms, and a training job checks each hand-given spec against it)."""
    return copy.deepcopy(_parsed_schema(str(path)))


@functools.lru_cache(maxsize=8)
def _parsed_schema(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _reject_nonfinite(node, parts) -> None:
    """Non-finite numbers, and keys that are not text (YAML reads an unquoted on, off, yes, no
    as a boolean, and a number as a number: the schema's key patterns then raised a TypeError)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                why = (
                    "YAML reads an unquoted on, off, yes, no, true or false as a boolean"
                    if isinstance(k, bool)
                    else "YAML reads an unquoted number as a number"
                )
                raise ConfigError(
                    f"config error at {key_path(parts)}: key {k!r} is not text ({why}: quote the key)"
                )
            _reject_nonfinite(v, [*parts, k])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _reject_nonfinite(v, [*parts, i])
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"config error at {key_path(parts)}: {node} is not a finite number")


def _describe(error: jsonschema.ValidationError) -> str:
    where = key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        return f"config error at {where}: {error.message} (unknown key)"
    if error.validator == "required":
        return f"config error at {where}: {error.message} (missing required key)"
    if error.validator == "type":
        # a whole-number float where an integer belongs, a number YAML read as text
        slip = type_cause(error.instance, error.validator_value)
        if slip is not None:
            return f"config error at {where}: {slip}"
    return f"config error at {where}: {error.message} (rule: {error.validator})"


def validate_config(config, schema_path: str | Path = SCHEMA_PATH, schema: dict | None = None) -> dict:
    """Fill defaults into ``config`` in place and check it; raise ConfigError on the first problem.
    ``schema``: an already loaded (or adapted) schema instead of the file at ``schema_path``."""
    if not isinstance(config, dict):
        raise ConfigError(
            f"config error at <root>: must be a mapping of keys to values, got {type(config).__name__}"
        )
    _reject_nonfinite(config, [])
    _layer_models_before_defaults(config)
    schema = load_schema(schema_path) if schema is None else schema
    validator = _with_defaults(Validator)(schema)
    errors = list(validator.iter_errors(config))
    if errors:
        # Report the deepest error: it names the most specific key path.
        error = max(errors, key=lambda e: len(e.absolute_path))
        raise ConfigError(_describe(error))
    # The experiments as written first (a map's knobs are looked up in its base's encoder), then
    # the cells of the regime maps (those of an earlier expansion are about to be replaced).
    maps = config["regime_maps"]
    written = [n for n, e in config["experiments"].items() if e.get("regime", {}).get("map") not in maps]
    _check_semantics(config, written)
    cells = expand_regime_maps(config, copy.deepcopy(schema))
    if cells:
        # The cells are ordinary experiments now: the schema (and, for encoding knobs, the
        # encoder) checks each knob value's type and range in place (e.g. a threshold of 0) and
        # fills nothing new (the base was filled).
        errors = list(validator.iter_errors(config))
        if errors:
            error = max(errors, key=lambda e: len(e.absolute_path))
            parts = list(error.absolute_path)
            cell = parts[1] if len(parts) > 1 and parts[0] == "experiments" else None
            raise ConfigError(_describe(error) + _cell_suffix(config, cell))
        _check_semantics(config, cells)
    for exp in config["experiments"].values():  # each pass of the schema filled hidden in again
        if "layers" in exp["model"]:
            exp["model"].pop("hidden", None)
    for conv in config["conversions"].values():
        if "layers" in conv["ann"]:
            conv["ann"].pop("hidden", None)
    from .budget import check_memory

    check_memory(config)  # a run whose estimated peak memory cannot fit is refused here
    return config


def _knob_text(value: float) -> str:
    """A knob value as it appears in an experiment name: 2.0 -> '2', 1.5 -> '1p5', 1e-05 -> '1em05'."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format_lambda(value).replace(".", "p").replace("-", "m")


def _knob_schema(schema: dict, path: str, where: str, encoder: dict) -> dict:
    """The schema of ``path`` inside an experiment; ConfigError when no such key exists. Keys
    under ``encoding`` are the parameters the experiment's encoder declares (``encoder``)."""
    node = schema["properties"]["experiments"]["patternProperties"]["^[a-z][a-z0-9_]*$"]
    walked = []
    for part in path.split("."):
        if "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        known = node.get("properties", {})
        if walked == ["encoding"]:
            known = {**known, **encoder}
        if part not in known:
            inside = ".".join(walked) or "an experiment"
            raise ConfigError(
                f"config error at {where}: {path!r} is not a key of an experiment "
                f"({part!r} is not under {inside}; known: {sorted(known)})"
            )
        node = known[part]
        walked.append(part)
    if "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    kinds = node.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if not kinds & {"number", "integer"}:
        raise ConfigError(
            f"config error at {where}: {path!r} is not a numeric key (schema type {node.get('type')})"
        )
    return node


def expand_regime_maps(config: dict, schema: dict | None = None) -> list[str]:
    """Turn every ``regime_maps`` entry into ordinary experiments, one per grid cell; return their names.

    Why: a regime map is a grid over drive knobs (input gain, weight init scale, ...) of one base
    experiment, each cell running the same methods. Writing the cells out by hand would repeat the
    base and let the cells drift apart; expanding them here, inside validation, means every later
    step (runs, Snakemake jobs, tables, figures, claims) sees plain experiments. A cell is named
    ``<map>_<label><value>_...`` (``e1map_g2_s1p5``), copies the base's dataset, encoding, model,
    training and study, takes the map's methods and seeds, sets each knob at its path, and records
    ``regime: {map, knobs: {path: value}}`` so tables can place it on the grid. Cells of an earlier
    expansion are replaced, so validating an already validated config changes nothing.
    """
    maps = config.get("regime_maps") or {}
    experiments = config.get("experiments")
    if not maps or not isinstance(experiments, dict):
        return []
    schema = schema if schema is not None else load_schema()
    earlier = [
        n for n, e in experiments.items() if isinstance(e, dict) and e.get("regime", {}).get("map") in maps
    ]
    for name in earlier:
        del experiments[name]
    created = []
    for map_name, spec in maps.items():
        where = f"regime_maps.{map_name}"
        base_name = spec["base"]
        if base_name not in experiments:
            raise ConfigError(
                f"config error at {where}.base: no experiment {base_name!r} (known: {sorted(experiments)})"
            )
        base = experiments[base_name]
        knobs = spec["knobs"]
        for field in ("path", "label"):
            seen = [k[field] for k in knobs]
            if len(set(seen)) != len(seen):
                raise ConfigError(f"config error at {where}.knobs: duplicate {field}s {seen}")
        encoder_name = base.get("encoding", {}).get("name", "rate")
        try:
            encoder = param_schema("encoder", encoder_name) or {}
        except ValueError as err:
            raise ConfigError(f"config error at experiments.{base_name}.encoding.name: {err}") from None
        integer = []
        for i, knob in enumerate(knobs):
            node = _knob_schema(schema, knob["path"], f"{where}.knobs[{i}].path", encoder)
            integer.append(node.get("type") == "integer")
        for values in itertools.product(*(k["values"] for k in knobs)):
            labels = [k["label"] + _knob_text(v) for k, v in zip(knobs, values, strict=True)]
            cell_name = "_".join([map_name, *labels])
            if cell_name in experiments:
                raise ConfigError(
                    f"config error at {where}: cell name {cell_name!r} is already used by "
                    f"experiments.{cell_name}"
                )
            skip = ("description", "methods", "regime")
            cell = {k: copy.deepcopy(v) for k, v in base.items() if k not in skip}
            cell["methods"] = copy.deepcopy(spec["methods"])
            cell["training"]["seeds"] = list(spec.get("seeds", base["training"]["seeds"]))
            settings = {}
            for knob, value, is_int in zip(knobs, values, integer, strict=True):
                value = int(value) if is_int and float(value).is_integer() else value
                *parents, leaf = knob["path"].split(".")
                node = cell
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = value
                settings[knob["path"]] = value
            values_text = ", ".join(f"{p}={v}" for p, v in settings.items())
            cell["description"] = f"{map_name} cell of {base_name}: {values_text}"
            cell["regime"] = {"map": map_name, "knobs": settings}
            experiments[cell_name] = cell
            created.append(cell_name)
    return created


# Keys of a method that belong to the study, not to its regularizer.
METHOD_KEYS = ("regularizer", "lambdas", "neuron", "seeds")


def _check_dataset_section(config: dict, where: str, dataset: str) -> None:
    if dataset not in config["datasets"]:
        raise ConfigError(
            f"config error at {where}.dataset: dataset {dataset!r} has no section under datasets"
        )


def _check_params(kind: str, name: str, params: dict, where: str, name_at: str, suffix: str = "") -> None:
    """Ask component ``name`` of ``kind`` to check ``params`` (the block at ``where``); an unknown
    component is reported at ``name_at``. Defaults the component declares are filled in place."""
    try:
        errors = validate_params(kind, name, params)
    except ValueError as err:
        raise ConfigError(f"config error at {name_at}: {err}{suffix}") from None
    if errors:
        raise ConfigError(f"config error at {where}.{errors[0]}{suffix}")


def _check_datasets(config: dict) -> None:
    for name, section in config["datasets"].items():
        where = f"datasets.{name}"
        name_at = f"{where}.generator" if "generator" in section else where
        _check_params("dataset", name, section, where, name_at)


def _is_static(config: dict, dataset: str) -> bool:
    try:
        return dataset_is_static(dataset, config["datasets"][dataset])
    except ValueError as err:
        raise ConfigError(f"config error at datasets.{dataset}.generator: {err}") from None


def _regularizer(method: dict, where: str):
    """The method's Regularizer class (built-in or plugin); an unknown one names the key path."""
    try:
        return resolve_regularizer(method["regularizer"])
    except ValueError as err:
        raise ConfigError(f"config error at {where}.regularizer: {err}") from None


def _check_encoding(config: dict, where: str, encoding: dict, dataset: str, suffix: str) -> None:
    name = encoding["name"]
    params = {k: v for k, v in encoding.items() if k != "name"}
    _check_params("encoder", name, params, f"{where}.encoding", f"{where}.encoding.name", suffix)
    static = _is_static(config, dataset)
    if static and "n_steps" not in encoding:
        raise ConfigError(
            f"config error at {where}.encoding.n_steps: required for the static dataset {dataset!r}"
        )
    if not static and "n_steps" in encoding:
        raise ConfigError(
            f"config error at {where}.encoding.n_steps: the sequence dataset {dataset!r} sets its own "
            "number of steps (n_steps of the dataset)"
        )
    if not static and getattr(component("encoder", name), "static_only", False):
        raise ConfigError(
            f"config error at {where}.encoding.name: {name} coding needs a static dataset (one "
            f"feature vector per sample), not the sequence dataset {dataset!r}"
        )
    if static and getattr(component("encoder", name), "sequence_only", False):
        raise ConfigError(
            f"config error at {where}.encoding.name: {name} passes spikes through and needs a "
            f"sequence dataset, not the static dataset {dataset!r}"
        )
    section = config["datasets"][dataset]
    if "generator" not in section and getattr(component("dataset", dataset, section), "events", False):
        if name != "spikes":
            raise ConfigError(
                f"config error at {where}.encoding.name: dataset {dataset!r} holds spikes already "
                f"(binned events); use name: spikes, not {name!r}"
            )


def _check_conversions(config: dict) -> None:
    for name, conv in config.get("conversions", {}).items():
        where = f"conversions.{name}"
        _check_dataset_section(config, where, conv["dataset"])
        if not _is_static(config, conv["dataset"]):
            raise ConfigError(
                f"config error at {where}.dataset: conversion feeds each sample's rates in [0, 1] as "
                f"Bernoulli spikes; dataset {conv['dataset']!r} holds sequences"
            )
        _check_ann_layers(conv["ann"], f"{where}.ann")
        sizes = _data_sizes(config, conv["dataset"])
        if sizes is not None and conv["ann"].get("layers"):
            # the ANN sees each sample's features flat (conversion_jobs.build_ann)
            _check_layer_sizes(conv["ann"], math.prod(sizes["shape"]), sizes, f"{where}.ann", "")
        if 0 not in conv["alphas"]:
            raise ConfigError(
                f"config error at {where}.alphas: must include 0 (the unadjusted baseline), "
                f"got {conv['alphas']}"
            )
        if name in config["experiments"]:
            raise ConfigError(f"config error at {where}: name already used by experiments.{name}")


def _check_ann_layers(ann: dict, where: str) -> None:
    """A converted ANN given as ``layers`` (``layer_spec.check_ann_layers``)."""
    if "layers" not in ann:
        return
    try:
        check_ann_layers(ann["layers"], ann.get("input_shape"))
    except ValueError as err:
        raise ConfigError(f"config error at {where}.{err}") from None


def _cell_suffix(config: dict, exp_name) -> str:
    """`` (a cell of regime_maps.<map>)`` for an experiment expanded from a regime map, else ''."""
    exp = config["experiments"].get(exp_name) if isinstance(exp_name, str) else None
    origin = exp.get("regime", {}).get("map") if isinstance(exp, dict) else None
    return f" (a cell of regime_maps.{origin})" if origin else ""


def _layer_models_before_defaults(config: dict) -> None:
    """A model given as ``layers`` says its kind per layer: ``hidden`` beside it is an error, and
    ``kind`` defaults to feedforward there (recurrent is an error: write ``recurrent: {units}``
    entries). Run before the schema fills ``hidden`` and ``kind`` in."""
    experiments = config.get("experiments")
    if not isinstance(experiments, dict):
        return
    for name, conv in (config.get("conversions") or {}).items():
        ann = conv.get("ann") if isinstance(conv, dict) else None
        if isinstance(ann, dict) and "layers" in ann and "hidden" in ann:
            raise ConfigError(
                f"config error at conversions.{name}.ann.hidden: give either hidden or layers, not both"
            )
    for name, exp in experiments.items():
        model = exp.get("model") if isinstance(exp, dict) else None
        if not isinstance(model, dict) or "layers" not in model:
            continue
        where = f"config error at experiments.{name}.model"
        if "hidden" in model:
            raise ConfigError(f"{where}.hidden: give either hidden or layers, not both")
        if model.setdefault("kind", "feedforward") == "recurrent":
            raise ConfigError(
                f"{where}.kind: with layers, kind is feedforward; a recurrent layer is a "
                "'recurrent: {units: N}' entry of layers"
            )


def _check_layers(exp: dict, where: str, suffix: str) -> None:
    """A ``layers`` model: the layer order (``layer_spec.check_layers``). (``hidden``, which the
    schema fills in, is dropped at the end of ``validate_config``: the layers say it.)"""
    model = exp["model"]
    if "layers" not in model:
        return
    try:
        check_layers(model["layers"], model.get("input_shape"))
    except ValueError as err:
        raise ConfigError(f"config error at {where}.model.{err}{suffix}") from None


def _data_sizes(config: dict, dataset: str) -> dict | None:
    """The per-sample ``shape`` (and a declared ``input_shape``) of a dataset from its config
    section, without reading any file (a file-backed dataset: the shape its kind has, from
    ``local_data.OFFICIAL_SIZES``; sample counts there are not this config's and are not used);
    None when unknown (a plugin dataset)."""
    from .budget import dataset_sizes
    from .local_data import official_sizes

    with official_sizes():
        return dataset_sizes(dataset, config["datasets"][dataset])


def _check_batch(config: dict, batch: int, dataset: str, sizes: dict | None, where: str) -> None:
    """A batch larger than the training split: one batch per epoch, almost surely a typo. Against
    the section's own ``n_train`` where it states one; else against the whole dataset, since a
    split drawn by fractions per class is known here only to within its rounding."""
    n_train = config["datasets"][dataset].get("n_train")
    if n_train is not None and batch > n_train:
        raise ConfigError(f"config error at {where}: {batch} is larger than the dataset's n_train={n_train}")
    if sizes is not None:
        total = sum(int(sizes[k]) for k in ("n_train", "n_val", "n_test"))
        if batch > total:
            raise ConfigError(
                f"config error at {where}: {batch} is larger than the whole dataset ({total} samples; "
                f"its training split about {int(sizes['n_train'])})"
            )


def _check_layer_sizes(model: dict, n_in: int, sizes: dict, where: str, suffix: str) -> None:
    """Refuse a conv kernel larger than its padded input or a pool window larger than its input,
    on the shape walk of the cost estimate (``layer_spec.layer_shapes``: the models' input rule and
    window arithmetic). The model build fails on either; the estimate continues past them, so they
    passed validation and failed in the job. ``where`` is the model or ANN block."""
    try:
        layers = layer_shapes(model, n_in, sizes.get("input_shape"))
    except ValueError as err:  # e.g. an input_shape whose product is not the data's features
        part = str(err).removeprefix("model.")
        raise ConfigError(f"config error at {where}.{part}{suffix}") from None
    for j, layer in enumerate(layers):
        if layer.fits:
            continue
        conv = layer.kind != "pool"
        key, given = ("kernel", "padded input") if conv else ("size", "input")
        inner = layer.window_in[0] if len(layer.window_in) == 1 else layer.window_in
        raise ConfigError(
            f"config error at {where}.layers[{j}].{layer.kind}.{key}: {layer.params[key]} is larger "
            f"than its {given} {inner}{suffix}"
        )


def _check_schedule(reg, params: dict, epochs: int, where: str, suffix: str) -> None:
    """The regularizer's own check of its schedule (``params``: its keys of the method) against the
    experiment's epochs (``Regularizer.schedule_problem``), named at the method's key."""
    problem = reg.schedule_problem(params, epochs)
    if problem is not None:
        key, why = problem
        raise ConfigError(f"config error at {where}.{key}: {why}{suffix}")


def _check_semantics(config: dict, experiments: list[str]) -> None:
    """The rules the schema cannot say, for the datasets, conversions and ``experiments``."""
    _check_datasets(config)
    _check_conversions(config)
    for exp_name in experiments:
        exp = config["experiments"][exp_name]
        where = f"experiments.{exp_name}"
        _check_layers(exp, where, _cell_suffix(config, exp_name))
        dataset = exp["dataset"]
        _check_dataset_section(config, where, dataset)
        suffix = _cell_suffix(config, exp_name)
        _check_encoding(config, where, exp["encoding"], dataset, suffix)
        sizes = _data_sizes(config, dataset)
        if sizes is not None and exp["model"].get("layers"):
            from .encoding import encoded_size  # the training's rule: features x population

            n_in = encoded_size(int(sizes["shape"][-1]), exp["encoding"])
            _check_layer_sizes(exp["model"], n_in, sizes, f"{where}.model", suffix)
        _check_batch(config, exp["training"]["batch_size"], dataset, sizes, f"{where}.training.batch_size")
        for method_name, method in exp["methods"].items():
            m_where = f"{where}.methods.{method_name}"
            reg = _regularizer(method, m_where)
            params = {k: v for k, v in method.items() if k not in METHOD_KEYS}
            name_at = f"{m_where}.regularizer"
            _check_params("regularizer", method["regularizer"], params, m_where, name_at, suffix)
            method.update(params)  # defaults the regularizer declares, if any
            _check_schedule(reg, params, exp["training"]["epochs"], m_where, suffix)
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


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key written twice in one mapping.

    Why: PyYAML keeps the last of two equal keys without a word, so a second ``spike_count:``
    block under ``methods`` (or a second ``experiments:``) silently replaced the first. Before the
    document is built, every mapping of the parsed tree is checked with its key path (which the
    mapping constructor alone does not know); a merge key (``<<: *anchor``) may be overridden by
    the mapping's own keys, as YAML means it."""

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        self._check_duplicates(node, [], set())
        return self.construct_document(node)

    def _check_duplicates(self, node, parts: list, seen: set) -> None:
        if id(node) in seen:  # an alias: checked where its anchor is
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._check_duplicates(item, [*parts, i], seen)
            return
        if not isinstance(node, yaml.MappingNode):
            return
        first_line: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._check_duplicates(value_node, parts, seen)
                continue
            key = self.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key is not None:
                try:
                    earlier = first_line.get(key)
                except TypeError:  # an unhashable key: the constructor reports it
                    earlier = None
                if earlier is not None:
                    raise ConfigError(
                        f"config error at {key_path(parts)}: duplicate key {key!r} (line {line}; "
                        f"first at line {earlier}: YAML would keep only the last)"
                    )
                first_line.setdefault(key, line)
            self._check_duplicates(value_node, [*parts, key if key is not None else key_node.value], seen)


def load_config(path: str | Path, schema_path: str | Path = SCHEMA_PATH) -> dict:
    """Read a YAML config file (``read_config_file``) and validate it (defaults filled)."""
    return validate_config(read_config_file(path), schema_path)


def read_config_file(path: str | Path):
    """The YAML of a config file, unvalidated: UTF-8 text, no key written twice in a mapping,
    valid YAML, each named on one line as a ConfigError. The workflow reads its ``--configfile``
    through this as well (``workflow/rules/common.smk``): Snakemake's own loader would keep the
    last of two equal keys without a word."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"config error: {path} is not UTF-8 text (byte {err.start}, line {line}: "
            f"{data[err.start : err.start + 1]!r} {err.reason})"
        ) from None
    try:
        raw = yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as err:
        # One line, like every config error: where the parser stopped and why.
        mark = getattr(err, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        cause = " ".join(str(getattr(err, "problem", None) or err).split())
        raise ConfigError(f"config error: {path} is not valid YAML ({at}{cause})") from None
    return raw
