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
