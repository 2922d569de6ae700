import copy

import pytest

from spikesparse.study.config import ConfigError, load_config, validate_config
from spikesparse.study.runs import RunKey, expand_conversions, expand_runs, format_lambda, run_spec
from tests.conftest import QUICK_CONFIG


def _set(cfg, path, value):
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DELETE = object()
E1 = ("experiments", "e1")
HL2 = (*E1, "methods", "homeostatic_l2")

# (case id, key path to change, new value, text the one-line error must contain)
BAD = [
    ("unknown top-level key", ("colour",), "red", "<root>"),
    ("unknown dataset key", ("datasets", "anomaly", "n_trian"), 10, "datasets.anomaly"),
    ("unknown experiment key", (*E1, "optimiser"), "sgd", "experiments.e1"),
    ("unknown method key", (*HL2, "gamma"), 1, "experiments.e1.methods.homeostatic_l2"),
    ("unknown neuron key", (*E1, "model", "neuron", "tau"), 5, "experiments.e1.model.neuron"),
    ("epochs wrong type", (*E1, "training", "epochs"), "ten", "experiments.e1.training.epochs"),
    ("seeds wrong type", (*E1, "training", "seeds"), 3, "experiments.e1.training.seeds"),
    ("negative lambda", (*HL2, "lambdas"), [1.0, -0.1], "homeostatic_l2.lambdas[1]"),
    ("NaN lambda", (*HL2, "lambdas"), [float("nan")], "homeostatic_l2.lambdas[0]"),
    ("target rate above 1", (*HL2, "target_rate"), 1.5, "homeostatic_l2.target_rate"),
    ("target rate 0", (*HL2, "target_rate"), 0.0, "homeostatic_l2.target_rate"),
    ("refractory negative", (*E1, "model", "neuron", "refractory"), -1, "neuron.refractory"),
    ("spike budget 0", (*E1, "model", "neuron", "spike_budget"), 0, "neuron.spike_budget"),
    ("empty methods", (*E1, "methods"), {}, "experiments.e1.methods"),
    ("empty seeds", (*E1, "training", "seeds"), [], "experiments.e1.training.seeds"),
    ("unknown regularizer", (*HL2, "regularizer"), "dropout", "homeostatic_l2.regularizer"),
    ("unknown dataset", (*E1, "dataset"), "cifar10", "experiments.e1.dataset"),
    ("unknown encoding", (*E1, "encoding", "name"), "phase", "experiments.e1.encoding.name"),
    ("duplicate seeds", (*E1, "training", "seeds"), [0, 1, 0], "experiments.e1.training.seeds"),
    ("epochs 0", (*E1, "training", "epochs"), 0, "experiments.e1.training.epochs"),
    ("batch larger than dataset", (*E1, "training", "batch_size"), 10_000, "training.batch_size"),
    ("missing experiments", ("experiments",), _DELETE, "experiments"),
    ("infinite learning rate", (*E1, "training", "lr"), float("inf"), "experiments.e1.training.lr"),
    (
        "param of another regularizer",
        (*E1, "methods", "baseline", "target_rate"),
        0.1,
        "methods.baseline.target_rate",
    ),
    ("lambdas on none", (*E1, "methods", "baseline", "lambdas"), [1.0], "baseline.lambdas"),
    ("lambda list missing", (*HL2, "lambdas"), _DELETE, "homeostatic_l2.lambdas"),
    ("duplicate lambdas", (*HL2, "lambdas"), [0.1, 0.10], "homeostatic_l2.lambdas"),
    ("bad method name", (*E1, "methods", "Base Line"), {"regularizer": "none"}, "Base Line"),
    ("device unknown", ("device",), "tpu", "device"),
    ("missing study", (*E1, "study"), _DELETE, "experiments.e1"),
    ("param of another encoder", (*E1, "encoding", "threshold"), 0.1, "experiments.e1.encoding.threshold"),
    ("n_steps on sequence data", (*E1, "encoding", "n_steps"), 10, "experiments.e1.encoding.n_steps"),
    ("latency on sequence data", (*E1, "encoding"), {"name": "latency"}, "experiments.e1.encoding.name"),
    (
        "static data without n_steps",
        ("experiments", "e3_d2_w16", "encoding"),
        {"name": "latency"},
        "experiments.e3_d2_w16.encoding.n_steps",
    ),
    (
        "dataset without section",
        ("datasets", "digits"),
        _DELETE,
        "e4_digits.dataset: dataset 'digits' has no",
    ),
    ("alphas without 0", ("conversions", "e4_digits", "alphas"), [0.5, 1.0], "e4_digits.alphas"),
    (
        "unknown normalization",
        ("conversions", "e4_digits", "normalizations"),
        ["l2"],
        "conversions.e4_digits.normalizations[0]",
    ),
    (
        "conversion on anomaly",
        ("conversions", "e4_digits", "dataset"),
        "anomaly",
        "conversions.e4_digits.dataset",
    ),
    (
        "conversion named like an experiment",
        ("conversions", "e1"),
        {"dataset": "digits", "ann": {"seeds": [0]}},
        "conversions.e1",
    ),
    ("negative time steps", ("conversions", "e4_digits", "time_steps"), [8, -1], "time_steps[1]"),
]


