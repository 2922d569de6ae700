"""Components declare their own parameters; config validation asks them (spikesparse.study.components)."""

from __future__ import annotations

import copy
import sys
import types

import pytest

from spikesparse.regularizers import REGULARIZERS, Regularizer, SpikeCount
from spikesparse.study.components import check_params, declare
from spikesparse.study.config import ConfigError, validate_config
from spikesparse.study.registry import param_schema, validate_params


def test_each_kind_checks_its_own_parameters():
    assert validate_params("regularizer", "homeostatic_l2", {"target_rate": 0.1, "scope": "layer"}) == []
    assert validate_params("regularizer", "spike_count", {"ramp_epochs": 0}) == [
        "ramp_epochs: must be >= 1, got 0"
    ]
    assert validate_params("encoder", "rate", {"population": "5"}) == [
        "population: must be of type integer, got str '5'"
    ]
    assert validate_params("encoder", "latency", {"gain": 2.0}) == [
        "gain: not a parameter of the encoder 'latency' (allowed: ['n_steps', 'threshold'])"
    ]
    assert validate_params("dataset", "anomaly", {"kinds": ["spike", "boom"]}) == [
        "kinds[1]: must be one of ['spike', 'level_shift', 'frequency', 'amplitude', 'dropout'], got 'boom'"
    ]
    for kind, name in [("regularizer", "dropout"), ("encoder", "phase"), ("dataset", "imagenet")]:
        with pytest.raises(ValueError, match=name):
            validate_params(kind, name, {})


def test_a_file_backed_dataset_reads_its_files_unless_told_not_to(tmp_path):
    """Config validation checks the files; generate-data, which reads them next, checks only the
    parameters (read_files=False), so a job does not read a large dataset twice."""
    missing = str(tmp_path / "no_such_folder")
    assert validate_params("dataset", "mnist", {"root": missing}) == [
        f"root: {missing}: root folder does not exist"
    ]
    assert validate_params("dataset", "mnist", {"root": missing}, read_files=False) == []
    assert validate_params("dataset", "mnist", {"root": missing, "n_train": -1}, read_files=False)


def test_dataset_defaults_are_filled_in_schema_order():
    params = {"seed": 3}
    assert validate_params("dataset", "digits", params) == []
    assert params == {"seed": 3, "val_fraction": 0.15, "test_fraction": 0.25, "n_samples": None}


def test_regularizer_params_follow_from_the_schema():
    assert SpikeCount.params == ("schedule", "ramp_epochs")
    assert param_schema("regularizer", "spike_count")["schedule"]["enum"] == ["ramp", "constant"]


def test_plugins_declare_schemas_or_only_keys(monkeypatch, quick_config):
    class OnlyKeys(Regularizer):
        name = "only_keys"
        params = ("alpha",)

    class Schema(Regularizer):
        name = "with_schema"
        param_schema = {"alpha": {"type": "number", "minimum": 0, "default": 1.0}}

    @declare({"n": {"type": "integer", "minimum": 1}})
    def make_tiny(n=4):  # only validated here
        raise NotImplementedError

    module = types.ModuleType("tiny_plugins")
    module.OnlyKeys, module.Schema, module.make_tiny = OnlyKeys, Schema, make_tiny
    monkeypatch.setitem(sys.modules, "tiny_plugins", module)
    monkeypatch.setattr("spikesparse.plugins.REGULARIZERS", dict(REGULARIZERS))

    assert validate_params("regularizer", "tiny_plugins:OnlyKeys", {"alpha": "anything"}) == []
    assert validate_params("regularizer", "tiny_plugins:OnlyKeys", {"beta": 1})[0].startswith("beta: not a")
    params = {}
    assert validate_params("regularizer", "tiny_plugins:Schema", params) == [] and params == {"alpha": 1.0}

    cfg = copy.deepcopy(quick_config)
    cfg["experiments"]["e1"]["methods"]["custom"] = {
        "regularizer": "tiny_plugins:Schema",
        "alpha": -1,
        "lambdas": [1.0],
    }
    with pytest.raises(ConfigError, match=r"experiments\.e1\.methods\.custom\.alpha: must be >= 0, got -1$"):
        validate_config(copy.deepcopy(cfg))
    cfg["experiments"]["e1"]["methods"]["custom"]["alpha"] = 0.5
    cfg["datasets"]["tiny"] = {"generator": "tiny_plugins:make_tiny", "n": 0}
    with pytest.raises(ConfigError, match=r"datasets\.tiny\.n: must be >= 1, got 0$"):
        validate_config(copy.deepcopy(cfg))


def test_no_schema_accepts_anything():
    assert check_params(None, {"whatever": object()}, "dataset 'x'") == []


def test_a_regularizer_checks_its_own_schedule_against_the_epochs(monkeypatch, quick_config):
    """Config validation asks each regularizer (``schedule_problem``); a plugin's answer is named
    at its key, as first_spike's late switch is."""

    class LateStart(Regularizer):
        name = "late_start"
        param_schema = {"start_epoch": {"type": "integer", "minimum": 0}}

        @classmethod
        def schedule_problem(cls, params, epochs):
            start = params.get("start_epoch", 0)
            return ("start_epoch", f"{start} is past the last epoch") if start >= epochs else None

    module = types.ModuleType("late_plugins")
    module.LateStart = LateStart
    monkeypatch.setitem(sys.modules, "late_plugins", module)
    monkeypatch.setattr("spikesparse.plugins.REGULARIZERS", dict(REGULARIZERS))
    cfg = copy.deepcopy(quick_config)
    epochs = cfg["experiments"]["e1"]["training"]["epochs"]
    method = {"regularizer": "late_plugins:LateStart", "start_epoch": epochs, "lambdas": [1.0]}
    cfg["experiments"]["e1"]["methods"]["late"] = method
    with pytest.raises(ConfigError, match=rf"methods\.late\.start_epoch: {epochs} is past the last epoch$"):
        validate_config(copy.deepcopy(cfg))
    method["start_epoch"] = epochs - 1
    validate_config(cfg)
    assert Regularizer.schedule_problem({}, 1) is None
