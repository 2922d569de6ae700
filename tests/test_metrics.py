import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score as sk_f1
from sklearn.metrics import roc_auc_score

from spikesparse import metrics as M


def test_synops_and_effective_acs_hand_count():
    # 3 presynaptic neurons with 2, 0, 1 spikes; W [out=2, in=3] with one zero weight in column 0
    spikes = torch.zeros(2, 1, 3)
    spikes[0, 0, 0] = spikes[1, 0, 0] = spikes[1, 0, 2] = 1
    counts = M.neuron_spike_counts(spikes)
    w = torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.5, -1.0]])
    assert M.synops(counts, fan_out=2) == 6  # 3 spikes x 2 targets
    assert M.effective_acs(counts, w) == 2 * 1 + 0 * 2 + 1 * 2  # zero weight skipped
    assert M.dense_ops(2, w) == 12


def test_activation_sparsity_and_rates():
    s = torch.zeros(4, 2, 5)
    s[0, 0, :2] = 1
    assert M.activation_sparsity([s]) == pytest.approx(1 - 2 / 40)
    assert M.firing_rate(s) == pytest.approx(2 / 40)
    counts = M.neuron_spike_counts(s)
    assert M.silent_fraction(counts) == pytest.approx(3 / 5)
    assert M.saturated_fraction(torch.tensor([0.95, 0.5, 0.9]), 0.9) == pytest.approx(2 / 3)


def test_energy_and_synaptic_efficiency():
    assert M.energy_pj(1000, 10) == pytest.approx(1000 * 0.9 + 10 * 4.6)
    # 75 % accuracy on a balanced binary task = half the skill, per 0.5 M SynOps -> 1.0
    assert M.synaptic_efficiency(0.75, 0.5, 5e5) == pytest.approx(1.0)
    assert M.synaptic_efficiency(0.5, 0.5, 1e6) == 0.0


def test_task_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    scores = rng.random(200) + 0.3 * y
    scores[:20] = 0.5  # ties
    pred = (scores > 0.6).astype(int)
    assert M.auroc(scores, y) == pytest.approx(roc_auc_score(y, scores))
    assert M.f1_score(pred, y) == pytest.approx(sk_f1(y, pred))
    assert M.accuracy(pred, y) == pytest.approx((pred == y).mean())


def test_evaluation_reports_every_scalar_metric():
    from spikesparse.models import SpikingNet
    from spikesparse.neurons import LIFParams
    from spikesparse.study.evaluation import SCALAR_METRICS, evaluate_model, unevaluated_metrics

    torch.manual_seed(0)
    net = SpikingNet(8, [6], 2, LIFParams(threshold=0.3))
    x = np.random.default_rng(0).random((10, 12, 2)).astype(np.float32)
    y = np.array([0, 1] * 5)
    cfg = {"eval_seed": 1, "saturation_rate": 0.9, "e_ac_pj": 0.9, "e_mac_pj": 4.6}
    m = evaluate_model(net, x, y, {"name": "rate", "population": 4, "width": 0.2}, cfg, batch_size=4)
    assert set(SCALAR_METRICS) <= set(m)
    assert set(unevaluated_metrics()) == set(SCALAR_METRICS)
    # hand count: SynOps = input spikes x 6 + hidden spikes fed back x 6 + hidden spikes x 2
    assert m["synops_per_sample"] >= m["input_spikes_per_sample"] * 6
    assert m["dense_ops_per_sample"] == 12 * (8 * 6 + 6 * 6 + 6 * 2)
    assert 0 <= m["activation_sparsity"] <= 1 and m["activation_sparsity"] == pytest.approx(
        1 - m["hidden_rate"]
    )


