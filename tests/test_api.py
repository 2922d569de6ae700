"""The public API on plain tensors: same numbers as the study's classes, any layout, conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikesparse import api
from spikesparse import metrics as M
from spikesparse.conversion import ReLUStages, l4_adjust, layer_scales, normalize, simulate_if
from spikesparse.regularizers import FirstSpike, HomeostaticL2, SpikeCount
from spikesparse.study.conversion_jobs import build_ann


def _spikes(seed: int, shape=(6, 4, 5), p: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


@pytest.fixture
def layers():
    return [_spikes(0, (6, 4, 5)), _spikes(1, (6, 4, 3), 0.6)]


def test_regularizer_functions_equal_the_study_classes(layers):
    pen, _ = SpikeCount(2.0, schedule="constant")(layers)
    assert torch.equal(api.spike_count_loss(layers, lam=2.0), pen)
    for scope in ("neuron", "layer"):
        pen, _ = HomeostaticL2(3.0, target_rate=0.1, scope=scope)(layers)
        assert torch.equal(api.homeostatic_l2_loss(layers, 0.1, lam=3.0, scope=scope), pen)
    pen, _ = FirstSpike(0.5, two_phase=False)(layers)
    assert torch.equal(api.first_spike_loss(layers, lam=0.5), pen)


def test_layouts_batch_first_conv_maps_and_dicts_agree():
    s = _spikes(2, (7, 3, 2, 4, 4))  # [T, B, C, H, W]
    flat = s.reshape(7, 3, -1)
    batch_first = s.transpose(0, 1).contiguous()  # [B, T, C, H, W]
    for fn in (api.spike_count_loss, api.first_spike_loss, api.homeostatic_l2_loss):
        want = fn(flat)
        assert torch.allclose(fn(s), want)
        assert torch.allclose(fn(batch_first, time_dim=1), want)
        assert torch.allclose(fn({"conv": s}), want)


def test_regularizers_are_differentiable_and_first_spike_is_free():
    s = _spikes(3).requires_grad_()
    api.spike_count_loss(s).backward()
    assert torch.allclose(s.grad, torch.full_like(s, 1 / s.numel()))
    # One spike per neuron and sample (at t=2): nothing to penalize; the first spike and the
    # steps before it get no gradient, only a spike after it would be pushed down.
    single = torch.zeros(5, 2, 3)
    single[2] = 1.0
    single.requires_grad_()
    loss = api.first_spike_loss(single)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert float(single.grad[:3].abs().sum()) == 0.0
    assert torch.all(single.grad[3:] > 0)


def test_bad_input_names_the_cause():
    with pytest.raises(ValueError, match="at least one"):
        api.spike_count_loss([])
    with pytest.raises(ValueError, match="share time steps"):
        api.spike_count_loss([torch.zeros(4, 2, 3), torch.zeros(5, 2, 3)])
    with pytest.raises(ValueError, match="time_dim=3"):
        api.spike_count_loss(torch.zeros(4, 2, 3), time_dim=3)
    with pytest.raises(ValueError, match="target_rate"):
        api.homeostatic_l2_loss(torch.zeros(4, 2, 3), target_rate=1.5)
    with pytest.raises(ValueError, match="lam"):
        api.first_spike_loss(torch.zeros(4, 2, 3), lam=-1)


def test_weights_and_layouts_of_the_wrong_kind_are_named():
    s = torch.zeros(4, 2, 3)
    with pytest.raises(TypeError, match="lam must be a real number, got str '1'"):
        api.spike_count_loss(s, lam="1")
    with pytest.raises(TypeError, match="lam must be a real number, got bool"):
        api.first_spike_loss(s, lam=True)
    with pytest.raises(ValueError, match="lam must be finite, got inf"):
        api.spike_count_loss(s, lam=float("inf"))
    with pytest.raises(TypeError, match="target_rate must be a real number, got str"):
        api.homeostatic_l2_loss(s, target_rate="0.05")
    with pytest.raises(TypeError, match="spikes must be a tensor, a sequence of tensors.*got NoneType"):
        api.firing_rate(None)
    with pytest.raises(TypeError, match="spikes must be a tensor.*got str"):
        api.firing_rate("spikes")
    # A scheduled weight held in a tensor, and the values of a recorder's dict, still work.
    spikes = {"a": _spikes(0), "b": _spikes(1)}
    assert torch.equal(
        api.spike_count_loss(spikes.values(), lam=torch.tensor(0.5)),
        api.spike_count_loss(list(spikes.values()), lam=0.5),
    )


NAN = float("nan")


@pytest.mark.parametrize(
    "call",
    [
        api.spike_count_loss,
        api.homeostatic_l2_loss,
        api.first_spike_loss,
        api.firing_rate,
        api.activation_sparsity,
        api.active_fraction,
    ],
)
def test_every_spike_function_rejects_malformed_spikes_by_name(call):
    """NaN or infinite values, complex values and empty time, batch or neuron dimensions raise
    ValueError naming the layer and the cause, instead of a NaN penalty, a wrong count or a
    reshape error from inside torch."""
    bad = torch.zeros(4, 2, 3)
    bad[1, 0, 2] = NAN
    with pytest.raises(ValueError, match=r"spikes\[0\] contains NaN or infinite"):
        call(bad)
    with pytest.raises(ValueError, match=r"spikes\[1\] contains NaN or infinite"):
        call([torch.zeros(4, 2, 3), torch.full((4, 2, 3), float("inf"))])
    # a mapping (e.g. a recorder's {module name: spikes}) is named by the user's own key
    with pytest.raises(ValueError, match=r"spikes\['conv2'\] contains NaN or infinite"):
        call({"conv1": torch.zeros(4, 2, 3), "conv2": bad})
    with pytest.raises(ValueError, match=r"spikes\['fc'\] has \(T, B\) = \(5, 2\), but spikes\['conv1'\]"):
        api.as_time_major({"conv1": torch.zeros(4, 2, 3), "fc": torch.zeros(5, 2, 3)})
    with pytest.raises(ValueError, match="must be real"):
        call(torch.zeros(4, 2, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"no time steps \(T = 0\)"):
        call(torch.zeros(0, 2, 3))
    with pytest.raises(ValueError, match=r"no samples \(B = 0\)"):
        call(torch.zeros(4, 0, 3))
    with pytest.raises(ValueError, match=r"no samples \(B = 0\)"):
        call(torch.zeros(0, 4, 3), time_dim=1)  # batch first: [B, T, N]
    with pytest.raises(ValueError, match="no neurons"):
        call(torch.zeros(4, 2, 0))


def test_bool_and_integer_spikes_count_as_float_spikes():
    s = torch.zeros(4, 2, 3)
    s[0, 0, 0] = s[2, 1, 1] = 1
    assert api.firing_rate(s.bool()) == api.firing_rate(s.to(torch.int8)) == api.firing_rate(s)
    assert float(api.spike_count_loss(s.bool())) == float(api.spike_count_loss(s))


def test_lif_layer_conversion_and_synops_name_malformed_input():
    with pytest.raises(ValueError, match=r"LIF: input has no time steps"):
        api.LIF()(torch.zeros(0, 2, 3))
    with pytest.raises(ValueError, match="contains NaN"):
        api.LIF()(torch.full((3, 2, 4), NAN))
    fc = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"inputs\[0\] contains NaN"):
        api.synaptic_operations([fc], [torch.full((2, 1, 4), NAN)])
    with pytest.raises(ValueError, match=r"inputs\[0\] of shape .* does not fit layers\[0\]"):
        api.synaptic_operations([fc], [torch.zeros(2, 1, 5)])
    with pytest.raises(ValueError, match=r"inputs\[0\] must be a tensor"):
        api.synaptic_operations([fc], [torch.zeros(4)])
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    snn = api.convert(net, torch.rand(16, 4))
    with pytest.raises(ValueError, match="x contains NaN"):
        snn.run(torch.full((2, 4), NAN), n_steps=4)
    with pytest.raises(ValueError, match=r"x of shape \(2, 5\) does not fit the converted net"):
        snn.run(torch.rand(2, 5), n_steps=4)
    with pytest.raises(ValueError, match="non-empty batch"):
        snn.run(torch.rand(0, 4), n_steps=4)
    with pytest.raises(ValueError, match="x_calib contains NaN"):
        api.convert(net, torch.full((16, 4), NAN))
    with pytest.raises(ValueError, match="x_calib must be a non-empty batch"):
        api.convert(net, torch.rand(0, 4))


def test_convert_leaves_the_callers_model_in_its_training_mode():
    """convert had called model.eval() on the caller's net: training on after a conversion ran
    with Dropout and BatchNorm frozen. Nothing in the conversion depends on the mode."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    net(torch.rand(32, 4))  # running statistics
    net.train()
    net[1].eval()  # a mixed mode survives as it was
    modes = [m.training for m in net.modules()]
    x = torch.rand(16, 4)
    in_train = api.convert(net, x).weights
    assert [m.training for m in net.modules()] == modes
    net.eval()
    in_eval = api.convert(net, x).weights  # the mode changes nothing in the conversion
    assert len(in_train) == 2 and all(torch.equal(u, v) for u, v in zip(in_train, in_eval, strict=True))


