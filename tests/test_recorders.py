"""SpikeRecorder on snnTorch, Norse and SpikingJelly models: our loss trains them, our counters
agree with a by-hand count of their spikes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikesparse import api
from spikesparse.interop.recorders import SpikeRecorder

T, B, N_IN, N_HID, N_OUT = 12, 8, 10, 24, 4


class SnnTorchNet(nn.Module):
    """The usual snnTorch loop: one call per step, Leaky returns (spk, mem)."""

    def __init__(self):
        super().__init__()
        import snntorch as snn

        self.fc1, self.lif1 = nn.Linear(N_IN, N_HID), snn.Leaky(beta=0.9)
        self.fc2, self.lif2 = nn.Linear(N_HID, N_OUT), snn.Leaky(beta=0.9)

    def forward(self, x):
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


class NorseNet(nn.Module):
    """Norse cells stepped by hand: LIFCell returns (z, state)."""

    def __init__(self):
        super().__init__()
        from norse.torch import LIFCell, LIFParameters

        p = LIFParameters(tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(0.3))
        self.fc1, self.lif1 = nn.Linear(N_IN, N_HID), LIFCell(p)
        self.fc2, self.lif2 = nn.Linear(N_HID, N_OUT), LIFCell(p)

    def forward(self, x):
        s1 = s2 = None
        out = []
        for t in range(x.shape[0]):
            z1, s1 = self.lif1(self.fc1(x[t]), s1)
            z2, s2 = self.lif2(self.fc2(z1), s2)
            out.append(z2)
        return torch.stack(out)


def norse_sequence_net():
    """Norse LIF modules on whole sequences [T, B, N] (multi-step)."""
    from norse.torch import LIF, LIFParameters, SequentialState

    p = LIFParameters(tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(0.3))
    return SequentialState(nn.Linear(N_IN, N_HID), LIF(p), nn.Linear(N_HID, N_OUT), LIF(p))


def spikingjelly_net():
    """SpikingJelly in multi-step mode: each layer sees [T, B, N] once."""
    from spikingjelly.activation_based import functional, layer, neuron

    net = nn.Sequential(
        layer.Linear(N_IN, N_HID),
        neuron.LIFNode(tau=2.0, v_threshold=0.3),
        layer.Linear(N_HID, N_OUT),
        neuron.LIFNode(tau=2.0, v_threshold=0.3),
    )
    functional.set_step_mode(net, "m")
    return net


def _run(kind, net, x):
    if kind == "norse_seq":
        return net(x)[0]
    out = net(x)
    if kind == "spikingjelly":
        from spikingjelly.activation_based import functional

        functional.reset_net(net)
    return out


CASES = [
    ("snntorch", SnnTorchNet, False),
    ("norse", NorseNet, False),
    ("norse_seq", norse_sequence_net, True),
    ("spikingjelly", spikingjelly_net, True),
]


@pytest.mark.parametrize(("kind", "make", "multistep"), CASES, ids=[c[0] for c in CASES])
def test_spike_count_loss_lowers_the_rate(kind, make, multistep):
    pytest.importorskip({"norse_seq": "norse"}.get(kind, kind))
    torch.manual_seed(0)
    net = make()
    x = torch.rand(T, B, N_IN) * 2.0
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    rates = []
    with SpikeRecorder(net, multistep=multistep) as rec:
        for _ in range(25):
            rec.clear()
            _run(kind, net, x)
            spikes = rec.spikes()
            assert len(spikes) == 2 and all(s.shape[:2] == (T, B) for s in spikes.values())
            loss = api.spike_count_loss(spikes)
            rates.append(float(loss.detach()))
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert rates[0] > 0.05, f"{kind}: the untrained net should fire (rate {rates[0]})"
    assert rates[-1] < 0.5 * rates[0], f"{kind}: rate {rates[0]:.3f} -> {rates[-1]:.3f}"


@pytest.mark.parametrize(("kind", "make", "multistep"), CASES, ids=[c[0] for c in CASES])
def test_metrics_match_a_by_hand_count(kind, make, multistep):
    pytest.importorskip({"norse_seq": "norse"}.get(kind, kind))
    torch.manual_seed(1)
    net = make()
    fc1, fc2 = [m for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        fc2.weight[:, :3] = 0.0  # hidden neurons 0-2 have no live synapse to the output layer
    x = torch.rand(T, B, N_IN) * 2.0
    x[:, :, 0] = 0.0  # one silent analog input channel
    with torch.no_grad(), SpikeRecorder(net, multistep=multistep) as rec:
        out = _run(kind, net, x)
        m = rec.metrics()
        spikes = list(rec.spikes().values())
    h, o = spikes
    assert torch.equal(o, out), "the recorder's last layer is what the model returned"
    assert set(torch.unique(torch.cat([h.flatten(), o.flatten()])).tolist()) <= {0.0, 1.0}
    n_spikes = float(h.sum() + o.sum())
    n_all = h.numel() + o.numel()
    assert m["firing_rate"] == pytest.approx(n_spikes / n_all)
    assert m["ActivationSparsity"] == pytest.approx(1 - n_spikes / n_all)
    per_sample_active = [
        (
            sum(int(h[:, b, i].sum() > 0) for i in range(N_HID))
            + sum(int(o[:, b, i].sum() > 0) for i in range(N_OUT))
        )
        / (N_HID + N_OUT)
        for b in range(B)
    ]
    assert m["active_fraction"] == pytest.approx(sum(per_sample_active) / B)
    # Layer 1 gets analog input (MACs), layer 2 gets spikes (ACs); all fc1 weights are nonzero.
    assert m["Effective_MACs"] == pytest.approx(float((x != 0).sum()) * N_HID / B)
    assert m["SynOps"] == pytest.approx(float(h.sum()) * N_OUT / B)
    assert m["Effective_ACs"] == pytest.approx(float(h[:, :, 3:].sum()) * N_OUT / B)
    assert m["Dense"] == T * (N_IN * N_HID + N_HID * N_OUT)
    assert m["energy_pj"] == pytest.approx(m["SynOps"] * 0.9 + m["Effective_MACs"] * 4.6)


def test_recorder_errors_name_the_cause():
    with pytest.raises(TypeError, match="model must be an nn.Module, got str"):
        SpikeRecorder("net")
    with pytest.raises(ValueError, match="no spiking neuron module"):
        SpikeRecorder(nn.Sequential(nn.Linear(2, 2)))
    net = nn.Sequential(nn.Linear(3, 4), api.LIF())
    rec = SpikeRecorder(net, multistep=True)
    with pytest.raises(ValueError, match="nothing recorded"):
        rec.spikes()
    with rec:
        net(torch.rand(5, 2, 3))
        net(torch.rand(5, 2, 3))
    with pytest.raises(ValueError, match="more than once"):
        rec.spikes()
    net(torch.rand(5, 2, 3))  # hooks were removed on exit: nothing more is recorded
    assert len(rec._spikes["1"]) == 2
