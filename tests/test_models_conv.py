"""Layer-list models (``model.layers``): conv LIF layers, pooling, their op counts and config."""

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikesparse import metrics as M
from spikesparse.layer_spec import check_layers, input_shape_for
from spikesparse.models import ConvSpikingNet, SpikingNet, build_model
from spikesparse.neurons import LIFParams
from spikesparse.neurons.reference import _SpikeFn
from spikesparse.study.config import ConfigError, load_config, validate_config
from spikesparse.study.runs import RunKey, run_spec
from tests.conftest import QUICK_CONFIG

REPO = Path(__file__).resolve().parents[1]
NEURON = {"beta": 0.85, "threshold": 1.0, "reset": "subtract", "detach_reset": True, "slope": 25.0}
CONV1D = [
    {"conv1d": {"channels": 4, "kernel": 3, "stride": 1, "padding": 1}},
    {"pool": {"kind": "avg", "size": 2}},
    {"conv1d": {"channels": 5, "kernel": 3, "stride": 2, "padding": 1}},
    {"flatten": {}},
    {"dense": {"units": 7}},
]


def _spec(layers, **extra):
    return {"kind": "feedforward", "layers": layers, "readout_beta": 0.9, "neuron": dict(NEURON), **extra}


def _net(layers=CONV1D, n_in=12, n_out=3, seed=0, **extra):
    torch.manual_seed(seed)
    return build_model(_spec(layers, **extra), n_in, n_out)


# ----------------------------------------------------------------------------- reference model


def _reference_forward(net: ConvSpikingNet, x: torch.Tensor):
    """The same net written step by step in plain PyTorch (autograd through every op): each
    step applies the conv to that step's input only, the LIF update with a detached subtractive
    reset, the pooling; the readout integrates the drive and is averaged over time."""
    p = net.neuron
    T, B = x.shape[:2]
    n_spiking = len(net.layers)
    mem = [None] * n_spiking
    spk_prev = [None] * n_spiking
    spikes = [[] for _ in range(n_spiking)]
    u = None
    readout_mems = []
    for t in range(T):
        h = x[t].reshape(B, *net.input_shape)
        n = 0
        for step in net.plan:
            if step[0] == "spiking":
                layer = net.layers[step[1]]
                cur = layer(h).reshape(B, -1)
                m = cur if mem[n] is None else p.beta * mem[n] + cur - p.threshold * spk_prev[n].detach()
                s = _SpikeFn.apply(m - p.threshold, p.slope)
                mem[n], spk_prev[n] = m, s
                spikes[n].append(s)
                h = s.reshape(B, *step[2])
                n += 1
            elif step[0] == "pool":
                pool = F.avg_pool1d if step[1] == "avg" else F.max_pool1d
                h = pool(h, step[2], step[3])
            else:
                h = h.reshape(B, -1)
        drive = net.readout(h.reshape(B, -1))
        u = drive if u is None else net.readout_beta * u + drive
        readout_mems.append(u)
    return torch.stack(readout_mems).mean(0), [torch.stack(s) for s in spikes]


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_conv_lif_forward_and_backward_equal_a_plain_pytorch_reference(pool):
    layers = copy.deepcopy(CONV1D)
    layers[1]["pool"]["kind"] = pool
    net = _net(layers, init_scale=3.0, bias=0.3)
    x = torch.randn(10, 6, 12)
    y = torch.randint(0, 3, (6,))
    results = []
    for forward in (lambda: tuple(net(x)), lambda: _reference_forward(net, x)):
        net.zero_grad()
        logits, spikes = forward()
        loss = F.cross_entropy(logits, y) + 0.1 * sum(s.sum() for s in spikes) / 60
        loss.backward()
        results.append(
            [logits.detach(), *[s.detach() for s in spikes], *[q.grad.clone() for q in net.parameters()]]
        )
    ours, ref = results
    assert sum(float(s.sum()) for s in ours[1:4]) > 0, "the net must spike for the test to mean anything"
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_conv_lif_equals_snntorch_leaky_after_conv1d_spike_for_spike():
    snn = pytest.importorskip("snntorch")
    from snntorch import surrogate

    torch.manual_seed(4)
    conv = nn.Conv1d(2, 6, kernel_size=5, stride=2, padding=2)
    with torch.no_grad():
        conv.weight.mul_(3.0)
    x = torch.rand(16, 5, 2, 20)
    lif = snn.Leaky(
        beta=0.85, threshold=1.0, reset_mechanism="subtract", spike_grad=surrogate.fast_sigmoid(25)
    )
    mem = lif.reset_mem()
    ref = []
    for t in range(16):
        spk, mem = lif(conv(x[t]), mem)
        ref.append(spk)
    ref = torch.stack(ref)
    net = ConvSpikingNet(
        [{"conv1d": {"channels": 6, "kernel": 5, "stride": 2, "padding": 2}}], (2, 20), 3, LIFParams(**NEURON)
    )
    with torch.no_grad():
        net.layers[0].weight.copy_(conv.weight)
        net.layers[0].bias.copy_(conv.bias)
        ours = net.traces(x.reshape(16, 5, 40)).hidden_spikes[0]
        train = net(x.reshape(16, 5, 40)).hidden_spikes[0]
    assert 0 < float(ref.detach().mean()) < 1
    assert torch.equal(ours, ref.reshape(16, 5, -1))
    assert torch.equal(train, ours)