@pytest.mark.parametrize("case, path, value, where", BAD, ids=[b[0] for b in BAD])
def test_malformed_config_rejected_with_key_path(quick_config, case, path, value, where):
    assert_rejected(quick_config, path, value, where)


def assert_rejected(config: dict, path: tuple, value, where: str) -> None:
    """``config`` with ``value`` at ``path`` fails validation with one line naming ``where``."""
    cfg = copy.deepcopy(config)
    _set(cfg, path, value)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    message = str(err.value)
    assert "\n" not in message, "one line"
    assert message.startswith("config error at"), message
    assert where in message, message


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        validate_config(["a", "list"])


def test_defaults_filled(quick_config):
    cfg = validate_config(quick_config)
    assert cfg["metrics"]["e_ac_pj"] == 0.9
    assert cfg["experiments"]["e1"]["model"]["neuron"]["beta"] == 0.9
    assert cfg["experiments"]["e1"]["encoding"]["population"] == 5
    assert cfg["conversions"]["e4_digits"]["normalizations"] == ["max", "percentile"]


def test_runs_and_spec(quick_config):
    cfg = validate_config(quick_config)
    runs = expand_runs(cfg)
    per_experiment = {
        # baseline, 2 homeostatic (neuron scope), 1 homeostatic (layer scope), spike count,
        # first spike, budget; 2 seeds
        "e1": (1 + 2 + 1 + 1 + 1 + 1) * 2,
        # the 1 x 2 regime map: baseline and homeostatic L2 in both scopes, one lambda, 2 seeds
        "e1map_g1_s3": 3 * 2,
        "e1map_g2_s3": 3 * 2,
        "e2_digits": (1 + 2) * 2,
        "e2_mnist1d": (1 + 1) * 1,
        # E3: two sizes; baseline, spike count, single- and two-phase first spike (the large
        # size at 2 lambdas, plus a plateau variant at 1), 2 seeds
        "e3_d2_w16": (1 + 1 + 1 + 1) * 2,
        "e3_d3_w32": (1 + 2 + 2 + 2 + 1) * 2,
    }
    assert len(runs) == sum(per_experiment.values())
    assert {r.experiment for r in runs} == set(per_experiment)
    assert expand_conversions(cfg) == [("e4_digits", 0), ("e4_digits", 1)]
    spec = run_spec(cfg, RunKey("e1", "homeostatic_l2", "10.0", 1))
    assert spec["regularizer"] == {
        "name": "homeostatic_l2",
        "lam": 10.0,
        "target_rate": 0.05,
        "scope": "neuron",
    }
    assert spec["seed"] == 1 and "seeds" not in spec["training"]
    with pytest.raises(ConfigError, match="no lambda"):
        run_spec(cfg, RunKey("e1", "homeostatic_l2", "3.0", 1))


def test_adding_a_seed_leaves_existing_specs_unchanged(quick_config):
    before = run_spec(validate_config(copy.deepcopy(quick_config)), RunKey("e1", "baseline", "0.0", 0))
    quick_config["experiments"]["e1"]["training"]["seeds"].append(7)
    after = run_spec(validate_config(quick_config), RunKey("e1", "baseline", "0.0", 0))
    assert before == after


def test_lambda_format_round_trips():
    for x in (0.0, 0.001, 1e-5, 3.0, 100.0, 0.1):
        assert float(format_lambda(x)) == x
    assert format_lambda(1e-5) == "1e-05"


def test_shipped_configs_are_valid():
    load_config(QUICK_CONFIG)
    load_config(QUICK_CONFIG.parents[1] / "config.yaml")


