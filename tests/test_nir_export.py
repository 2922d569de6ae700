"""NIR export round trip: the graph, loaded back through snnTorch's NIR import, spikes as our model."""

from __future__ import annotations

import pytest
import torch

from spikesparse.models import SpikingNet
from spikesparse.neurons import LIFParams

nir = pytest.importorskip("nir")
nirtorch = pytest.importorskip("nirtorch")
pytest.importorskip("snntorch")
from snntorch import utils  # noqa: E402
from snntorch.import_nir import _nir_to_snntorch_module, import_from_nir  # noqa: E402

from spikesparse.interop.nir_export import to_nir, write_nir  # noqa: E402

T, B = 20, 4


def _model(recurrent: bool, seed: int = 0, **neuron) -> tuple[SpikingNet, torch.Tensor]:
    torch.manual_seed(seed)
    params = {"beta": 0.8, "reset": "zero", **neuron}
    model = SpikingNet(6, [10, 8], 3, LIFParams(**params), recurrent=recurrent, readout_beta=0.7)
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.mul_(2.0)  # fire often, so a wrong reset or leak would show
    x = (torch.rand(T, B, 6) < 0.5).float()
    return model, x


class _Stateful(torch.nn.Module):
    """A snnTorch neuron (or our LI readout) as nirtorch's stateful interface: (x, state) -> (y, state)."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def forward(self, x, state=None):
        return self.step(x, torch.zeros_like(x) if state is None else state)


def _li_step(node):
    """NIR's LI, integrated with the exporter's dt: u <- u + dt / tau (v_leak - u + r I)."""
    k = torch.from_numpy(1e-4 / node.tau)
    r = torch.from_numpy(node.r)
    return lambda x, u: (u + k * (-u + r * x),) * 2


def _load(graph):
    """nirtorch's graph interpreter (handles the recurrent cycle) with snnTorch's node import."""

    def convert(node):
        if isinstance(node, nir.LIF):
            leaky = _nir_to_snntorch_module(node, init_hidden=False)
            return _Stateful(lambda x, mem: leaky(x, mem))
        if isinstance(node, nir.LI):
            return _Stateful(_li_step(node))
        return _nir_to_snntorch_module(node, init_hidden=False)

    return nirtorch.nir_to_torch(
        graph, {nir.LIF: convert, nir.LI: convert, nir.Affine: convert, nir.Linear: convert}
    )


def _run_stateful(net, x):
    state, out = None, []
    with torch.no_grad():
        for t in range(len(x)):
            y, state = net(x[t], state)
            out.append(y)
    return torch.stack(out)


def test_feedforward_round_trip_through_snntorch_import():
    model, x = _model(recurrent=False)
    with torch.no_grad():
        ours = model(x).hidden_spikes[-1]
    net = import_from_nir(to_nir(model, include_readout=False))  # snnTorch's public importer
    utils.reset(net)
    with torch.no_grad():
        steps = [net(x[t]) for t in range(T)]  # the importer's GraphModule returns (output, state)
    theirs = torch.stack([y[0] if isinstance(y, tuple) else y for y in steps])
    assert float(ours.sum()) > 10, "the test model must spike"
    assert torch.equal(theirs, ours)


def test_recurrent_round_trip_reproduces_spikes():
    model, x = _model(recurrent=True, seed=1)
    with torch.no_grad():
        ours = model(x).hidden_spikes[-1]
    theirs = _run_stateful(_load(to_nir(model, include_readout=False)), x)
    assert float(ours.sum()) > 10
    assert torch.equal(theirs, ours)


@pytest.mark.parametrize("recurrent", [False, True])
def test_readout_round_trip_reproduces_the_membrane(recurrent):
    model, x = _model(recurrent=recurrent, seed=2)
    traces = model.traces(x)
    theirs = _run_stateful(_load(to_nir(model)), x)
    assert torch.allclose(theirs, traces.readout_mem, atol=1e-5)
    assert torch.allclose(theirs.mean(0), model(x).logits, atol=1e-5)


def _load_conv(graph):
    """nirtorch's interpreter for a conv graph: snnTorch's node import, with NIR's ``Flatten``
    read as NIR defines it (``start_dim`` indexes the per-sample shape, so torch's is one more:
    the importers' default map flattens the batch) and ``Conv1d``, which snnTorch's node import
    lacks, built from the node's own fields."""

    def convert(node):
        if isinstance(node, nir.LIF):
            leaky = _nir_to_snntorch_module(node, init_hidden=False)
            return _Stateful(lambda x, mem: leaky(x, mem))
        if isinstance(node, nir.Flatten):
            return torch.nn.Flatten(1 + node.start_dim, node.end_dim)
        if isinstance(node, nir.Conv1d):
            w = torch.from_numpy(node.weight)
            conv = torch.nn.Conv1d(
                w.shape[1] * int(node.groups),
                w.shape[0],
                w.shape[2],
                stride=int(node.stride),
                padding=int(node.padding),
                dilation=int(node.dilation),
                groups=int(node.groups),
            )
            with torch.no_grad():
                conv.weight.copy_(w)
                conv.bias.copy_(torch.from_numpy(node.bias))
            return conv
        return _nir_to_snntorch_module(node, init_hidden=False)

    kinds = (nir.LIF, nir.Affine, nir.Conv1d, nir.Conv2d, nir.AvgPool2d, nir.Flatten)
    return nirtorch.nir_to_torch(graph, {kind: convert for kind in kinds})


@pytest.mark.parametrize(
    "layers, shape",
    [
        (
            [
                {"conv2d": {"channels": 3, "kernel": 3, "padding": 1}},
                {"pool": {"size": 2, "kind": "avg"}},
                {"flatten": {}},
                {"dense": {"units": 6}},
            ],
            (2, 6, 6),
        ),
        (
            [
                {"conv1d": {"channels": 4, "kernel": 5, "padding": 2, "stride": 2}},
                {"flatten": {}},
                {"dense": {"units": 5}},
            ],
            (2, 11),
        ),
    ],
)
def test_conv_round_trip_reproduces_spikes(layers, shape):
    """A conv SNN's graph, read by an importer written apart from our exporter, spikes as our model."""
    from spikesparse.models import ConvSpikingNet

    torch.manual_seed(6)
    model = ConvSpikingNet(layers, shape, 2, LIFParams(beta=0.85, threshold=0.7, reset="zero"))
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.mul_(3.0)
    n_in = 1
    for size in shape:
        n_in *= size
    x = (torch.rand(T, B, n_in) < 0.5).float()
    with torch.no_grad():
        ours = model(x).hidden_spikes[-1]
    net = _load_conv(to_nir(model, include_readout=False))
    state, steps = None, []
    with torch.no_grad():
        for t in range(T):
            y, state = net(x[t].reshape(B, *shape), state)
            steps.append(y)
    assert float(ours.sum()) > 10, "the test model must spike"
    assert torch.equal(torch.stack(steps).reshape(ours.shape), ours)


def test_file_round_trip(tmp_path):
    model, _ = _model(recurrent=True)
    path = tmp_path / "net.nir"
    write_nir(model, str(path))
    graph = nir.read(str(path))
    assert set(graph.nodes) == set(to_nir(model).nodes)
    assert ("lif0.w_rec", "lif0.lif") in graph.edges
    assert torch.allclose(torch.from_numpy(graph.nodes["lif1.w_rec"].weight), model.w_rec[1].detach())


def test_what_nir_cannot_say_is_rejected():
    model, _ = _model(recurrent=False, reset="subtract")
    with pytest.raises(ValueError, match="approximate=True"):
        to_nir(model)
    with pytest.warns(UserWarning, match="reset='subtract' model as NIR's zero reset"):
        to_nir(model, approximate=True)
    rleaky, _ = _model(recurrent=True, reset="zero_rleaky")
    with pytest.warns(UserWarning, match="reset='zero_rleaky' model as NIR's zero reset"):
        to_nir(rleaky, approximate=True)
    budget, _ = _model(recurrent=False, spike_budget=2)
    with pytest.raises(ValueError, match="spike_budget=2"):
        to_nir(budget)
    with pytest.raises(TypeError, match="SpikingNet"):
        to_nir(torch.nn.Linear(2, 2))