def test_max_pool_passes_or_of_spikes_and_avg_pool_feeds_counts():
    net = _net(
        [{"conv1d": {"channels": 2, "kernel": 1}}, {"pool": {"kind": "max", "size": 3}}, {"flatten": {}}],
        n_in=9,
        init_scale=5.0,
    )
    x = torch.randn(6, 4, 9)
    spikes = net.traces(x).hidden_spikes
    fed = net.synaptic_inputs(x, spikes)[-1][2]  # the readout's input: the pooled spikes
    s = spikes[0].reshape(6, 4, 2, 9)
    assert torch.equal(fed.reshape(6, 4, 2, 3), s.reshape(6, 4, 2, 3, 3).amax(-1))
    net = _net(
        [{"conv1d": {"channels": 2, "kernel": 1}}, {"pool": {"kind": "avg", "size": 3}}, {"flatten": {}}],
        n_in=9,
        init_scale=5.0,
    )
    spikes = net.traces(x).hidden_spikes
    fed = net.synaptic_inputs(x, spikes)[-1][2]
    assert torch.equal(fed.reshape(6, 4, 2, 3), spikes[0].reshape(6, 4, 2, 3, 3).sum(-1))


def test_refractory_period_holds_in_a_conv_layer():
    k = 2
    spec = _spec([{"conv1d": {"channels": 3, "kernel": 3, "padding": 1}}], init_scale=4.0, bias=1.0)
    spec["neuron"]["refractory"] = k
    torch.manual_seed(1)
    net = build_model(spec, 10, 2)
    x = torch.rand(20, 4, 10)
    for s in (net(x).hidden_spikes[0].detach(), net.traces(x).hidden_spikes[0]):
        assert float(s.mean()) > 0.1
        for t in range(1, k + 1):  # a spike at t blocks t+1 .. t+k
            assert not bool((s[t:] * s[:-t]).any())


def test_conv2d_net_with_recurrent_layer_runs_and_trains():
    layers = [
        {"conv2d": {"channels": 3, "kernel": [3, 3], "padding": 1}},
        {"pool": {"kind": "max", "size": 2}},
        {"flatten": {}},
        {"recurrent": {"units": 5}},
    ]
    net = _net(layers, n_in=2 * 6 * 6, input_shape=[2, 6, 6], init_scale=3.0)
    out = net(torch.rand(5, 3, 72))
    assert [s.shape for s in out.hidden_spikes] == [(5, 3, 108), (5, 3, 5)]
    out.logits.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert [n for n, _ in net.synapse_layers()] == ["conv0", "fc1", "rec1", "readout"]