def test_a_float64_model_converts_to_a_float64_net():
    """The converted layers keep the model's dtype: they were built in the default float32, so a
    float64 model's net refused float64 input, and one with BatchNorm failed inside convert."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).double()
    net(torch.rand(32, 4, dtype=torch.float64))  # running statistics
    x = torch.rand(16, 4, dtype=torch.float64)
    snn = api.convert(net, x)
    assert all(w.dtype == torch.float64 for w in snn.weights)
    out, hidden = snn.run(x[:2], n_steps=8)
    assert out.dtype == torch.float64 and out.shape == (2, 3) and hidden[0].dtype == torch.float64


def test_convert_names_calibration_data_and_weights_it_cannot_use():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(ValueError, match=r"x_calib must hold rates in \[0, 1\]"):
        api.convert(net, torch.rand(16, 4) * 255)  # run() refuses these values: so does calibration
    with pytest.raises(
        ValueError, match=r"x_calib is torch.float64 but the model's weights are torch.float32"
    ):
        api.convert(net, torch.rand(16, 4, dtype=torch.float64))  # was blamed on the shape
    with torch.no_grad():
        net[2].weight[0, 0] = NAN
    with pytest.raises(ValueError, match=r"convert: the model's 2.weight contains NaN"):
        api.convert(net, torch.rand(16, 4))
    bn = nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8, track_running_stats=False), nn.ReLU(), nn.Linear(8, 3)
    )
    with pytest.raises(ValueError, match=r"module 1 \(BatchNorm\) keeps no running statistics"):
        api.convert(bn, torch.rand(16, 4))


def test_a_converted_net_names_a_bad_step_count_generator_or_hidden_list():
    torch.manual_seed(0)
    snn = api.convert(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), torch.rand(16, 4))
    x = torch.rand(2, 4)
    with pytest.raises(ValueError, match="n_steps must be a whole number >= 1, got 2.5"):
        snn.run(x, 2.5)  # ran 2 steps before
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int"):
        snn.run(x, 3, generator=5)
    _, hidden = snn.run(x, 3)
    with pytest.raises(ValueError, match="1 hidden spike tensors, got 2 hidden"):
        snn.inputs_of_layers(torch.zeros(3, 2, 4), [*hidden, *hidden])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_spikes_are_counted_in_float32(dtype):
    """A float16 sum overflows at 65,504 (the rate and the spike-count loss read inf on this
    320,000-spike batch) and a bfloat16 one rounds; both are counted as float32 spikes are, and
    the gradient reaches the spikes in their own dtype."""
    torch.manual_seed(0)
    s32 = (torch.rand(100, 64, 1000) < 0.05).float()
    s = s32.to(dtype).requires_grad_()
    assert api.firing_rate(s) == api.firing_rate(s32)
    loss = api.spike_count_loss(s)
    assert float(loss.detach()) == float(api.spike_count_loss(s32)) and loss.dtype == torch.float32
    loss.backward()
    assert s.grad.dtype == dtype and torch.isfinite(s.grad.float()).all()
    assert float(api.first_spike_loss(s)) == float(api.first_spike_loss(s32))
    assert float(api.homeostatic_l2_loss(s)) == float(api.homeostatic_l2_loss(s32))


def test_time_dim_must_be_an_integer_dimension():
    s = torch.zeros(4, 2, 3)
    with pytest.raises(TypeError, match="time_dim must be an integer, got float 1.5"):
        api.firing_rate(s, time_dim=1.5)
    fc = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"time_dim=5 is out of range for synaptic_operations: inputs\[0\]"):
        api.synaptic_operations([fc], [s], time_dim=5)  # was an IndexError
    with pytest.raises(ValueError, match="need at least one layer and its input, got none"):
        api.synaptic_operations([], [])  # was a NoneType error


def test_rate_sparsity_and_active_fraction_by_hand():
    s = torch.zeros(4, 2, 3)  # T=4, B=2, N=3
    s[0, 0, 0] = s[1, 0, 0] = s[3, 0, 2] = 1  # sample 0: neurons 0 and 2 active
    s[2, 1, 1] = 1  # sample 1: neuron 1 active
    assert api.firing_rate(s) == pytest.approx(4 / 24)
    assert api.activation_sparsity(s) == pytest.approx(20 / 24)
    assert api.active_fraction(s) == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_synaptic_operations_linear_by_hand():
    torch.manual_seed(0)
    fc1, fc2 = nn.Linear(4, 6), nn.Linear(6, 3)
    with torch.no_grad():
        fc2.weight[:, 1] = 0.0  # input neuron 1 of fc2 has no live synapse
        fc1.weight[0, 0] = 0.0
    x = torch.rand(5, 2, 4)  # analog input: MACs
    x[0, 0, 0] = 0.0
    s = _spikes(4, (5, 2, 6), 0.5)
    ops = api.synaptic_operations([fc1, fc2], [x, s])
    nz_pairs = sum(
        int((x[t, b] != 0).float() @ (fc1.weight != 0).float().sum(0)) for t in range(5) for b in range(2)
    )
    assert ops["Effective_MACs"] == pytest.approx(nz_pairs / 2)
    counts = s.sum(dim=(0, 1))
    assert ops["SynOps"] == pytest.approx(M.synops(counts, 3) / 2)
    assert ops["Effective_ACs"] == pytest.approx(M.effective_acs(counts, fc2.weight) / 2)
    assert ops["Effective_ACs"] == pytest.approx((float(counts.sum()) - float(counts[1])) * 3 / 2)
    assert ops["Dense"] == 5 * (M.dense_ops(1, fc1.weight) + M.dense_ops(1, fc2.weight))
    assert api.energy_pj(ops) == pytest.approx(M.energy_pj(ops["SynOps"], ops["Effective_MACs"]))


def test_synaptic_operations_conv_counts_receptive_fields():
    conv = nn.Conv2d(1, 2, kernel_size=3, padding=0, bias=False)
    s = torch.zeros(1, 1, 1, 4, 4)  # one step, one sample, a 4x4 map
    s[0, 0, 0, 0, 0] = 1  # corner pixel: in 1 receptive field of the 2x2 output
    s[0, 0, 0, 1, 1] = 1  # inner pixel: in all 4
    ops = api.synaptic_operations([conv], [s])
    assert ops["SynOps"] == (1 + 4) * 2  # x 2 output channels
    assert ops["Dense"] == 2 * 2 * 2 * 9  # output positions x channels x kernel


def test_the_likely_slips_are_named_where_they_are_made():
    """A size given to LIF, one layer or one tensor given to synaptic_operations, a model that is
    not a Sequential, a calibration batch of the wrong width: each fails at the call with its
    cause, not later as an attribute or matmul error."""
    with pytest.raises(TypeError, match=r"params must be a LIFParams, got int 128.*takes no size"):
        api.LIF(128)
    with pytest.raises(ValueError, match=r"LIF: input must be a tensor \[T, B, \.\.\.\], got list"):
        api.LIF()([[0.1, 0.2]])
    fc, x = nn.Linear(4, 3), _spikes(0, (6, 2, 4))
    with pytest.raises(TypeError, match=r"layers and inputs are sequences.*got Linear and Tensor"):
        api.synaptic_operations(fc, x)
    with pytest.raises(TypeError, match=r"synaptic_operations\(\[layer\], \[x\]\).*got list and Tensor"):
        api.synaptic_operations([fc], x)  # a [T, B, 4] tensor, not T per-step inputs
    assert api.synaptic_operations((fc,), (x,)) == api.synaptic_operations([fc], [x])
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(TypeError, match="convert: model must be an nn.Sequential.*got Linear"):
        api.convert(nn.Linear(4, 3), torch.rand(8, 4))
    with pytest.raises(TypeError, match="fold_batchnorm: model must be an nn.Sequential.*got Linear"):
        api.fold_batchnorm(nn.Linear(4, 3))  # was "'Linear' object is not iterable"
    with pytest.raises(ValueError, match=r"x_calib of shape \(8, 5\) does not fit the model"):
        api.convert(net, torch.rand(8, 5))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alpha=float("nan")), "alpha must be finite, got nan"),
        (dict(alpha=float("inf")), "alpha must be finite, got inf"),
        (dict(alpha=-0.5), "alpha must be >= 0, got -0.5"),
        (dict(normalization="percentile", percentile=150), r"percentile must lie in \(0, 100\], got 150"),
        (dict(normalization="percentile", percentile=0), r"percentile must lie in \(0, 100\], got 0"),
        (dict(percentile=float("nan")), "percentile must be finite, got nan"),
    ],
)
def test_convert_rejects_an_alpha_or_percentile_outside_its_range(kwargs, match):
    """Before, a NaN alpha gave a net of NaN weights and a percentile of 150 a quantile error."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(ValueError, match=match):
        api.convert(net, torch.rand(16, 4), **kwargs)


