"""Evaluation of a trained run: both readings of firing, per-layer silence, the status rule,
analog effective MACs and the ANN comparison, checked by hand on tiny inputs."""

import numpy as np
import pytest
import torch

from spikesparse import metrics as M
from spikesparse.models import SpikingNet
from spikesparse.neurons import LIFParams
from spikesparse.study.evaluation import evaluate_model, evaluate_run
from spikesparse.study.metric_config import MetricConfig
from spikesparse.study.records import run_status

CFG = MetricConfig(saturation_rate=0.9, e_ac_pj=0.9, e_mac_pj=4.6, eval_seed=1)


def test_active_fraction_by_hand():
    s = torch.zeros(4, 2, 3)  # [T, B, N]
    s[0, 0, 0] = 1  # sample 0: neuron 0 fires once, neuron 2 fires on every step
    s[:, 0, 2] = 1
    s[3, 1, 1] = 1  # sample 1: neuron 1 fires once
    # sample 0: 2 of 3 neurons active, sample 1: 1 of 3 -> mean 0.5; the rate is 6 / 24 = 0.25
    assert M.active_fraction(s) == pytest.approx(0.5)
    assert M.firing_rate(s) == pytest.approx(0.25)
    assert M.active_counts(s).tolist() == [2, 1]


def test_effective_macs_count_nonzero_input_times_nonzero_weight_pairs():
    w = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])  # live synapses per input: 1, 0, 2
    x = torch.tensor([[[0.5, 0.7, 0.0]], [[0.0, 0.2, 0.9]]])  # [T=2, B=1, in=3]
    # t0: input 0 (1 synapse) + input 1 (0); t1: input 1 (0) + input 2 (2 synapses) -> 3
    assert M.effective_macs(x, w) == 3.0


def _net(hidden, recurrent=False, silence_layer=None):
    torch.manual_seed(0)
    net = SpikingNet(6, hidden, 3, LIFParams(threshold=0.5), recurrent=recurrent)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.abs_()
        if silence_layer is not None:
            net.layers[silence_layer].weight.zero_()
            net.layers[silence_layer].bias.fill_(-1.0)
    return net


def _data(n=12, static=True):
    rng = np.random.default_rng(0)
    shape = (n, 6) if static else (n, 5, 6)
    x = rng.random(shape).astype(np.float32)
    y = np.arange(n) % 3
    return x, y


def test_per_layer_silence_and_the_status_rule():
    x, y = _data()
    enc = {"name": "rate", "n_steps": 5}
    ok = evaluate_model(_net([8, 8]), x, y, enc, CFG)
    assert ok["any_layer_silent"] == 0 and run_status("ok", "", ok) == ("ok", "")
    off = evaluate_model(_net([8, 8], silence_layer=1), x, y, enc, CFG)
    assert off["layer_silent_fractions"][1] == 1.0 and off["any_layer_silent"] == 1
    assert off["hidden_rate"] > 0  # the first layer still fires: only a layer is off
    status, reason = run_status("ok", "", off)
    assert status == "layer_silent" and "[1]" in reason
    assert run_status("diverged", "nan loss", off) == ("diverged", "nan loss")
    assert 0 < ok["active_fraction"] <= 1 and ok["active_fraction"] >= ok["hidden_rate"]
    assert len(ok["layer_active_fractions"]) == 2


def test_ann_comparison_runs_once_per_input_for_static_data_and_every_step_for_sequences():
    enc = {"name": "rate", "n_steps": 5}
    x, y = _data()
    static = evaluate_model(_net([8]), x, y, enc, CFG, static_input=True)
    assert static["ann_macs_per_sample"] == 6 * 8 + 8 * 3  # one inference, no T factor
    assert static["ann_energy_pj_per_sample"] == pytest.approx(static["ann_macs_per_sample"] * 4.6)
    xs, ys = _data(static=False)
    seq = evaluate_model(_net([8], recurrent=True), xs, ys, {"name": "rate"}, CFG, static_input=False)
    assert seq["ann_macs_per_sample"] == 5 * (6 * 8 + 8 * 8 + 8 * 3)