def test_a_conv_nets_recurrent_layer_is_a_layer_at_every_step_in_dense():
    """Dense counts every synaptic layer at every step (T x fan-in x fan-out), the recurrent one
    included, as SpikingNet's count does: at the first step it is fed zeros (no spikes yet), so
    its ACs are unchanged, but the step is counted."""
    from spikesparse.study.evaluation import evaluate_model

    layers = [{"conv1d": {"channels": 2, "kernel": 3}}, {"flatten": {}}, {"recurrent": {"units": 7}}]
    net = _net(layers, n_in=12, init_scale=3.0)
    x = np.random.default_rng(0).random((8, 12)).astype(np.float32)
    cfg = {"eval_seed": 7, "saturation_rate": 0.9, "e_ac_pj": 0.9, "e_mac_pj": 4.6}
    r = evaluate_model(net, x, np.arange(8) % 3, {"name": "rate", "n_steps": 6}, cfg)
    conv, dense_in, rec = 2 * 10 * 3, 20 * 7, 7 * 7  # conv0: each of 20 outputs meets 3 taps
    assert r["dense_ops_per_sample"] == 6 * (conv + dense_in + rec + 7 * net.readout.out_features)
    fed = dict(
        (name, f)
        for name, _, f in net.synaptic_inputs(
            torch.ones(6, 1, 12), net.traces(torch.ones(6, 1, 12)).hidden_spikes
        )
    )
    assert fed["rec1"].shape[0] == 6 and not fed["rec1"][0].any()


# ----------------------------------------------------------------------------- op counts


def test_conv_synops_equal_a_hand_count_with_padding_and_stride():
    """Conv1d, 1 -> 2 channels, kernel 3, stride 2, padding 1, on L = 5: outputs at o = 0, 1, 2
    read input positions 2o - 1 .. 2o + 1 (position -1 is padding). Input position i is read by
    o in {(i+1)/2 - 1, ..} -> position 0: o=0 (tap 1); 1: o=0 (tap 2), o=1 (tap 0); 2: o=1 (tap 1);
    3: o=1 (tap 2), o=2 (tap 0); 4: o=2 (tap 1). Taps met per position: [1, 2, 1, 2, 1], times 2
    output channels."""
    layer = nn.Conv1d(1, 2, 3, stride=2, padding=1)
    with torch.no_grad():
        layer.weight.fill_(0.5)
        layer.weight[1, 0, 2] = 0.0  # one zero weight: tap 2 of channel 1
    # T = 2, B = 1: step 0 spikes at positions 0, 1; step 1 at 3, 4.
    x = torch.zeros(2, 1, 1, 5)
    x[0, 0, 0, [0, 1]] = 1
    x[1, 0, 0, [3, 4]] = 1
    ops = M.layer_op_counts(layer, x)
    taps = [1, 2, 1, 2, 1]
    synops = 2 * (taps[0] + taps[1] + taps[3] + taps[4])
    # zero weight (channel 1, tap 2) is met by positions 1 (o=0) and 3 (o=1): both spiked
    # NeuroBench's Dense: every output x every tap inside the (unpadded) input, per step:
    # 2 channels x (2 + 3 + 2) taps, at T = 2 steps
    assert ops == {"acs": synops - 2, "macs": 0.0, "synops": synops, "dense": 2 * (2 + 3 + 2) * 2}


def test_ac_mac_split_is_decided_per_step_and_counts_signed_events_as_spikes():
    layer = nn.Linear(3, 2)
    x = torch.tensor([[[1.0, 0.0, -1.0]], [[0.5, 0.0, 0.0]], [[0.0, 1.0, 0.0]]])  # T=3, B=1
    ops = M.layer_op_counts(layer, x)
    assert ops["acs"] == 2 * 2 + 2 * 1  # steps 0 (two events, one of them -1) and 2
    assert ops["macs"] == 2 * 1  # step 1: analog
    assert ops["synops"] == 6