def test_convert_accepts_the_ends_of_the_ranges():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.rand(16, 4)
    at_100 = api.convert(net, x, normalization="percentile", percentile=100)
    assert at_100.scales == api.convert(net, x, normalization="max").scales  # the 100th percentile is the max
    assert all(torch.isfinite(w).all() for w in api.convert(net, x, alpha=0.0).weights)


@pytest.mark.parametrize(
    "ops, kwargs, match",
    [
        ({"SynOps": 5.0}, {}, r"must hold 'SynOps' and 'Effective_MACs'.*got \['SynOps'\]"),
        ([5.0, 1.0], {}, "must hold 'SynOps' and 'Effective_MACs'.*got list"),
        ({"SynOps": -5.0, "Effective_MACs": 0.0}, {}, "energy_pj: SynOps must be >= 0, got -5.0"),
        ({"SynOps": 5.0, "Effective_MACs": NAN}, {}, "energy_pj: Effective_MACs must be finite, got nan"),
        ({"SynOps": 5.0, "Effective_MACs": 0.0}, {"e_ac": -0.9}, "energy_pj: e_ac must be >= 0"),
        (
            {"SynOps": 5.0, "Effective_MACs": 0.0},
            {"e_mac": float("inf")},
            "energy_pj: e_mac must be finite",
        ),
    ],
)
def test_energy_names_a_missing_count_or_a_negative_or_nan_value(ops, kwargs, match):
    with pytest.raises(ValueError, match=match):
        api.energy_pj(ops, **kwargs)