def test_analog_input_first_layer_counts_effective_macs():
    x, y = _data()
    enc = {"name": "latency", "n_steps": 5}  # binary spikes: ACs, no MACs
    spikes = evaluate_model(_net([8]), x, y, enc, CFG)
    assert spikes["effective_macs_per_sample"] == 0.0


def test_evaluate_run_reports_validation_and_test():
    x, y = _data()
    data = {"x_train": x, "x_val": x[:6], "y_val": y[:6], "x_test": x, "y_test": y}
    spec = {"dataset": {"name": "digits"}, "encoding": {"name": "rate", "n_steps": 5}}
    out = evaluate_run(_net([8]), data, spec, CFG)
    assert out["val"]["n_samples"] == 6 and out["test"]["n_samples"] == 12
    assert "raster" in out["test"] and "raster" not in out["val"]  # details only where figures need them


def test_the_input_counts_acs_or_macs_per_step_as_neurobench_does():
    """NeuroBench decides per step (one call of a step-by-step model): a step whose values are all
    in {-1, 0, 1} is spikes (ACs), any other value makes that step's first-layer ops MACs. One bin
    holding two events turns its own step into MACs, not the split's; signed events are spikes,
    counted by their nonzero entries. The layer-list models count by the same rule
    (``metrics.layer_op_counts``), which is the expectation here."""
    from spikesparse.study.evaluation import SplitCounter

    net = _net([8])
    g = torch.Generator().manual_seed(1)
    xb = (torch.rand(5, 4, 6, generator=g) < 0.5).float()
    xb[2, 0, 1] = 2.0
    xb[4] = -xb[4]
    counter = SplitCounter(net, details=False)
    counter.add(xb, net.traces(xb))
    c = counter.split_counts(np.arange(4) % 3, static_input=False, metric_cfg=CFG)
    first = M.layer_op_counts(net.layers[0], xb)
    hidden, readout = c.counts[0], net.readout.weight.detach().double()
    assert first["macs"] > 0 and first["acs"] > 0
    assert c.analog_macs_per_sample * 4 == pytest.approx(first["macs"])
    assert c.effective_acs_per_sample * 4 == pytest.approx(first["acs"] + M.effective_acs(hidden, readout))
    assert c.synops_per_sample * 4 == pytest.approx(first["synops"] + M.synops(hidden, 3))
    only_spikes = SplitCounter(net, details=False)  # 0/1 input: the split's ops are all ACs
    binary = (xb != 0).float()
    only_spikes.add(binary, net.traces(binary))
    assert only_spikes.split_counts(np.arange(4) % 3, False, CFG).analog_macs_per_sample == 0.0


def test_the_per_sample_silent_fraction_counts_every_hidden_neuron_once():
    """Over layers of different widths (a conv net's), each hidden neuron weighs the same, as in
    the rate and the active fraction: it is their complement, not a mean of the layers' shares."""
    from spikesparse.study.evaluation import SplitCounter, catalog_metrics

    net = _net([12, 3])
    xb = (torch.rand(6, 5, 6, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    traces = net.traces(xb)
    counter = SplitCounter(net, details=False)
    counter.add(xb, traces)
    got = catalog_metrics(counter.split_counts(np.arange(5) % 3, False, CFG))
    silent = torch.cat([s.sum(0) == 0 for s in traces.hidden_spikes], dim=1)  # [B, 15]
    assert got["silent_fraction_per_sample"] == pytest.approx(float(silent.double().mean()))
    assert got["silent_fraction_per_sample"] == pytest.approx(1 - got["active_fraction"])
    layer_mean = np.mean([float((s.sum(0) == 0).double().mean()) for s in traces.hidden_spikes])
    assert got["silent_fraction_per_sample"] != pytest.approx(layer_mean)
