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
