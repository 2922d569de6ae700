import copy

import torch

from spikesparse.study.config import validate_config
from spikesparse.study.data import generate
from spikesparse.study.runs import RunKey, run_spec
from spikesparse.study.training import train_run


def _spec(quick_config, **training):
    cfg = copy.deepcopy(quick_config)
    cfg["experiments"]["e1"]["training"].update(training)
    # only the method trained here: quick's two-phase first-spike switches at epoch 1, which a
    # 1-epoch experiment never reaches (the config refuses it)
    methods = cfg["experiments"]["e1"]["methods"]
    cfg["experiments"]["e1"]["methods"] = {"homeostatic_l2": methods["homeostatic_l2"]}
    spec = run_spec(validate_config(cfg), RunKey("e1", "homeostatic_l2", "1.0", 0))
    data, _ = generate("anomaly", {k: v for k, v in spec["dataset"].items() if k != "name"})
    return spec, data


def test_same_seed_gives_identical_weights_and_history(quick_config):
    spec, data = _spec(quick_config, epochs=2)
    a = train_run(spec, data, log=lambda _: None)
    b = train_run(spec, data, log=lambda _: None)
    assert a.history == b.history
    for (k, va), (_, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert torch.equal(va, vb), k


def test_different_seed_differs(quick_config):
    spec, data = _spec(quick_config, epochs=1)
    other = {**spec, "seed": 1}
    a = train_run(spec, data, log=lambda _: None)
    b = train_run(other, data, log=lambda _: None)
    assert not torch.equal(a.model.readout.weight, b.model.readout.weight)


def test_history_records_every_epoch_and_the_penalty(quick_config):
    spec, data = _spec(quick_config, epochs=3)
    lines = []
    result = train_run(spec, data, log=lines.append)
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    # the columns train writes even for a run that diverged before an epoch ended
    from spikesparse.study.analysis.aggregation import HISTORY_FIELDS

    assert list(result.history[0]) == HISTORY_FIELDS
    assert all(h["penalty"] > 0 for h in result.history)
    assert all(0 <= h["rate"] <= 1 for h in result.history)
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3")
    assert result.status == "ok"


def test_absurd_learning_rate_is_marked_diverged(quick_config):
    spec, data = _spec(quick_config, epochs=2)
    spec["training"]["lr"] = 1e38  # past what a config allows (lr <= 10); train_run takes it as given
    result = train_run(spec, data, log=lambda _: None)
    assert result.status == "diverged"
    assert "epoch 1" in result.reason


def test_two_phase_first_spike_switches_in_training(quick_config):
    cfg = copy.deepcopy(quick_config)
    cfg["experiments"]["e1"]["training"]["epochs"] = 3
    cfg["experiments"]["e1"]["methods"]["first_spike_2p"] = {
        "regularizer": "first_spike",
        "two_phase": True,
        "switch": "epoch",
        "switch_epoch": 1,
        "lambdas": [0.5],
    }
    spec = run_spec(validate_config(cfg), RunKey("e1", "first_spike_2p", "0.5", 0))
    data, _ = generate("anomaly", {k: v for k, v in spec["dataset"].items() if k != "name"})
    result = train_run(spec, data, log=lambda _: None)
    assert [h["reg_weight"] for h in result.history] == [0.0, 0.5, 0.5]
    assert result.history[0]["penalty"] == 0.0 and result.history[1]["penalty"] > 0


def test_deep_feedforward_snn_trains_on_latency_coded_digits(quick_config):
    cfg = validate_config(quick_config)
    spec = run_spec(cfg, RunKey("e3_d3_w32", "first_spike_two_phase", "0.01", 0))
    params = {k: v for k, v in spec["dataset"].items() if k != "name"}
    data, _ = generate("digits", params)
    result = train_run(spec, data)
    assert result.status in ("ok", "silent")
    assert len(result.model.layers) == 3 and not result.model.recurrent
    assert [row["reg_weight"] for row in result.history] == [0.0] + [0.01] * 7  # switch_epoch 1
    assert result.history[-1]["task_loss"] < result.history[0]["task_loss"]  # it learns


def test_deterministic_mode_and_its_nan_fill_change_no_cpu_number(quick_config, monkeypatch):
    """On CPU, training runs without PyTorch's deterministic mode (its only effect there would be
    a 2 s import per job) and, on CUDA, without its NaN fill of new tensors. A run must give the
    same bytes with both on: no CPU kernel used is nondeterministic, and nothing reads memory
    nobody wrote."""
    import spikesparse.study.training as training
    from spikesparse.runtime import seed_everything

    def seed_deterministic(seed, threads=1):
        seed_everything(seed, threads)
        torch.use_deterministic_algorithms(True)
        torch.utils.deterministic.fill_uninitialized_memory = True

    for method, lam in (("homeostatic_l2", "1.0"), ("first_spike", "0.1"), ("hard_budget", "0.0")):
        cfg = copy.deepcopy(quick_config)
        cfg["experiments"]["e1"]["training"]["epochs"] = 2
        spec = run_spec(validate_config(cfg), RunKey("e1", method, lam, 0))
        data, _ = generate("anomaly", {k: v for k, v in spec["dataset"].items() if k != "name"})
        fast = train_run(spec, data, log=lambda _: None)
        try:
            with monkeypatch.context() as m:
                m.setattr(training, "seed_everything", seed_deterministic)
                filled = train_run(spec, data, log=lambda _: None)
            assert torch.are_deterministic_algorithms_enabled()
        finally:
            torch.use_deterministic_algorithms(False)
        assert fast.history == filled.history, method
        for (k, va), (_, vb) in zip(
            fast.model.state_dict().items(), filled.model.state_dict().items(), strict=True
        ):
            assert torch.equal(va, vb), (method, k)