def test_evaluation_counts_conv_layers_as_the_library_does():
    from spikesparse import api
    from spikesparse.study.evaluation import evaluate_model

    # A max pool keeps every layer's input binary, so NeuroBench's per-step rule (the library's)
    # and the evaluation's (spike-fed layers are ACs) must agree.
    layers = copy.deepcopy(CONV1D)
    layers[1]["pool"]["kind"] = "max"
    net = _net(layers, n_in=12, init_scale=3.0)
    rng = np.random.default_rng(0)
    x = rng.random((30, 12)).astype(np.float32)
    y = np.arange(30) % 3
    cfg = {"eval_seed": 7, "saturation_rate": 0.9, "e_ac_pj": 0.9, "e_mac_pj": 4.6}
    r = evaluate_model(net, x, y, {"name": "rate", "n_steps": 6}, cfg, batch_size=30)
    from spikesparse.study.encoding import shared_split_code

    xb = shared_split_code(x, {"name": "rate", "n_steps": 6}).batch(
        slice(0, 30), torch.Generator().manual_seed(7)
    )
    fed = net.synaptic_inputs(xb, net.traces(xb).hidden_spikes)
    lib = api.synaptic_operations([layer for _, layer, _ in fed], [f for _, _, f in fed])
    assert r["synops_per_sample"] == pytest.approx(lib["SynOps"])
    assert r["effective_acs_per_sample"] == pytest.approx(lib["Effective_ACs"])
    assert r["dense_ops_per_sample"] == pytest.approx(lib["Dense"])
    assert r["synops_per_sample"] > 0
    assert len(r["neuron_rates"]) == sum(net.layer_sizes)
    current = evaluate_model(net, x, y, {"name": "current", "n_steps": 6, "gain": 6.0, "offset": -3.0}, cfg)
    assert current["effective_macs_per_sample"] > 0  # the analog first layer: MACs


# ----------------------------------------------------------------------------- config and old specs


def _config_with(model: dict) -> dict:
    import yaml

    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    exp = next(e for e in cfg["experiments"].values() if e["dataset"] in ("digits", "mnist1d"))
    exp["model"] = model
    return cfg


@pytest.mark.parametrize(
    ("layers", "where"),
    [
        ([{"conv3d": {"channels": 2, "kernel": 3}}], "model.layers[0]: Additional properties"),
        ([{"conv1d": {"channels": 0, "kernel": 3}}], "model.layers[0].conv1d.channels: 0 is less than"),
        ([{"conv1d": {"kernel": 3}}], "model.layers[0].conv1d: 'channels' is a required"),
        ([{"pool": {"kind": "sum", "size": 2}}], "model.layers[0].pool.kind"),
        ([{"dense": {"units": 4}, "flatten": {}}], "model.layers[0]: "),
        (
            [{"conv1d": {"channels": 2, "kernel": 3}}, {"dense": {"units": 4}}],
            "model.layers[1].dense: needs flat input",
        ),
        ([{"flatten": {}}, {"pool": {"size": 2}}], "model.layers[1].pool: pools a conv layer"),
        ([{"pool": {"size": 2}}], "model.layers[0].pool"),
        ([{"flatten": {}}], "model.layers: needs at least one"),
    ],
)
def test_bad_layer_specs_give_one_line_errors_naming_the_key(layers, where):
    cfg = _config_with({"layers": layers})
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert "\n" not in str(err.value)
    assert where in str(err.value), str(err.value)


def test_layers_beside_hidden_or_recurrent_kind_are_errors():
    with pytest.raises(ConfigError, match=r"model\.hidden: give either hidden or layers"):
        validate_config(_config_with({"layers": CONV1D, "hidden": [4]}))
    with pytest.raises(ConfigError, match=r"model\.kind: with layers"):
        validate_config(_config_with({"layers": CONV1D, "kind": "recurrent"}))