def test_energy_of_valid_counts():
    assert api.energy_pj({"SynOps": 10.0, "Effective_MACs": 2.0}, e_ac=0.5, e_mac=3.0) == 11.0
    assert api.energy_pj({"SynOps": 0, "Effective_MACs": 0, "Dense": 7}) == 0.0


def test_lif_layer_enforces_the_spike_budget():
    lif = api.LIF(beta=1.0, threshold=1.0, spike_budget=2)
    current = torch.full((20, 3, 2, 2), 0.6)
    spikes = lif(current)
    assert spikes.shape == current.shape
    assert torch.all(spikes.sum(dim=0) == 2)
    with pytest.raises(ValueError, match="either params"):
        api.LIF(api.LIFParams(), beta=0.5)


@pytest.mark.parametrize(
    "ann",
    [
        {"hidden": [12, 8]},
        {
            "layers": [
                {"conv1d": {"channels": 4, "kernel": 3, "padding": 1}},
                {"pool": {"size": 2}},
                {"conv1d": {"channels": 5, "kernel": 3, "stride": 2}},
                {"flatten": {}},
                {"dense": {"units": 8}},
            ]
        },
    ],
)
def test_convert_is_the_study_conversion(ann):
    """api.convert on the study's ANN gives the study's converted weights, and ConvertedSNN.run is
    the study's simulation (one IF simulation): same predictions and spike counts."""
    torch.manual_seed(0)
    net = build_ann(ann, 12, 3)
    x = torch.rand(64, 12)
    for normalization, alpha in (("max", 0.0), ("percentile", 0.5)):
        snn = api.convert(net, x, normalization=normalization, percentile=99.0, alpha=alpha)
        stages = ReLUStages(net)
        study = l4_adjust(normalize(stages, layer_scales(stages, x, normalization, 99.0)), alpha)
        for layer, w, b in zip(snn.layers, study.weights, study.biases, strict=True):
            assert torch.equal(layer.weight, w) and torch.equal(layer.bias, b)
        out, hidden = snn.run(x, 12, torch.Generator().manual_seed(5))
        sim = simulate_if(study, x, [12], torch.Generator().manual_seed(5))
        np.testing.assert_array_equal(out.argmax(1).numpy(), sim.predictions[12])
        for h, counts in zip(hidden, sim.hidden_counts[12], strict=True):
            assert torch.equal(h.sum(dim=1).sum(dim=0).double(), counts)
            assert h.shape[:2] == (12, 64) and h.sum() > 0


