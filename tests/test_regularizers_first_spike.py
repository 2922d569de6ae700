"""FirstSpike's two-phase variants: when the penalty switches on and how its weight grows."""

import pytest
import torch

from spikesparse.plugins import build_regularizer
from spikesparse.regularizers import FirstSpike


def _spikes(counts_per_neuron: list[int], t: int = 6) -> list[torch.Tensor]:
    """One sample, one layer: neuron i fires on its first ``counts_per_neuron[i]`` steps."""
    s = torch.zeros(t, 1, len(counts_per_neuron))
    for i, c in enumerate(counts_per_neuron):
        s[:c, 0, i] = 1.0
    return [s]


def test_at_once_applies_full_lambda_from_the_switch_epoch():
    reg = FirstSpike(0.5, two_phase=True, switch="epoch", switch_epoch=3, after_switch="at_once")
    assert [reg.weight(e) for e in range(6)] == [0.0, 0.0, 0.0, 0.5, 0.5, 0.5]


def test_ramp_grows_linearly_after_the_switch():
    reg = FirstSpike(1.0, two_phase=True, switch="epoch", switch_epoch=2, after_switch="ramp", ramp_epochs=4)
    assert [reg.weight(e) for e in range(8)] == pytest.approx([0, 0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def test_single_phase_ramp_starts_at_epoch_zero():
    reg = FirstSpike(2.0, two_phase=False, after_switch="ramp", ramp_epochs=2)
    assert [reg.weight(e) for e in range(3)] == pytest.approx([1.0, 2.0, 2.0])


def test_penalty_uses_the_ramped_weight():
    # neurons fire 3, 1, 0 times: excess spikes 2, 0, 0 -> mean 2/3 per neuron
    spikes = _spikes([3, 1, 0])
    reg = FirstSpike(1.0, two_phase=True, switch_epoch=0, after_switch="ramp", ramp_epochs=4)
    p0, parts0 = reg(spikes, epoch=0)
    p3, _ = reg(spikes, epoch=3)
    assert float(p0) == pytest.approx(0.25 * 2 / 3)
    assert float(p3) == pytest.approx(2 / 3)
    assert parts0["phase"] == 2.0


def test_plateau_ramp_counts_from_the_plateau_epoch():
    reg = FirstSpike(
        1.0,
        two_phase=True,
        switch="plateau",
        patience=1,
        silent_epsilon=0.5,
        after_switch="ramp",
        ramp_epochs=2,
    )
    assert reg.weight(5) == 0.0 and reg.switch_at() is None
    reg.end_epoch({"epoch": 1, "val_accuracy": 0.5, "silent_fraction": 0.1})
    reg.end_epoch({"epoch": 2, "val_accuracy": 0.5, "silent_fraction": 0.1})  # no gain: plateau
    assert reg.switch_at() == 2
    assert [reg.weight(e) for e in (1, 2, 3, 4)] == pytest.approx([0.0, 0.5, 1.0, 1.0])


def test_plateau_waits_while_too_many_neurons_are_silent():
    reg = FirstSpike(1.0, two_phase=True, switch="plateau", patience=1, silent_epsilon=0.05)
    reg.end_epoch({"epoch": 1, "val_accuracy": 0.5, "silent_fraction": 0.2})
    reg.end_epoch({"epoch": 2, "val_accuracy": 0.4, "silent_fraction": 0.2})
    assert reg.switch_at() is None and not reg.penalty_on(10)


def test_wake_up_zero_adds_nothing_in_phase_one():
    spikes = _spikes([0, 0, 2])
    quiet = FirstSpike(1.0, two_phase=True, switch_epoch=5, wake_up=0.0)
    awake = FirstSpike(1.0, two_phase=True, switch_epoch=5, wake_up=0.3)
    p_quiet, parts = quiet(spikes, epoch=0)
    p_awake, _ = awake(spikes, epoch=0)
    assert float(p_quiet) == 0.0 and "wake_up" not in parts
    assert float(p_awake) == pytest.approx(0.3 * 2 / 3)  # two of three neurons silent


def test_build_from_config_block_and_bad_values():
    reg = build_regularizer(
        {"name": "first_spike", "lam": 0.1, "after_switch": "ramp", "ramp_epochs": 3, "switch_epoch": 1}
    )
    assert reg.after_switch == "ramp" and reg.ramp_epochs == 3
    with pytest.raises(ValueError, match="after_switch"):
        FirstSpike(0.1, after_switch="later")
    with pytest.raises(ValueError, match="ramp_epochs"):
        FirstSpike(0.1, ramp_epochs=0)
