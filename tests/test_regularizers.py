import pytest
import torch

from spikesparse.plugins import build_regularizer
from spikesparse.regularizers import HomeostaticL2, NoRegularizer


def _spikes():
    # T=2, B=2, N=2: neuron 0 fires 3 of 4 steps (rate .75), neuron 1 once (rate .25)
    s = torch.tensor([[[1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]])
    return s.requires_grad_()


def test_homeostatic_neuron_scope_value_and_gradient():
    s = _spikes()
    reg = HomeostaticL2(lam=2.0, target_rate=0.25, scope="neuron")
    penalty, parts = reg([s])
    # rates (.75, .25); mean squared deviation = (0.5^2 + 0) / 2 = 0.125; x lam 2 = 0.25
    assert penalty.item() == pytest.approx(0.25)
    assert parts["penalty"] == pytest.approx(0.25)
    penalty.backward()
    # d/ds of lam * mean_i (r_i - r*)^2 = lam * 2 (r_i - r*) / N / (T*B) = 2*2*0.5/2/4 for neuron 0
    expected = torch.tensor([0.25, 0.0]).expand(2, 2, 2)
    torch.testing.assert_close(s.grad, expected)


def test_homeostatic_penalizes_silence_too():
    silent = torch.zeros(4, 2, 3, requires_grad=True)
    penalty, _ = HomeostaticL2(lam=1.0, target_rate=0.1)([silent])
    assert penalty.item() == pytest.approx(0.01)
    penalty.backward()
    assert (silent.grad < 0).all()  # gradient pushes silent neurons to fire


def test_homeostatic_layer_scope():
    s = _spikes()
    penalty, _ = HomeostaticL2(lam=1.0, target_rate=0.25, scope="layer")([s, s])
    # layer mean rate 0.5 -> (0.25)^2 per layer, summed over two layers
    assert penalty.item() == pytest.approx(0.125)


def test_none_is_zero_and_build_by_name():
    p, _ = NoRegularizer()([_spikes()])
    assert p.item() == 0
    reg = build_regularizer({"name": "homeostatic_l2", "lam": 0.5, "target_rate": 0.1})
    assert isinstance(reg, HomeostaticL2) and reg.lam == 0.5 and reg.target_rate == 0.1


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"name": "l1_magic", "lam": 1.0}, "unknown regularizer"),
        ({"name": "homeostatic_l2", "lam": -1.0}, "lambda must be >= 0"),
        ({"name": "homeostatic_l2", "lam": float("nan")}, "lambda must be >= 0"),
        ({"name": "homeostatic_l2", "lam": 1.0, "target_rate": 1.5}, "target_rate"),
        ({"name": "homeostatic_l2", "lam": 1.0, "scope": "net"}, "scope"),
        ({"name": "homeostatic_l2", "lam": 1.0, "ramp": 3}, "does not take"),
    ],
)
def test_bad_specs_rejected(spec, match):
    with pytest.raises(ValueError, match=match):
        build_regularizer(spec)


@pytest.mark.parametrize(
    "bad", [[], torch.zeros(3, 2, 4), [torch.zeros(3, 4)], ["spikes"]], ids=["empty", "bare", "2d", "str"]
)
def test_regularizers_reject_malformed_spikes(bad):
    for reg in (NoRegularizer(), HomeostaticL2(lam=1.0)):
        with pytest.raises(ValueError, match="hidden_spikes"):
            reg(bad)


def test_first_spike_penalty_hand_counts_and_mask():
    from spikesparse.regularizers import FirstSpike, excess_spikes

    s = torch.zeros(5, 1, 3)
    s[2, 0, 0] = 1  # neuron 0 fires once -> 0 excess
    s[[0, 2, 4], 0, 1] = 1  # neuron 1 fires three times -> 2 excess
    s.requires_grad_()
    assert excess_spikes(s).tolist() == [[0.0, 2.0, 0.0]]
    penalty, parts = FirstSpike(lam=3.0, two_phase=False)([s])
    assert penalty.item() == pytest.approx(3.0 * 2 / 3)
    assert parts["phase"] == 2.0
    penalty.backward()
    # The mask opens on every step after a neuron's first spike, so the gradient reaches every
    # later (potential) spike: neuron 0 from t=3, neuron 1 from t=1, never neuron 2 (silent)
    # nor the first spikes themselves.
    expected = torch.zeros(5, 1, 3)
    expected[3:, 0, 0] = 1.0
    expected[1:, 0, 1] = 1.0
    torch.testing.assert_close(s.grad, expected * 3.0 / 3)


def test_excess_spikes_matches_its_definition_term_by_term():
    """``sum_t s[t] * 1[sum_{tau<t} s[tau] >= 1]`` written out literally, on binary spikes of
    several lengths (one step included) and on graded values, which cross 1 part-way."""
    from spikesparse.regularizers import excess_spikes

    g = torch.Generator().manual_seed(3)
    cases = [(torch.rand(t, 4, 5, generator=g) < 0.3).float() for t in (1, 2, 16, 100)]
    cases.append(torch.rand(7, 3, 4, generator=g).mul_(0.6).double())
    for s in cases:
        expected = torch.zeros(s.shape[1:], dtype=s.dtype)
        for t in range(s.shape[0]):
            expected += s[t] * (s[:t].sum(dim=0) >= 1).to(s.dtype)
        torch.testing.assert_close(excess_spikes(s), expected, rtol=0, atol=1e-12)


