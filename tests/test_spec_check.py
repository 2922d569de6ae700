"""A spec given by hand to train, train-ann or convert is held to the config's rules
(``spikesparse.study.spec_check``): every spec the workflow writes passes unchanged, a value a
config refuses is named by its key in the spec, before any data is read or anything trained."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from spikesparse.cli import main
from spikesparse.errors import ConfigError
from spikesparse.study.config import load_config, validate_config
from spikesparse.study.local_data import official_sizes
from spikesparse.study.runs import (
    RunKey,
    ann_spec,
    conversion_spec,
    expand_conversions,
    expand_runs,
    run_spec,
)
from spikesparse.study.spec_check import check_spec
from tests.conftest import QUICK_CONFIG, REPO
from tests.test_cli import _train_argv


def _specs(config: dict) -> list[tuple[str, dict]]:
    """One spec per (experiment, method, lambda) and per conversion, as the workflow writes them."""
    seen, out = set(), []
    for key in expand_runs(config):
        if (key.experiment, key.method, key.lam) not in seen:
            seen.add((key.experiment, key.method, key.lam))
            out.append(("run", run_spec(config, key)))
    for name, seed in expand_conversions(config):
        out += [("ANN", ann_spec(config, name, seed)), ("conversion", conversion_spec(config, name, seed))]
    return out


@pytest.mark.parametrize(
    "config_file", ["config.yaml", "config/quick.yaml", "config/conv.yaml", "config/paper.yaml"]
)
def test_every_spec_the_workflow_writes_passes_unchanged(config_file):
    """paper.yaml's data are on a cluster, not here: its specs pass without their folders (a
    training job reads the prepared file, not the dataset's source)."""
    from snakemake.utils import validate

    from spikesparse.study.config import SCHEMA_PATH

    with official_sizes():
        config = validate_config(yaml.safe_load((REPO / config_file).read_text()))
    validate(config, str(SCHEMA_PATH))  # as workflow/rules/common.smk: it fills hidden back beside layers
    specs = _specs(config)
    if config_file == "config.yaml":  # a regime map's cells, conversions and layer lists are among them
        assert any("regime" in spec for _, spec in specs) and any(k == "ANN" for k, _ in specs)
        assert any("layers" in spec["model"] and "hidden" in spec["model"] for k, spec in specs if k == "run")
    for kind, spec in specs:
        before = copy.deepcopy(spec)
        assert check_spec(spec, kind) is spec
        assert spec == before


BASELINE = RunKey("e1", "baseline", "0.0", 0)


def _quick(key: RunKey = BASELINE) -> dict:
    return run_spec(load_config(QUICK_CONFIG), key)


def _set(spec: dict, path: str, value) -> dict:
    spec = copy.deepcopy(spec)
    *parents, last = path.split(".")
    node = spec
    for part in parents:
        node = node[part]
    node[last] = value
    return spec


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("training.lr", -1.0, "at training.lr: -1.0 is less than or equal to the minimum of 0"),
        ("training.lr", "1e-3", "at training.lr: must be of type number"),
        ("training.lr", float("nan"), "at training.lr: nan is not a finite number"),
        ("training.epochs", 0, "at training.epochs: 0 is less than the minimum of 1"),
        ("training.epochs", 2.0, "at training.epochs: must be an integer, got 2.0"),
        ("training.batch_size", 10_000, "at training.batch_size: 10000 is larger than the dataset's n_train"),
        ("model.hidden", [0], "at model.hidden[0]: 0 is less than the minimum of 1"),
        ("model.neuron.beta", 2, "at model.neuron.beta: 2 is greater than the maximum of 1"),
        ("model.neuron.bogus", 1, "at model.neuron: Additional properties are not allowed ('bogus'"),
        ("regularizer.name", "nope", "at regularizer.name: unknown regularizer 'nope'"),
        ("regularizer.lam", 0.5, "at regularizer.lam: regularizer 'none' takes no lambda"),
        ("seed", -1, "at seed: -1 is less than the minimum of 0"),
        ("encoding.name", "bogus", "at encoding.name: unknown encoder 'bogus'"),
        ("dataset.n_val", 0, "at dataset.n_val: must be >= 1"),
        ("dataset.name", "bogus", "at dataset: 'bogus' is not a built-in dataset"),
        ("study", "e9", "at study: 'e9' is not one of"),
        ("device", "tpu", "at device: 'tpu' is not one of"),
        ("experiment", "Bad-Name", "at experiment: 'Bad-Name' does not match"),
        ("method", "X", "at method: 'X' does not match"),
    ],
)
def test_a_value_a_config_refuses_is_named_by_its_key_in_the_spec(path, value, message):
    with pytest.raises(ConfigError) as err:
        check_spec(_set(_quick(), path, value), "run")
    assert str(err.value).startswith("run spec error at ") and message in str(err.value)


