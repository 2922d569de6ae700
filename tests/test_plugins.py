"""Bring your own regularizer or dataset: examples/own_method through config, training, workflow."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from spikesparse import plugins
from spikesparse.regularizers import REGULARIZERS
from spikesparse.study.config import ConfigError, validate_config
from spikesparse.study.data import generate
from spikesparse.study.runs import expand_runs, run_spec
from spikesparse.study.training import train_run
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "own_method"


@pytest.fixture
def example(monkeypatch, tmp_path):
    """The example's config, loaded with the example copied to (and run from) a temporary folder:
    the module is found in the working directory, as Snakemake's jobs find it."""
    work = tmp_path / "own"
    shutil.copytree(EXAMPLE, work)
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield yaml.safe_load((work / "config.yaml").read_text())
    sys.modules.pop("my_methods", None)
    for name in [n for n in REGULARIZERS if ":" in n]:
        del REGULARIZERS[name]


def test_example_config_validates_and_expands(example):
    cfg = validate_config(example)
    runs = expand_runs(cfg)
    methods = {r.method for r in runs}
    assert methods == {"baseline", "spike_count", "rate_ceiling"}
    key = next(r for r in runs if r.method == "rate_ceiling")
    spec = run_spec(cfg, key)
    assert spec["regularizer"] == {"name": "my_methods:RateCeiling", "lam": 1.0, "max_rate": 0.05}
    reg = plugins.build_regularizer(spec["regularizer"])
    assert type(reg).__name__ == "RateCeiling" and reg.max_rate == 0.05
    quiet, busy = torch.zeros(4, 2, 3), torch.ones(4, 2, 3)
    assert float(reg([quiet])[0]) == 0.0 and float(reg([busy])[0]) == pytest.approx(0.95**2)


def test_example_dataset_and_one_training_run(example):
    cfg = validate_config(example)
    key = next(r for r in expand_runs(cfg) if r.method == "rate_ceiling")
    spec = run_spec(cfg, key)
    params = {k: v for k, v in spec["dataset"].items() if k != "name"}
    arrays, meta = generate("pulses", params)
    assert arrays["x_train"].shape == (160, 30, 4) and meta["n_classes"] == 2
    spec["training"]["epochs"] = 1
    result = train_run(spec, arrays, log=lambda _: None)
    assert result.status in ("ok", "silent") and len(result.history) == 1
    assert result.history[0]["reg_weight"] == 1.0