def test_layer_config_validates_idempotently_and_the_conv_study_config_is_valid():
    cfg = validate_config(_config_with({"layers": copy.deepcopy(CONV1D), "input_shape": [1, 64]}))
    exp = next(e for e in cfg["experiments"].values() if "layers" in e["model"])
    assert "hidden" not in exp["model"] and exp["model"]["kind"] == "feedforward"
    assert exp["model"]["layers"][0]["conv1d"] == {"channels": 4, "kernel": 3, "stride": 1, "padding": 1}
    again = validate_config(copy.deepcopy(cfg))
    assert again == cfg
    conv = load_config(REPO / "config" / "conv.yaml")
    spec = run_spec(conv, RunKey("e2_conv_mnist1d", "baseline", "0.0", 0))
    net = build_model(spec["model"], 40, 10)
    assert isinstance(net, ConvSpikingNet) and net.input_shape == (1, 40)


def test_input_shape_rule():
    assert input_shape_for({"layers": CONV1D}, 12) == (1, 12)
    assert input_shape_for({"layers": CONV1D, "input_shape": [3, 4]}, 12) == (3, 4)
    assert input_shape_for({"layers": CONV1D}, 12, [2, 6]) == (2, 6)
    assert input_shape_for({"layers": [{"flatten": {}}, {"dense": {"units": 3}}]}, 12) == (12,)
    with pytest.raises(ValueError, match="model.input_shape: conv2d needs"):
        input_shape_for({"layers": [{"conv2d": {"channels": 2, "kernel": 3}}]}, 12)
    with pytest.raises(ValueError, match="has 9 values, the data 12"):
        input_shape_for({"layers": CONV1D, "input_shape": [3, 3]}, 12)
    with pytest.raises(ValueError, match="conv1d needs"):
        input_shape_for({"layers": CONV1D, "input_shape": [1, 3, 4]}, 12)
    check_layers(CONV1D, [1, 12])
    with pytest.raises(ValueError, match=r"layers\[0\].conv1d: needs a 1-D input map"):
        check_layers(CONV1D, [1, 3, 4])


# Hashes computed with the commit this work started from (e0e9de6): the state dict of
# build_model(spec) after torch.manual_seed(3) and the hidden spikes on fixed input spikes.
OLD = {
    "feedforward": ("06985ead08cce98f", "89512b855adec11b"),
    "recurrent": ("65c67bf08aa80245", "af916e81824f8225"),
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@pytest.mark.parametrize("kind", ["feedforward", "recurrent"])
def test_hidden_specs_build_byte_identical_models(kind):
    spec = {"kind": kind, "hidden": [24, 16], "readout_beta": 0.9, "neuron": {"beta": 0.9, "threshold": 1.0}}
    torch.manual_seed(3)
    model = build_model(spec, 10, 4)
    assert type(model) is SpikingNet
    state = _sha(b"".join(v.numpy().tobytes() for v in model.state_dict().values()))
    x = (torch.rand(12, 6, 10, generator=torch.Generator().manual_seed(5)) < 0.4).float()
    spikes = _sha(torch.cat([s.flatten() for s in model(x).hidden_spikes]).detach().numpy().tobytes())
    assert (state, spikes) == OLD[kind]
    torch.manual_seed(3)
    direct = SpikingNet(10, [24, 16], 4, LIFParams(beta=0.9, threshold=1.0), recurrent=kind == "recurrent")
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), direct.state_dict().values(), strict=True)
    )