def test_public_functions_reject_bad_arguments():
    from spikesparse.neurons import readout_weights

    with pytest.raises(ValueError, match="n_steps"):
        readout_weights(0, 0.9)
    with pytest.raises(ValueError, match="n_steps"):
        M.dense_ops(-1, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="fan_out"):
        M.synops(torch.ones(3), -2)
    with pytest.raises(ValueError, match="chance"):
        M.synaptic_efficiency(0.9, 1.0, 10.0)
    with pytest.raises(ValueError, match=r"\[T, B, N\]"):
        M.firing_rate(torch.zeros(3, 3))


def test_membrane_updates_hand_count():
    # 1 sample, 3 neurons, 4 steps: first step counts all 3; then changes 1, 0, 2
    mem = torch.tensor([[0.0, 0.5, 1.0], [0.1, 0.5, 1.0], [0.1, 0.5, 1.0], [0.2, 0.5, 0.3]])[:, None, :]
    assert M.membrane_updates(mem) == 3 + 1 + 0 + 2
    with pytest.raises(ValueError, match="shape"):
        M.membrane_updates(torch.zeros(3, 4))


def test_evaluation_membrane_updates_and_raster_match_the_traces():
    from spikesparse.models import SpikingNet
    from spikesparse.neurons import LIFParams
    from spikesparse.study.evaluation import evaluate_model

    torch.manual_seed(1)
    net = SpikingNet(6, [5, 4], 3, LIFParams(threshold=0.4), recurrent=False)
    x = np.random.default_rng(1).random((7, 6)).astype(np.float32)  # static input, 10 steps
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    cfg = {"eval_seed": 3, "saturation_rate": 0.9, "e_ac_pj": 0.9, "e_mac_pj": 4.6}
    enc = {"name": "rate", "n_steps": 10}
    m = evaluate_model(net, x, y, enc, cfg, batch_size=3)
    from spikesparse.study.encoding import encode

    gen = torch.Generator().manual_seed(3)
    batches = [encode(torch.from_numpy(x[lo : lo + 3]), enc, gen) for lo in range(0, 7, 3)]
    traces = [net.traces(b) for b in batches]
    expected = sum(M.membrane_updates(mm) for t in traces for mm in [*t.hidden_mems, t.readout_mem])
    assert m["membrane_updates_per_sample"] == pytest.approx(expected / 7)
    # the readout membrane changes whenever it is driven, so the count is at least the readout's T x classes
    assert m["membrane_updates_per_sample"] >= 10 * 3
    raster = m["raster"]
    first = traces[0].hidden_spikes
    assert raster["layer_sizes"] == [5, 4] and raster["n_steps"] == 10
    assert len(raster["step"]) == int(sum(s[:, 0].sum() for s in first))
    for layer, step, neuron in zip(raster["layer"], raster["step"], raster["neuron"], strict=True):
        assert first[layer][step, 0, neuron] == 1
    assert len(m["layer_silent_fractions"]) == 2
    logits = net(batches[0]).logits
    torch.testing.assert_close(traces[0].readout_mem.mean(0), logits, rtol=1e-5, atol=1e-5)


def test_synaptic_fan_sums_the_synaptic_map():
    """synaptic_fan is the map's adjoint on ones: x . fan equals the sum of synaptic_map(x) for
    conv layers with stride and padding and for a dense layer, exactly for counts and 0/1 weights
    (the op counts take it instead of three float64 convolutions over the whole input)."""
    from spikesparse.metrics import synaptic_fan, synaptic_map

    g = torch.Generator().manual_seed(0)
    layers = [
        (torch.nn.Conv1d(3, 4, 3, stride=2, padding=1), (3, 11)),
        (torch.nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)), (2, 7, 5)),
        (torch.nn.Linear(6, 5), (6,)),
    ]
    for layer, in_shape in layers:
        w = (torch.rand(layer.weight.shape, generator=g) < 0.6).double()
        x = torch.randint(0, 3, (4, *in_shape), generator=g).double()
        fan = synaptic_fan(layer, w, in_shape)
        assert fan.shape == in_shape
        assert float((x * fan).sum()) == float(synaptic_map(layer, x, w).sum())