def test_a_rate_penalty_spec_names_a_negative_lambda_and_a_late_switch():
    spec = _quick(RunKey("e1", "homeostatic_l2", "10.0", 0))
    with pytest.raises(ConfigError, match=r"at regularizer\.lam: -1\.0 is less than the minimum of 0"):
        check_spec(_set(spec, "regularizer.lam", -1.0), "run")
    config = load_config(QUICK_CONFIG)
    first = next(
        k
        for k in expand_runs(config)
        if config["experiments"][k.experiment]["methods"][k.method]["regularizer"] == "first_spike"
        and "switch_epoch" in run_spec(config, k)["regularizer"]
    )
    spec = run_spec(config, first)
    late = _set(spec, "regularizer.switch_epoch", spec["training"]["epochs"])
    with pytest.raises(ConfigError, match=r"run spec error at regularizer\.switch_epoch"):
        check_spec(late, "run")


def test_a_nested_key_the_spec_lacks_is_named():
    """A config would fill its default; the run would then record a spec it did not train."""
    spec = _quick()
    del spec["model"]["neuron"]["slope"], spec["training"]["lr"]
    with pytest.raises(ConfigError, match=r"lacks \['model.neuron.slope', 'training.lr'\]"):
        check_spec(spec, "run")


@pytest.mark.parametrize(
    "kind, path, value, message",
    [
        ("ANN", "ann.lr", 0, "ANN spec error at ann.lr: 0 is less than or equal to the minimum of 0"),
        ("ANN", "ann.dropout", 1.5, "ANN spec error at ann.dropout: 1.5 is greater than or equal to"),
        ("conversion", "alphas", [0.5, 1.0], "conversion spec error at alphas: must include 0"),
        ("conversion", "percentile", 20, "conversion spec error at percentile: 20 is less than or equal"),
        ("conversion", "seed", -4, "conversion spec error at seed: -4 is less than the minimum of 0"),
        ("conversion", "dataset", None, "conversion spec error at dataset.name: conversion feeds"),
    ],
)
def test_an_ann_or_conversion_spec_value_is_named(kind, path, value, message):
    build = ann_spec if kind == "ANN" else conversion_spec
    spec = build(load_config(QUICK_CONFIG), "e4_digits", 0)
    if path == "dataset":
        spec["dataset"] = dict(_quick()["dataset"])
    else:
        spec = _set(spec, path, value)
    with pytest.raises(ConfigError) as err:
        check_spec(spec, kind)
    assert message in str(err.value)


def test_train_refuses_a_bad_spec_value_before_reading_data_or_writing(tmp_path, capsys):
    """Exit 2 with one line naming the key; the data path does not even exist, nothing is written."""
    spec = _set(_quick(), "training.lr", -0.5)
    assert main(_train_argv(json.dumps(spec), tmp_path)) == 2
    err = capsys.readouterr().err
    assert "run spec error at training.lr: -0.5" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