def test_full_config_covers_every_study_as_specified():
    cfg = load_config(QUICK_CONFIG.parents[1] / "config.yaml")
    exps = cfg["experiments"]
    for exp in exps.values():
        assert len(exp["training"]["seeds"]) >= 3
    e1 = exps["e1"]["methods"]
    regs = {m["regularizer"] for m in e1.values()}
    assert regs == {"none", "homeostatic_l2", "spike_count", "first_spike"}
    for m in e1.values():
        if m["regularizer"] != "none":
            assert len(m["lambdas"]) >= 4
    hard = [m for m in e1.values() if m["regularizer"] == "none" and "neuron" in m]
    assert len(hard) >= 2
    e2_all = [e for e in exps.values() if e["study"] == "e2"]
    assert {e["dataset"] for e in e2_all} == {"digits", "mnist1d"}
    # A lambda grid per arm wide enough to bracket 002's iso-accuracy point: the MLP arms 5+, the
    # conv arm 4 (its 0.3 already costs accuracy; 1.0 switched the net off, config.yaml says why)
    for e in e2_all:
        least = 4 if "layers" in e["model"] else 5
        grids = [m["lambdas"] for m in e["methods"].values() if m["regularizer"] == "spike_count"]
        assert grids and all(len(g) >= least for g in grids), e["description"]
    # the MLP arms, rate coded, 3+ hidden layers; and a conv arm on MNIST-1D (seed 002's class)
    e2 = [e for e in e2_all if "hidden" in e["model"]]
    for e in e2:
        assert e["encoding"]["name"] == "rate" and len(e["model"]["hidden"]) >= 3
    conv = [e for e in e2_all if "layers" in e["model"]]
    assert [e["dataset"] for e in conv] == ["mnist1d"]
    assert any("conv1d" in layer for layer in conv[0]["model"]["layers"])
    e3 = [e for e in exps.values() if e["study"] == "e3"]
    assert e3 and all(e["encoding"]["name"] == "latency" for e in e3)
    phases = {
        m.get("two_phase") for e in e3 for m in e["methods"].values() if m["regularizer"] == "first_spike"
    }
    assert phases == {True, False}
    # E4: each ANN has the topology of an E2 SNN on the same dataset: the MLPs' hidden sizes, and
    # the conv arm's layer list (seed 003 converts conv ANNs)
    e2_arch = {(e["dataset"], str(e["model"].get("hidden") or e["model"]["layers"])) for e in e2_all}
    assert {c["dataset"] for c in cfg["conversions"].values()} == {"digits", "mnist1d"}
    assert sum("layers" in c["ann"] for c in cfg["conversions"].values()) == 1
    for conv in cfg["conversions"].values():
        arch = conv["ann"].get("hidden") or conv["ann"]["layers"]
        assert (conv["dataset"], str(arch)) in e2_arch
        assert len(conv["ann"]["seeds"]) >= 3 and 0 in conv["alphas"]


def test_ann_spec_leaves_out_the_conversion_sweep(quick_config):
    from spikesparse.study.runs import ann_spec, conversion_spec

    cfg = validate_config(quick_config)
    ann = ann_spec(cfg, "e4_digits", 1)
    conv = conversion_spec(cfg, "e4_digits", 1)
    assert "alphas" not in ann and "seeds" not in ann["ann"] and ann["seed"] == 1
    assert conv["alphas"] == [0.0, 1.0] and {k: conv[k] for k in ann} == ann


def test_the_spec_keys_checked_by_hand_are_those_the_builders_give(quick_config):
    """check_spec's key lists (spikesparse train/train-ann/convert --spec by hand) follow the
    builders: a key a builder gains or drops fails here, not as a KeyError in a hand-run job."""
    from spikesparse.study.runs import SPEC_KEYS, ann_spec, conversion_spec
    from spikesparse.study.spec_check import check_spec

    cfg = validate_config(quick_config)
    built = {
        "run": run_spec(cfg, RunKey("e1", "baseline", "0.0", 0)),
        "ANN": ann_spec(cfg, "e4_digits", 0),
        "conversion": conversion_spec(cfg, "e4_digits", 0),
    }
    for kind, spec in built.items():
        assert set(spec) - {"device", "regime"} == set(SPEC_KEYS[kind]), kind
        assert check_spec(spec, kind) is spec
