"""Run cost from the spec (spikesparse.study.budget): a run that cannot fit is refused at config time."""

from __future__ import annotations

import pytest

from spikesparse.study.budget import experiment_estimates, layer_plan, rule_mem_mb
from spikesparse.study.config import ConfigError, validate_config


def test_absurd_n_steps_is_refused_naming_the_key(quick_config):
    exp = next(n for n, e in quick_config["experiments"].items() if e["dataset"] in ("digits", "mnist1d"))
    quick_config["experiments"][exp]["encoding"]["n_steps"] = 10_000_000
    with pytest.raises(ConfigError) as info:
        validate_config(quick_config)
    message = str(info.value)
    assert f"experiments.{exp}" in message and "n_steps=10000000" in message and "MB" in message
    assert "\n" not in message


def test_per_job_cap(quick_config):
    quick_config["max_job_mem_mb"] = 100
    with pytest.raises(ConfigError, match="more than max_job_mem_mb=100"):
        validate_config(quick_config)


def test_estimates_set_rule_memory(quick_config):
    config = validate_config(quick_config)
    est = experiment_estimates(config)
    assert est and all(600 <= e["mem_mb"] < 4000 and e["flops"] > 0 for e in est.values())
    name = next(iter(est))
    assert rule_mem_mb(config, name) >= 1500


def test_conv_layer_plan_sizes():
    model = {
        "layers": [
            {"conv2d": {"channels": 64, "kernel": 3, "stride": 1, "padding": 1}},
            {"pool": {"kind": "avg", "size": 2}},
            {"flatten": {}},
            {"dense": {"units": 10}},
        ]
    }
    plan = layer_plan(model, 3072, [3, 32, 32])
    assert [p["outputs"] for p in plan] == [64 * 32 * 32, 64 * 16 * 16, 10]
    assert plan[0]["macs"] == 64 * 32 * 32 * 9 * 3
    assert plan[2]["macs"] == 64 * 16 * 16 * 10


def test_docs_budget_table_is_the_codes():
    """docs/study/rerunning.md's paper-scale cost table is what spikesparse.study.budget prints."""
    from spikesparse.study.budget import budget_table
    from spikesparse.study.config import load_config
    from spikesparse.study.local_data import official_sizes
    from tests.conftest import REPO

    text = (REPO / "docs" / "study" / "rerunning.md").read_text()
    shown = text.split("<!-- budget:paper:start -->\n")[1].split("<!-- budget:paper:end -->")[0].strip()
    with official_sizes():
        table = budget_table(load_config(REPO / "config" / "paper.yaml"), 10.0)
    assert shown == table, "rerun: python -m spikesparse budget config/paper.yaml --official-sizes"


def _conv_experiment(quick_config, first_layer):
    """The quick config with one E2 experiment on MNIST-1D's flat features turned into a conv net."""
    exp = next(n for n, e in quick_config["experiments"].items() if e["dataset"] == "mnist1d")
    model = quick_config["experiments"][exp]["model"]
    model.pop("hidden", None)
    model["kind"] = "feedforward"
    model["layers"] = [
        first_layer,
        {"pool": {"kind": "avg", "size": 2}},
        {"flatten": {}},
        {"dense": {"units": 8}},
    ]
    return exp


def test_a_conv1d_model_on_flat_features_is_estimated_with_the_models_input_shape(quick_config):
    # no input_shape anywhere: the models' rule gives (1, F), as the model builds it
    exp = _conv_experiment(quick_config, {"conv1d": {"channels": 4, "kernel": 3, "padding": 1}})
    est = experiment_estimates(validate_config(quick_config))[exp]
    assert est["mem_mb"] > 0 and est["flops"] > 0


def test_a_conv2d_model_without_an_input_shape_is_a_config_error(quick_config):
    _conv_experiment(quick_config, {"conv2d": {"channels": 4, "kernel": 3, "padding": 1}})
    with pytest.raises(
        ConfigError, match=r"config error at experiments\.\w+\.model\.input_shape: conv2d needs"
    ):
        validate_config(quick_config)


def test_conversion_estimate_counts_training_and_the_simulation_by_hand():
    """A dense ANN 6 -> 4 -> 10 classes: 64 MACs, 128 FLOPs a pass. Training 1 epoch of 10
    samples at 3 passes, evaluation of 2 + 10 + 2 + 3 samples; simulation: 1 normalization x 2
    alphas x (2 + 3) samples x 5 steps (the largest T)."""
    from spikesparse.study.budget import conversion_estimate

    conv = {
        "ann": {"layers": [{"dense": {"units": 4}}], "epochs": 1, "batch_size": 2, "seeds": [0]},
        "normalizations": ["max"],
        "alphas": [0.0, 1.0],
        "time_steps": [3, 5],
    }
    est = conversion_estimate(conv, {"n_train": 10, "n_val": 2, "n_test": 3, "shape": [6]})
    assert est["train_flops"] == 10 * 3 * 128 + 17 * 128
    assert est["convert_flops"] == 2 * 5 * 5 * 128
    assert est["flops"] == est["train_flops"] + est["convert_flops"] and est["mem_mb"] > 0