@pytest.mark.parametrize(
    ("edit", "where", "cause"),
    [
        (
            lambda c: c["experiments"]["e1"]["methods"]["rate_ceiling"].update(regularizer="nomodule:X"),
            "methods.rate_ceiling.regularizer",
            "cannot import",
        ),
        (
            lambda c: c["experiments"]["e1"]["methods"]["rate_ceiling"].update(
                regularizer="my_methods:Missing"
            ),
            "methods.rate_ceiling.regularizer",
            "no attribute 'Missing'",
        ),
        (
            lambda c: c["experiments"]["e1"]["methods"]["rate_ceiling"].update(
                regularizer="my_methods:make_pulses"
            ),
            "methods.rate_ceiling.regularizer",
            "subclass",
        ),
        (
            lambda c: c["experiments"]["e1"]["methods"]["rate_ceiling"].update(gamma=1),
            "methods.rate_ceiling.gamma",
            "not a parameter",
        ),
        (
            lambda c: c["experiments"]["e1"]["methods"]["rate_ceiling"].update(regularizer="dropout"),
            "methods.rate_ceiling.regularizer",
            "unknown regularizer",
        ),
        (
            lambda c: c["datasets"]["pulses"].update(generator="my_methods:nothing"),
            "datasets.pulses.generator",
            "no attribute",
        ),
        (lambda c: c["datasets"].update(other={"n_train": 3}), "datasets.other", "generator"),
    ],
)
def test_bad_plugins_name_the_key_path(example, edit, where, cause):
    cfg = copy.deepcopy(example)
    edit(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert where in str(err.value) and cause in str(err.value), str(err.value)


def test_static_plugin_dataset_is_rejected(example):
    validate_config(copy.deepcopy(example))
    sys.modules["my_methods"].make_pulses.static = True
    with pytest.raises(ConfigError, match="static plugin datasets"):
        validate_config(copy.deepcopy(example))


def test_plugin_dataset_must_return_the_splits(example):
    validate_config(copy.deepcopy(example))
    with pytest.raises(ValueError, match="must return a dict"):
        plugins.check_arrays("my_methods:make_pulses", {"x_train": []})
    good = sys.modules["my_methods"].make_pulses()
    plugins.check_arrays("my_methods:make_pulses", good)
    static = {**good, "x_val": good["x_val"][:, 0, :]}  # one feature vector per sample
    with pytest.raises(
        ValueError, match=r"x_val must be a non-empty \[n, T, channels\].*got shape \(48, 4\)"
    ):
        plugins.check_arrays("my_methods:make_pulses", static)
    for bad_value, shown in ((1.5, "1.5"), (-0.1, "-0.1"), (float("nan"), "NaN")):
        x = good["x_test"].copy()
        x[3, 2, 1] = bad_value
        with pytest.raises(ValueError, match=r"x_test must hold finite rates in \[0, 1\]") as err:
            plugins.check_arrays("my_methods:make_pulses", {**good, "x_test": x})
        assert shown in str(err.value)


def test_plugin_arrays_come_back_in_the_dtypes_training_takes(example):
    """NumPy's default float64 inputs and float labels had passed generate-data and check-config,
    then every training job crashed ("mat1 and mat2 must have the same dtype, but got Double and
    Float", "expected target dtype to be Long")."""
    validate_config(copy.deepcopy(example))
    good = sys.modules["my_methods"].make_pulses()
    same = plugins.check_arrays("my_methods:make_pulses", good)
    assert all(same[k] is good[k] for k in good), "float32 / int64 arrays pass as they are (same bytes)"
    loose = {k: v.astype(np.float64) for k, v in good.items()}  # labels 0.0 / 1.0 as well
    loose["y_val"] = good["y_val"].astype(np.int32)
    loose["y_test"] = good["y_test"].astype(bool)
    fixed = plugins.check_arrays("my_methods:make_pulses", loose)
    for name in plugins.DATASET_ARRAYS:
        assert fixed[name].dtype == (np.float32 if name.startswith("x_") else np.int64), name
        assert np.array_equal(fixed[name], good[name]), name
    for bad, shown in ((0.5, "0.5"), (np.nan, "nan"), (-1.0, "from 0, got -1")):
        y = loose["y_train"].copy()
        y[2] = bad
        with pytest.raises(ValueError, match="y_train must hold") as err:
            plugins.check_arrays("my_methods:make_pulses", {**loose, "y_train": y})
        assert shown in str(err.value)
    with pytest.raises(ValueError, match=r"y_val must hold one class label per sample, shape \[n\]"):
        plugins.check_arrays("my_methods:make_pulses", {**good, "y_val": good["y_val"][:, None]})


def test_a_float64_plugin_dataset_trains(example):
    """The whole path: generate (as generate-data does) a plugin dataset of float64 arrays, then
    train a run on it."""
    cfg = validate_config(example)
    module = sys.modules["my_methods"]
    module.make_pulses64 = lambda **kw: {k: v.astype(np.float64) for k, v in module.make_pulses(**kw).items()}
    key = next(r for r in expand_runs(cfg) if r.method == "baseline")
    spec = run_spec(cfg, key)
    params = {k: v for k, v in spec["dataset"].items() if k != "name"}
    arrays, meta = generate("pulses", {**params, "generator": "my_methods:make_pulses64"})
    assert arrays["x_train"].dtype == np.float32 and arrays["y_train"].dtype == np.int64
    assert meta["checksum_sha256"] == generate("pulses", params)[1]["checksum_sha256"], "as if float32"
    spec["training"]["epochs"] = 1
    result = train_run(spec, arrays, log=lambda _: None)
    assert len(result.history) == 1


def test_workflow_dry_run_on_the_example(tmp_path):
    work = tmp_path / "own"
    shutil.copytree(EXAMPLE, work)
    cmd = [
        *(sys.executable, "-m", "snakemake", "-n", "--cores", "1"),
        *("--configfile", str(work / "config.yaml"), "--directory", str(work)),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "results/runs/e1/rate_ceiling/lam=10.0/seed=1/metrics.json" in proc.stdout