def test_batchnorm_folding_preserves_the_function():
    torch.manual_seed(1)
    seq = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 5 * 5, 4, bias=False),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.Linear(4, 2),
    )
    x = torch.rand(16, 1, 5, 5)
    seq.train()
    seq(x)  # give the BatchNorms non-trivial running statistics
    seq.eval()
    folded = api.fold_batchnorm(seq)
    assert not any(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in folded)
    assert torch.allclose(folded(x), seq(x), atol=1e-5)
    snn = api.convert(seq, x, alpha=0.3)
    out, hidden = snn.run(x, 8, torch.Generator().manual_seed(0))
    assert out.shape == (16, 2) and [h.shape for h in hidden] == [(8, 16, 3, 5, 5), (8, 16, 4)]
    ops = api.synaptic_operations(
        snn.layers, snn.inputs_of_layers((torch.rand(8, *x.shape) < x).float(), hidden)
    )
    assert ops["SynOps"] > 0 and ops["Effective_MACs"] == 0


def test_convert_rejects_what_it_cannot_convert():
    with pytest.raises(ValueError, match="Sigmoid"):
        api.convert(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 2)), torch.rand(4, 2))
    with pytest.raises(ValueError, match="without a ReLU"):
        api.convert(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), torch.rand(4, 2))
    with pytest.raises(ValueError, match="rates in \\[0, 1\\]"):
        api.convert(nn.Sequential(nn.Linear(2, 2)), torch.rand(4, 2)).run(torch.rand(4, 2) + 1, 3)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((2, 4, 0), {}, r"kernel_size must be a whole number >= 1, got 0"),  # torch accepts it
        ((-2, 4, 3), {}, r"in_channels must be a whole number >= 1, got -2"),
        ((2, 0, 3), {}, r"out_channels must be a whole number >= 1, got 0"),
        ((2, 4, (3, 0)), {"dims": 2}, r"kernel_size\[1\] must be a whole number >= 1, got 0"),
        ((2, 4, 3), {"stride": 0}, r"stride must be a whole number >= 1, got 0"),
        ((2, 4, 3), {"padding": -1}, r"padding must be a whole number >= 0, got -1"),
        ((2, 4, 2.5), {}, r"kernel_size must be a whole number >= 1, got 2.5"),
    ],
)
def test_conv_lif_names_impossible_sizes_at_construction(args, kwargs, match):
    with pytest.raises(ValueError, match="ConvLIF: " + match):
        api.ConvLIF(*args, **kwargs)