def test_library_conv_lif_equals_the_study_layer_and_keeps_its_constraints():
    from spikesparse.api import ConvLIF

    torch.manual_seed(2)
    layer = ConvLIF(2, 3, 3, stride=2, padding=1, params=LIFParams(**NEURON))
    net = ConvSpikingNet(
        [{"conv1d": {"channels": 3, "kernel": 3, "stride": 2, "padding": 1}}], (2, 10), 2, LIFParams(**NEURON)
    )
    net.layers[0].load_state_dict(layer.conv.state_dict())
    x = torch.rand(8, 4, 2, 10) * 3
    with torch.no_grad():
        assert torch.equal(layer(x).reshape(8, 4, -1), net.traces(x.reshape(8, 4, 20)).hidden_spikes[0])
    budget = ConvLIF(2, 3, 3, padding=1, dims=1, spike_budget=1, beta=1.0, threshold=0.1)
    s = budget(torch.ones(6, 2, 2, 5))
    assert float(s.detach().sum(0).max()) == 1.0
    with pytest.raises(ValueError, match="channels"):
        layer(torch.rand(8, 4, 3, 10))
    with pytest.raises(ValueError, match=r"\[T, B, C, L\]"):
        layer(torch.rand(8, 2, 10))


def test_nir_export_of_a_conv_net(tmp_path):
    nir = pytest.importorskip("nir")
    from spikesparse.interop.nir_export import to_nir

    layers = [
        {"conv2d": {"channels": 3, "kernel": 3, "stride": 1, "padding": 1}},
        {"pool": {"kind": "avg", "size": 2}},
        {"flatten": {}},
        {"dense": {"units": 5}},
    ]
    spec = _spec(layers, input_shape=[2, 4, 4])
    spec["neuron"]["reset"] = "zero"
    net = build_model(spec, 32, 3)
    graph = to_nir(net)
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert kinds["conv0"] == "Conv2d" and kinds["pool1"] == "AvgPool2d" and kinds["flatten2"] == "Flatten"
    assert kinds["layer1"] == "Affine" and graph.nodes["lif0.lif"].v_threshold.shape == (3, 4, 4)
    assert ("lif0.lif", "pool1") in graph.edges and ("flatten2", "layer1") in graph.edges
    np.testing.assert_array_equal(graph.nodes["conv0"].weight, net.layers[0].weight.detach().numpy())
    nir.write(tmp_path / "conv.nir", graph)
    assert set(nir.read(tmp_path / "conv.nir").nodes) == set(graph.nodes)
    spec = _spec(CONV1D)
    spec["neuron"]["reset"] = "zero"
    with pytest.raises(ValueError, match="no node for a 1-D avg pool"):
        to_nir(build_model(spec, 12, 3))


def test_recorder_records_conv_lif_spikes_and_its_conv_input_time_major():
    from spikesparse.api import ConvLIF, synaptic_operations
    from spikesparse.interop.recorders import SpikeRecorder

    torch.manual_seed(0)
    model = nn.Sequential(
        ConvLIF(1, 4, 3, padding=1, threshold=0.5), ConvLIF(4, 2, 3, stride=2, threshold=0.5)
    )
    x = (torch.rand(6, 3, 1, 9) < 0.5).float()
    with SpikeRecorder(model, multistep=True) as rec:
        out = model(x)
    spikes = rec.spikes()
    inputs = rec.inputs()
    assert list(spikes) == ["0", "1"] and torch.equal(spikes["1"], out)
    assert list(inputs) == ["0.conv", "1.conv"] and inputs["0.conv"].shape == (6, 3, 1, 9)
    expected = synaptic_operations([model[0].conv, model[1].conv], [x, spikes["0"].detach()])
    assert rec.metrics()["SynOps"] == pytest.approx(expected["SynOps"]) and expected["SynOps"] > 0


def test_conversion_l4_adjustment_is_per_output_channel_of_a_conv_layer():
    """Channel 0's kernel [1, 1, 1] has L4 norm 3^(1/4), channel 1's [2, 0, 0] has 2: with
    alpha = 1 each channel's weights and bias are divided by its L4 norm over the mean of both
    (bit-for-bit the unadjusted conversion otherwise)."""
    from spikesparse.api import convert

    conv = nn.Conv1d(1, 2, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, 1.0, 1.0]], [[2.0, 0.0, 0.0]]]))
        conv.bias.copy_(torch.tensor([0.5, 0.25]))
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6, 3))
    x = torch.rand(20, 1, 8)
    plain = convert(model, x, alpha=0.0).layers[0]
    adjusted = convert(model, x, alpha=1.0).layers[0]
    norms = torch.tensor([3**0.25, 2.0])
    factors = norms / norms.mean()
    torch.testing.assert_close(adjusted.weight, plain.weight / factors[:, None, None])
    torch.testing.assert_close(adjusted.bias, plain.bias / factors)


