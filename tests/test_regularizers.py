import pytest
import torch

from spikesparse.regularizers import HomeostaticL2, NoRegularizer, build_regularizer


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
