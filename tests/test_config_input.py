"""Config input that used to pass validation and fail later (or never): duplicate YAML keys, whole
numbers written as floats, a two-phase switch after the last epoch, an empty validation split,
a file that is not UTF-8, numbers YAML reads as text, a conv kernel larger than its input."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from spikesparse.cli import main
from spikesparse.study.config import ConfigError, load_config, validate_config
from spikesparse.study.registry import validate_params
from tests.conftest import QUICK_CONFIG
from tests.test_config import _DELETE, E1, HL2, _set, assert_rejected

FS = (*E1, "methods", "first_spike")
E2 = ("experiments", "e2_digits")
E3 = ("experiments", "e3_d3_w32")
E4 = ("conversions", "e4_digits")
WHOLE = "(a whole number, written without a decimal point:"


def _layers(*layers):
    return {"kind": "feedforward", "layers": list(layers)}


FLAT = ({"flatten": {}}, {"dense": {"units": 8}})

# (case id, key path to change, new value, text the one-line error must contain)
BAD = [
    # seeds past a signed 64-bit integer (torch.manual_seed overflowed only once a job trained)
    (
        "run seed 2^64",
        (*E2, "training", "seeds"),
        [2**64],
        "e2_digits.training.seeds[0]: 18446744073709551616 is greater",
    ),
    (
        "ANN seed 2^63",
        (*E4, "ann", "seeds"),
        [2**63],
        "e4_digits.ann.seeds[0]: 9223372036854775808 is greater",
    ),
    ("eval seed 2^64", ("metrics", "eval_seed"), 2**64, "metrics.eval_seed: 18446744073709551616 is greater"),
    # a batch larger than a dataset whose section gives fractions, not n_train (was: one batch an epoch)
    (
        "batch 100000",
        (*E2, "training", "batch_size"),
        100_000,
        "e2_digits.training.batch_size: 100000 is larger than the whole dataset",
    ),
    # a learning rate no net trains with (lr 1e6 had trained to finite garbage, recorded as ok)
    ("lr 1e6", (*E1, "training", "lr"), 1e6, "e1.training.lr: 1000000.0 is greater than the maximum of 10"),
    ("ANN lr 100", (*E4, "ann", "lr"), 100.0, "e4_digits.ann.lr: 100.0 is greater than the maximum of 10"),
    # whole-number floats where an integer belongs (jsonschema counts 3.0 as an integer)
    (
        "epochs 3.0",
        (*E1, "training", "epochs"),
        3.0,
        f"e1.training.epochs: must be an integer, got 3.0 {WHOLE} 3)",
    ),
    (
        "batch size 32.0",
        (*E1, "training", "batch_size"),
        32.0,
        "e1.training.batch_size: must be an integer, got 32.0",
    ),
    (
        "n_steps 8.0",
        (*E2, "encoding", "n_steps"),
        8.0,
        "e2_digits.encoding.n_steps: must be an integer, got 8.0",
    ),
    (
        "population 5.0",
        (*E1, "encoding", "population"),
        5.0,
        "e1.encoding.population: must be an integer, got 5.0",
    ),
    ("hidden 32.0", (*E1, "model", "hidden"), [32.0], "e1.model.hidden[0]: must be an integer, got 32.0"),
    ("seed 1.0", (*E1, "training", "seeds"), [0, 1.0], "e1.training.seeds[1]: must be an integer, got 1.0"),
    ("ann epochs 5.0", (*E4, "ann", "epochs"), 5.0, "e4_digits.ann.epochs: must be an integer, got 5.0"),
    (
        "ann hidden 32.0",
        (*E4, "ann", "hidden"),
        [32, 32.0],
        "e4_digits.ann.hidden[1]: must be an integer, got 32.0",
    ),
    (
        "calibration samples 100.0",
        (*E4, "calibration_samples"),
        100.0,
        "e4_digits.calibration_samples: must be an integer, got 100.0",
    ),
    (
        "time steps 8.0",
        (*E4, "time_steps"),
        [8.0, 32],
        "e4_digits.time_steps[0]: must be an integer, got 8.0",
    ),
    (
        "n_train 64.0",
        ("datasets", "anomaly", "n_train"),
        64.0,
        "anomaly.n_train: must be an integer, got 64.0",
    ),
    (
        "n_samples 400.0",
        ("datasets", "digits", "n_samples"),
        400.0,
        "digits.n_samples: must be of type integer or null",
    ),
    (
        "ramp epochs 2.0",
        (*E1, "methods", "spike_count", "ramp_epochs"),
        2.0,
        "spike_count.ramp_epochs: must be an",
    ),
    ("switch epoch 1.0", (*FS, "switch_epoch"), 1.0, "first_spike.switch_epoch: must be an integer, got 1.0"),
    ("refractory 2.0", (*E1, "model", "neuron", "refractory"), 2.0, "neuron.refractory: must be an integer"),
    (
        "conv kernel 3.0",
        (*E2, "model"),
        _layers({"conv1d": {"channels": 4, "kernel": 3.0}}, *FLAT),
        "e2_digits.model.layers[0].conv1d.kernel: must be of type integer or array, got 3.0",
    ),
    # a two-phase first-spike switch at or after the last epoch never switches the penalty on
    (
        "default switch epoch after the last",
        (*FS, "switch_epoch"),
        _DELETE,
        "e1.methods.first_spike.switch_epoch: 5 (the default) must be < the experiment's training.epochs=3",
    ),
    (
        "switch epoch at the last",
        (*FS, "switch_epoch"),
        3,
        "e1.methods.first_spike.switch_epoch: 3 must be < the experiment's training.epochs=3",
    ),
    (
        "e3 switch epoch after the last",
        (*E3, "methods", "first_spike_two_phase", "switch_epoch"),
        12,
        "first_spike_two_phase.switch_epoch: 12 must be < the experiment's training.epochs=8",
    ),
    # no validation samples: every choice the study makes is made on validation
    (
        "anomaly n_val 0",
        ("datasets", "anomaly", "n_val"),
        0,
        "datasets.anomaly.n_val: must be >= 1, got 0 (the",
    ),
    (
        "digits val 0",
        ("datasets", "digits", "val_fraction"),
        0.0,
        "datasets.digits.val_fraction: must be > 0",
    ),
    (
        "mnist1d val 0",
        ("datasets", "mnist1d", "val_fraction"),
        0,
        "datasets.mnist1d.val_fraction: must be > 0",
    ),
    # numbers YAML 1.1 reads as text (a float needs a dot and a signed exponent)
    (
        "lr 1e-3 as text",
        (*E1, "training", "lr"),
        "1e-3",
        "e1.training.lr: must be of type number, got str '1e-3' (YAML reads 1e-3 as text: write 1.0e-3)",
    ),
    (
        "target rate 5e-2 as text",
        (*HL2, "target_rate"),
        "5e-2",
        "target_rate: must be of type number, got str '5e-2' (YAML reads 5e-2 as text: write 5.0e-2)",
    ),
    (
        "lambda 1e3 as text",
        (*HL2, "lambdas"),
        [1.0, "1e3"],
        "lambdas[1]: must be of type number, got str '1e3' (YAML",
    ),
    (
        "n_train 1e3 as text",
        ("datasets", "anomaly", "n_train"),
        "1e3",
        "n_train: must be an integer, got str '1e3'",
    ),
    # keys that are not text (YAML reads on/off/yes/no as booleans), a TypeError before
    (
        "method key on",
        (*E1, "methods", True),
        {"regularizer": "none"},
        "e1.methods: key True is not text (YAML reads",
    ),
    ("experiment key 1", ("experiments", 1), {"study": "e1"}, "experiments: key 1 is not text"),
    # a conv kernel or pool window larger than the input the data give it
    (
        "conv1d kernel larger than the features",
        (*E2, "model"),
        _layers({"conv1d": {"channels": 4, "kernel": 300}}, *FLAT),
        "experiments.e2_digits.model.layers[0].conv1d.kernel: 300 is larger than its padded input 64",
    ),
    (
        "conv1d kernel larger than the padded features",
        (*E2, "model"),
        _layers({"conv1d": {"channels": 4, "kernel": 67, "padding": 1}}, *FLAT),
        "e2_digits.model.layers[0].conv1d.kernel: 67 is larger than its padded input 66",
    ),
    (
        "second conv1d kernel larger than its input",
        (*E2, "model"),
        _layers(
            {"conv1d": {"channels": 4, "kernel": 3, "stride": 2}},
            {"conv1d": {"channels": 4, "kernel": 32}},
            *FLAT,
        ),
        "e2_digits.model.layers[1].conv1d.kernel: 32 is larger than its padded input 31",
    ),
    (
        "pool larger than its input",
        (*E2, "model"),
        _layers({"conv1d": {"channels": 4, "kernel": 3}}, {"pool": {"size": 100}}, *FLAT),
        "e2_digits.model.layers[1].pool.size: 100 is larger than its input 62",
    ),
    (
        "conv2d kernel larger than the image",
        (*E2, "model"),
        {**_layers({"conv2d": {"channels": 4, "kernel": 9}}, *FLAT), "input_shape": [1, 8, 8]},
        "e2_digits.model.layers[0].conv2d.kernel: 9 is larger than its padded input [8, 8]",
    ),
    (
        # a sequence dataset: the per-step input is 8 channels x population 5 = 40
        "conv1d kernel larger than the encoded channels",
        (*E1, "model"),
        _layers({"conv1d": {"channels": 4, "kernel": 41}}, *FLAT),
        "experiments.e1.model.layers[0].conv1d.kernel: 41 is larger than its padded input 40",
    ),
    (
        "ANN conv1d kernel larger than the features",
        (*E4, "ann"),
        {"layers": [{"conv1d": {"channels": 4, "kernel": 65}}, *FLAT], "seeds": [0]},
        "conversions.e4_digits.ann.layers[0].conv1d.kernel: 65 is larger than its padded input 64",
    ),
]


@pytest.mark.parametrize("case, path, value, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_rejected_with_key_path_and_cause(quick_config, case, path, value, message):
    assert_rejected(quick_config, path, value, message)


GOOD = [
    # the edges of the new rules, and what they must leave alone
    ("switch at the last epoch", (*FS, "switch_epoch"), 2),
    ("the largest seed", (*E2, "training", "seeds"), [2**63 - 1]),
    ("single phase", (*FS, "two_phase"), False),
    ("plateau switch", (*FS, "switch"), "plateau"),
    (
        "kernel as large as the padded input",
        (*E2, "model"),
        _layers({"conv1d": {"channels": 4, "kernel": 66, "padding": 1}}, *FLAT),
    ),
    (
        "pool as large as its input",
        (*E2, "model"),
        _layers({"conv1d": {"channels": 4, "kernel": 3}}, {"pool": {"size": 62}}, *FLAT),
    ),
    ("one validation sample", ("datasets", "anomaly", "n_val"), 1),
    ("a float where a number belongs", (*E1, "training", "lr"), 1.0),
]


@pytest.mark.parametrize("case, path, value", GOOD, ids=[g[0] for g in GOOD])
def test_edges_of_the_input_rules_pass(quick_config, case, path, value):
    _set(quick_config, path, value)
    validate_config(quick_config)


def test_whole_number_floats_are_refused_in_every_component_schema():
    """The parameter schemas of datasets, encoders and regularizers use the same integer rule
    (generate-data --params checks through here)."""
    cause = "must be an integer, got 64.0 (a whole number, written without a decimal point: 64)"
    assert validate_params("dataset", "anomaly", {"n_train": 64.0}) == [f"n_train: {cause}"]
    assert validate_params("encoder", "rate", {"population": 5.0})[0].startswith(
        "population: must be an integer"
    )
    assert validate_params("regularizer", "spike_count", {"ramp_epochs": 2.0})[0].startswith(
        "ramp_epochs: must be"
    )
    assert validate_params("dataset", "mnist1d", {"val_fraction": 0})[0].startswith(
        "val_fraction: must be > 0"
    )
    # what was an error before reads as before
    assert validate_params("encoder", "rate", {"population": True}) == [
        "population: must be of type integer, got bool True"
    ]
    assert validate_params("encoder", "rate", {"population": 5}) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ('{"n_train": 64.0}', "--params of dataset 'anomaly': n_train: must be an integer, got 64.0"),
        ('{"n_val": 0}', "--params of dataset 'anomaly': n_val: must be >= 1, got 0"),
    ],
    ids=["float size", "no validation"],
)
def test_generate_data_refuses_a_float_size_and_an_empty_validation_split(tmp_path, capsys, params, message):
    argv = ["generate-data", "--dataset", "anomaly", "--params", params]
    assert main([*argv, "--out", str(tmp_path / "x.npz"), "--meta", str(tmp_path / "x.json")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


E1_SPIKE_COUNT = (
    "      spike_count:\n        regularizer: spike_count\n        ramp_epochs: 2\n        lambdas: [1.0]\n"
)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_a_key_written_twice_is_refused_with_its_lines(tmp_path):
    text = QUICK_CONFIG.read_text()
    assert text.count(E1_SPIKE_COUNT) == 1
    doubled = text.replace(E1_SPIKE_COUNT, E1_SPIKE_COUNT + E1_SPIKE_COUNT.replace("[1.0]", "[3.0]"))
    first = _line_of(doubled, E1_SPIKE_COUNT)
    second = first + E1_SPIKE_COUNT.count("\n")
    path = tmp_path / "twice.yaml"
    path.write_text(doubled)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"config error at experiments.e1.methods: duplicate key 'spike_count' (line {second}; "
        f"first at line {first}: YAML would keep only the last)"
    )
    # a top-level key, through the command line: exit status 2, one line
    path.write_text(text + "device: cuda\n")
    assert main(["check-config", "--config", str(path)]) == 2
    with pytest.raises(
        ConfigError, match=r"^config error at <root>: duplicate key 'device' \(line \d+; first at line 3"
    ):
        load_config(path)


def test_a_merge_key_may_be_overridden_and_aliases_are_read_once(tmp_path):
    """``<<: *anchor`` then a key of the mapping's own is YAML's override, not a duplicate."""
    text = QUICK_CONFIG.read_text()
    assert "    model: *quick_ff\n" in text
    path = tmp_path / "merge.yaml"
    path.write_text(text.replace("    model: *quick_ff\n", "    model: {<<: *quick_ff, hidden: [16]}\n"))
    cfg = load_config(path)
    assert cfg["experiments"]["e2_mnist1d"]["model"]["hidden"] == [16]
    assert cfg["experiments"]["e2_digits"]["model"]["hidden"] == [32, 32, 32]


def test_the_duplicate_check_leaves_a_config_as_pyyaml_reads_it():
    for path in (QUICK_CONFIG, QUICK_CONFIG.parents[1] / "config.yaml"):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert json.dumps(load_config(path), sort_keys=True) == json.dumps(
            validate_config(raw), sort_keys=True
        )


def test_a_config_that_is_not_utf8_names_the_file(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("# caf\u00e9 (Latin-1)\n".encode("latin-1") + QUICK_CONFIG.read_bytes())
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"config error: {path} is not UTF-8 text (byte 5, line 1: ")
    assert main(["check-config", "--config", str(path)]) == 2
    err_text = capsys.readouterr().err
    assert "is not UTF-8 text" in err_text and err_text.count("\n") == 1, err_text


def test_a_number_yaml_reads_as_text_gets_how_to_write_it(tmp_path):
    text = QUICK_CONFIG.read_text()
    assert "      lr: 0.005\n      seeds: [0, 1]\n    methods:\n      baseline:" in text
    path = tmp_path / "text_number.yaml"
    path.write_text(text.replace("      lr: 0.005\n", "      lr: 1e-3\n", 1))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        "config error at experiments.e1.training.lr: must be of type number, got str '1e-3' "
        "(YAML reads 1e-3 as text: write 1.0e-3)"
    )
    path.write_text(text.replace("      lr: 0.005\n", "      lr: 1.0e-3\n", 1))
    assert load_config(path)["experiments"]["e1"]["training"]["lr"] == 0.001


@pytest.mark.parametrize("key, value", [("refractory", 2**31), ("spike_budget", 2**31)])
def test_a_constraint_beyond_int32_is_refused_in_the_config_and_the_library(quick_config, key, value):
    """The compiled loops count steps and spikes in int32: a larger value failed in the forward."""
    from spikesparse.neurons import LIFParams

    cfg = copy.deepcopy(quick_config)
    cfg["experiments"]["e1"]["model"].setdefault("neuron", {})[key] = value
    with pytest.raises(ConfigError, match=rf"e1.model.neuron.{key}: {value} is greater than the maximum"):
        validate_config(cfg)
    with pytest.raises(ValueError, match=rf"{key} must be <= 2147483647 \(counted in int32\), got {value}"):
        LIFParams(**{key: value})
    assert LIFParams(**{key: 2**31 - 1}).gated