def test_conv_lif_takes_sizes_as_torch_does():
    """Tuples, NumPy integers and a padding mode build the same convolution as before."""
    layer = api.ConvLIF(np.int64(2), 4, (3, 3), stride=(1, 2), padding=(1, 0), dims=2)
    assert (layer.conv.kernel_size, layer.conv.stride, layer.conv.padding) == ((3, 3), (1, 2), (1, 0))
    assert api.ConvLIF(2, 4, 3, padding="same")(torch.rand(5, 3, 2, 10)).shape == (5, 3, 4, 10)


def test_conv_lif_takes_bool_spikes_and_names_a_dtype_or_size_it_cannot_use():
    """Before, each was torch's RuntimeError (input type and bias type differ; kernel size can't be
    greater than the input), where LIF named the argument."""
    layer = api.ConvLIF(2, 4, 3)
    spikes = torch.rand(5, 3, 2, 10) < 0.3
    assert torch.equal(layer(spikes), layer(spikes.float()))
    with pytest.raises(
        ValueError, match=r"ConvLIF: input is torch.float64 but the layer's weights are torch.float32"
    ):
        layer(spikes.double())
    with pytest.raises(
        ValueError, match=r"ConvLIF: input of shape \(5, 3, 2, 2\) does not fit Conv1d.*Kernel size"
    ):
        layer(torch.rand(5, 3, 2, 2))
    with pytest.raises(ValueError, match="ConvLIF: input contains NaN"):
        layer(torch.full((5, 3, 2, 10), NAN))
