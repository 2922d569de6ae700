import pytest
import torch

from spikesparse.models import SpikingNet, build_model
from spikesparse.neurons import LIFParams


@pytest.mark.parametrize("recurrent", [True, False])
def test_forward_shapes_and_binary_spikes(recurrent):
    torch.manual_seed(0)
    net = SpikingNet(6, [8, 5], 3, LIFParams(), recurrent=recurrent)
    out = net((torch.rand(12, 4, 6) < 0.5).float())
    assert out.logits.shape == (4, 3)
    assert [s.shape for s in out.hidden_spikes] == [(12, 4, 8), (12, 4, 5)]
    assert all(set(s.unique().tolist()) <= {0.0, 1.0} for s in out.hidden_spikes)
    names = [n for n, _ in net.synapse_layers()]
    assert names == (["fc0", "rec0", "fc1", "rec1", "readout"] if recurrent else ["fc0", "fc1", "readout"])


def test_model_rejects_wrong_input():
    net = build_model(
        {"kind": "recurrent", "hidden": [4], "readout_beta": 0.9, "neuron": {}}, n_in=3, n_out=2
    )
    with pytest.raises(ValueError, match="3 features"):
        net(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="NaN"):
        net(torch.full((5, 2, 3), float("nan")))
    with pytest.raises(ValueError, match=r"\[T, B, N\]"):
        net(torch.zeros(2, 3))


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((0, [4], 2), {}, ValueError, "n_in must be a whole number >= 1, got 0"),
        ((3, [], 2), {}, ValueError, r"hidden must be a non-empty list of layer sizes, got \[\]"),
        ((3, 4, 2), {}, ValueError, "hidden must be a non-empty list of layer sizes, got 4"),
        ((3, [4, -1], 2), {}, ValueError, r"hidden\[1\] must be a whole number >= 1, got -1"),
        ((3, [4], 0), {}, ValueError, "n_out must be a whole number >= 1, got 0"),
        ((3, [4], 2), {"neuron": {"beta": 0.9}}, TypeError, "neuron must be a LIFParams, got dict"),
        ((3, [4], 2), {"readout_beta": 1.5}, ValueError, r"readout_beta must lie in \[0, 1\], got 1.5"),
        ((3, [4], 2), {"readout_beta": float("nan")}, ValueError, "readout_beta must be finite, got nan"),
        (
            (3, [4], 2),
            {"readout_beta": "0.9"},
            TypeError,
            "readout_beta must be a real number, got str '0.9'",
        ),
        ((3, [4], 2), {"init_scale": None}, TypeError, "init_scale must be a real number, got NoneType"),
        ((3, [4], 2), {"bias": "1"}, TypeError, "bias must be a real number, got str '1'"),
    ],
)
def test_a_net_of_impossible_sizes_or_parameters_is_named_at_construction(args, kwargs, error, match):
    """Before, these failed in the first forward pass (an IndexError, a negative-dimension or an
    attribute error), or not at all (n_in = 0, a readout that grows with beta 1.5)."""
    kwargs = {"neuron": LIFParams(), **kwargs}
    with pytest.raises(error, match=match):
        SpikingNet(*args, **kwargs)


def test_sizes_given_as_whole_floats_or_numpy_integers_build_the_net():
    import numpy as np

    net = SpikingNet(3.0, [np.int64(4), 5.0], np.int32(2), LIFParams())
    assert [(m.in_features, m.out_features) for m in net.layers] == [(3, 4), (4, 5)]
    assert net.readout.out_features == 2


@pytest.mark.parametrize("recurrent", [False, True])
def test_forward_with_pooled_last_layer_equals_the_plain_composition(recurrent):
    """SpikingNet's forward takes the readout's time pooling from the last layer's kernel: logits,
    spikes and every parameter gradient equal the plain composition (each layer's ``run_lif``,
    then ``leaky_readout``) bit for bit, with a penalty on the spikes as the study adds one."""
    import torch.nn.functional as F

    from spikesparse.neurons import leaky_readout, run_lif

    torch.manual_seed(3)
    model = SpikingNet(12, [20, 16], 4, LIFParams(beta=0.9, slope=25.0), recurrent=recurrent, init_scale=2.0)
    x = (torch.rand(18, 9, 12) < 0.3).float()
    y = torch.randint(0, 4, (9,))

    def plain(m, inp):
        h, spikes = inp, []
        for i, layer in enumerate(m.layers):
            h = run_lif(layer(h), m.w_rec[i] if m.recurrent else None, m.neuron)
            spikes.append(h)
        return leaky_readout(h, m.readout, m.readout_beta), spikes

    results = []
    for forward in (lambda: tuple(model(x)), lambda: plain(model, x)):
        model.zero_grad()
        logits, spikes = forward()
        loss = F.cross_entropy(logits, y) + 0.3 * sum(s.mean() for s in spikes)
        loss.backward()
        results.append(
            [logits.detach(), *[s.detach() for s in spikes], *[p.grad.clone() for p in model.parameters()]]
        )
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("penalty", ["spike_count", "homeostatic_neuron", "homeostatic_layer"])
def test_penalties_on_the_layers_counts_equal_penalties_on_the_spikes(recurrent, penalty):
    """In training the model returns ``HiddenSpikes`` with each layer's per-sample counts, which
    the rate penalties and the statistics read instead of the spikes: the penalty, its logged
    parts and every parameter gradient equal, bit for bit, the same regularizer given the plain
    list of spikes (which sums them itself). Without a gradient, no counts are made."""
    import torch.nn.functional as F

    from spikesparse.models import HiddenSpikes
    from spikesparse.regularizers import HomeostaticL2, SpikeCount, spike_counts

    reg = {
        "spike_count": SpikeCount(3.0, schedule="constant"),
        "homeostatic_neuron": HomeostaticL2(5.0, target_rate=0.05, scope="neuron"),
        "homeostatic_layer": HomeostaticL2(5.0, target_rate=0.05, scope="layer"),
    }[penalty]
    torch.manual_seed(5)
    model = SpikingNet(12, [20, 16], 4, LIFParams(beta=0.9, slope=25.0), recurrent=recurrent, init_scale=2.0)
    x = (torch.rand(18, 9, 12) < 0.3).float()
    y = torch.randint(0, 4, (9,))

    results = []
    for plain in (False, True):
        model.zero_grad()
        out = model(x)
        assert isinstance(out.hidden_spikes, HiddenSpikes) and len(out.hidden_spikes.counts) == 2
        spikes = list(out.hidden_spikes) if plain else out.hidden_spikes
        pen, parts = reg(spikes, epoch=0)
        (F.cross_entropy(out.logits, y) + pen).backward()
        counts = [c.detach() for c in spike_counts(spikes)]
        results.append([pen.detach(), *counts, *[p.grad.clone() for p in model.parameters()]])
        results[-1].append(torch.tensor(list(parts.values())))
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))
    assert results[0][1].sum() > 0
    with torch.no_grad():
        assert model(x).hidden_spikes.counts is None