@pytest.mark.parametrize("path", ["compiled", "pytorch"])
def test_pair_average_pool_is_the_pool_bit_for_bit(path, monkeypatch):
    """The size-2 average pool runs as the mean of pairs (faster than F.avg_pool1d on
    [T * B, C, L]), on the compiled kernel (CPU, float32/float64) and on the PyTorch ops that
    stand in without it: same values and same input gradients, odd lengths, float64 and a
    non-contiguous input included; the ``pooling.AvgPool1d`` module the conversion uses gives the
    same, and runs PyTorch's pool for every other setting."""
    from spikesparse import pooling
    from spikesparse.pooling import AvgPool1d, avg_pool_pairs

    if path == "pytorch":
        monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
    else:
        monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
    assert (pooling._kernel("pair_mean", torch.zeros(2)) is not None) == (path == "compiled")
    g = torch.Generator().manual_seed(0)
    for shape in [(16, 4, 10), (5, 3, 9), (7, 2, 2)]:
        for x in ((torch.rand(shape, generator=g) < 0.3).float(), torch.randn(shape, generator=g).double()):
            for fast in (avg_pool_pairs, AvgPool1d(2)):
                a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
                out_a, out_b = F.avg_pool1d(a, 2, 2), fast(b)
                assert torch.equal(out_a, out_b)
                grad = torch.randn(out_a.shape, generator=g)
                out_a.backward(grad)
                out_b.backward(grad)
                assert torch.equal(a.grad, b.grad)
    # A non-contiguous input (every other position of a wider leaf): the same values and the
    # same gradient for the leaf.
    wide = torch.randn(4, 3, 20, generator=g)
    a, b = wide.clone().requires_grad_(), wide.clone().requires_grad_()
    out_a, out_b = F.avg_pool1d(a[..., ::2], 2, 2), avg_pool_pairs(b[..., ::2])
    assert not b[..., ::2].is_contiguous() and torch.equal(out_a, out_b)
    grad = torch.randn(out_a.shape, generator=g)
    out_a.backward(grad)
    out_b.backward(grad)
    assert torch.equal(a.grad, b.grad)
    x = torch.randn(3, 2, 11, generator=g)
    for size, stride, padding in [(3, 2, 0), (2, 1, 0), (2, 2, 1)]:
        assert torch.equal(AvgPool1d(size, stride, padding)(x), F.avg_pool1d(x, size, stride, padding))
    plain = nn.AvgPool1d(2)
    assert (
        isinstance(AvgPool1d.like(plain), AvgPool1d) and AvgPool1d.like(nn.Flatten()).__class__ is nn.Flatten
    )


def test_window_out_is_torchs_output_size():
    """layer_spec.window_out, the one output-size rule of the models, the E4 ANN and the cost
    estimate, gives the length PyTorch's convolutions and pools give (padding and stride)."""
    from spikesparse.layer_spec import window_out

    x = torch.zeros(1, 1, 11, 9)
    for kernel, stride, padding in [
        ((3, 3), (1, 1), (0, 0)),
        ((5, 2), (2, 3), (2, 1)),
        ((2, 2), (2, 2), (0, 0)),
    ]:
        conv = F.conv2d(x, torch.zeros(1, 1, *kernel), stride=stride, padding=padding)
        assert window_out((11, 9), kernel, stride, padding) == list(conv.shape[2:])
        pool = F.avg_pool2d(x, kernel, stride)
        assert window_out((11, 9), kernel, stride) == list(pool.shape[2:])
    assert window_out((4,), (5,), (1,)) == [0]  # larger than its input: below 1, the caller reports it