def test_two_phase_fixed_epoch_switch():
    from spikesparse.regularizers import FirstSpike

    reg = FirstSpike(lam=2.0, two_phase=True, switch="epoch", switch_epoch=3)
    s = torch.ones(4, 2, 2)
    assert [reg.weight(e) for e in range(5)] == [0.0, 0.0, 0.0, 2.0, 2.0]
    assert reg([s], epoch=2)[0].item() == 0.0
    assert reg([s], epoch=3)[0].item() == pytest.approx(2.0 * 3)


def test_two_phase_plateau_switch_needs_plateau_and_few_silent():
    from spikesparse.regularizers import FirstSpike

    reg = FirstSpike(lam=1.0, switch="plateau", patience=2, silent_epsilon=0.1)
    rows = [(0.5, 0.0), (0.6, 0.0), (0.6, 0.5), (0.55, 0.5), (0.55, 0.05)]
    for epoch, (acc, silent) in enumerate(rows, start=1):
        assert reg.weight(epoch - 1) == 0.0
        reg.end_epoch({"epoch": epoch, "val_accuracy": acc, "silent_fraction": silent})
    # plateau reached at epoch 4 but 50 % silent; switches after epoch 5, when silence is low
    assert reg.switched_at == 5
    assert reg.weight(5) == 1.0


def test_wake_up_term_pulls_silent_neurons_in_phase_one():
    from spikesparse.regularizers import FirstSpike

    silent = torch.zeros(6, 2, 3, requires_grad=True)
    penalty, parts = FirstSpike(lam=1.0, switch_epoch=10, wake_up=0.5)([silent], epoch=0)
    assert parts["wake_up"] == pytest.approx(1.0) and penalty.item() == pytest.approx(0.5)
    penalty.backward()
    assert (silent.grad < 0).all()


def test_spike_count_value_ramp_and_constant():
    from spikesparse.regularizers import SpikeCount

    s = torch.zeros(4, 2, 5)
    s[0, 0, :2] = 1  # 2 spikes of 40 possible -> rate 0.05
    ramp = SpikeCount(lam=10.0, schedule="ramp", ramp_epochs=4)
    assert [ramp.weight(e) for e in range(6)] == [2.5, 5.0, 7.5, 10.0, 10.0, 10.0]
    penalty, parts = ramp([s], epoch=1)
    assert penalty.item() == pytest.approx(5.0 * 0.05)
    assert parts["spikes_per_sample"] == pytest.approx(1.0)
    assert SpikeCount(lam=10.0, schedule="constant").weight(0) == 10.0
    with pytest.raises(ValueError, match="schedule"):
        SpikeCount(lam=1.0, schedule="cosine")


def test_compiled_first_spike_mask_equals_the_running_sum_loop(monkeypatch):
    """The compiled mask (csrc/first_spike.cpp) makes the same float additions in the same order
    as the PyTorch running sum, so the masks are identical on binary and graded float32 spikes,
    including graded sums that reach exactly 1 part-way and a single step."""
    from spikesparse import _ext
    from spikesparse.regularizers import _after_first_mask

    ext = _ext.extension()
    assert ext is not None and hasattr(ext, "after_first_mask")
    g = torch.Generator().manual_seed(4)
    cases = [(torch.rand(t, 6, 9, generator=g) < 0.2).float() for t in (1, 2, 16, 100)]
    cases.append(torch.rand(40, 5, 7, generator=g).mul_(0.3))
    cases.append(torch.full((5, 2, 3), 0.25))  # 0.25 x 4 = exactly 1.0 at the fifth step
    compiled = [_after_first_mask(s) for s in cases]
    monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
    for s, got in zip(cases, compiled, strict=True):
        want = _after_first_mask(s)
        assert got.dtype == s.dtype and torch.equal(got, want)
    assert compiled[-1][:, 0, 0].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_the_tables_read_the_homeostatic_target_the_runs_trained_with():
    """A homeostatic method that leaves target_rate out trains at the regularizer's default; the
    claims and figures (which do not import torch) keep their own copy of it, equal here."""
    import pandas as pd

    from spikesparse.regularizers import HomeostaticL2
    from spikesparse.study.analysis.aggregation import DEFAULT_TARGET_RATE, target_rate

    assert DEFAULT_TARGET_RATE == HomeostaticL2.DEFAULT_TARGET_RATE == HomeostaticL2(1.0).target_rate
    runs = pd.DataFrame(
        {"regularizer": ["none", "homeostatic_l2"], "cfg.regularizer.target_rate": [None, None]}
    )
    assert target_rate(runs) == DEFAULT_TARGET_RATE
    assert target_rate(runs.iloc[:1]) is None  # no homeostatic run: no target to draw
    runs["cfg.regularizer.target_rate"] = [None, 0.1]
    assert target_rate(runs) == 0.1
