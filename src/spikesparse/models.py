"""Spiking networks of the study, composed from the multi-step kernels in ``neurons``."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .neurons import LIFParams, check_sequence, lif_multistep, rlif_multistep, run_lif
from .neurons.readout import readout_from_pool, time_weights


class HiddenSpikes(list):
    """The hidden layers' spikes (one ``[T, B, N_l]`` per layer), a plain list to every reader,
    with ``counts``: each layer's per-sample spike counts ``[B, N_l]`` (the sum over time), which
    the layers return from the same pass when a gradient can flow, else None.

    Why: rate penalties and the training statistics need only the counts. Reading them here
    saves a pass over every spike tensor per use, and their gradient goes straight into each
    layer's backward instead of being added to the spikes' gradient as a ``[T, B, N]`` tensor
    (``regularizers.spike_counts`` falls back to summing the spikes of a plain list)."""

    def __init__(self, spikes, counts=None) -> None:
        super().__init__(spikes)
        self.counts = counts


class SNNOutput(NamedTuple):
    logits: torch.Tensor  # [B, classes]: time-mean membrane of the leaky readout
    hidden_spikes: list[torch.Tensor]  # one [T, B, N_l] per hidden layer (HiddenSpikes)


class SNNTraces(NamedTuple):
    hidden_spikes: list[torch.Tensor]  # one [T, B, N_l] per hidden layer
    hidden_mems: list[torch.Tensor]  # membrane after integration, before the step's reset
    readout_mem: torch.Tensor  # [T, B, classes]


class SpikingNet(nn.Module):
    """Input spikes -> hidden LIF layers (recurrent or feed-forward) -> leaky non-spiking readout.

    Each layer runs over the whole sequence at once: one matmul for the input projection of all
    T steps, then the membrane kernel. The readout is collapsed into a weighted time sum before
    its weights (see ``neurons.leaky_readout``).

    ``init_scale`` and ``bias`` set how hard the untrained network is driven, so the study can
    start a network that *wants* to fire densely (the regime where a pull toward a low target
    rate has something to pull against): ``init_scale`` multiplies the initial input and
    recurrent weights of every hidden layer, ``bias`` is added to every hidden neuron's initial
    bias (a constant current each step). The defaults (1, 0) draw exactly the same parameters
    as PyTorch's default initialization, with the same random numbers.
    """

    def __init__(
        self,
        n_in: int,
        hidden: list[int],
        n_out: int,
        neuron: LIFParams,
        recurrent: bool = True,
        readout_beta: float = 0.9,
        init_scale: float = 1.0,
        bias: float = 0.0,
    ) -> None:
        super().__init__()
        if not (math.isfinite(init_scale) and init_scale > 0):
            raise ValueError(f"init_scale must be a finite number > 0, got {init_scale}")
        if not math.isfinite(bias):
            raise ValueError(f"bias must be a finite number, got {bias}")
        self.neuron = neuron
        self.recurrent = recurrent
        self.readout_beta = readout_beta
        sizes = [n_in, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.w_rec = nn.ParameterList()
        if recurrent:
            for n in hidden:
                bound = 1.0 / math.sqrt(n)
                self.w_rec.append(nn.Parameter(torch.empty(n, n).uniform_(-bound, bound)))
        self.readout = nn.Linear(hidden[-1], n_out)
        # After every draw, so the random stream (and thus the defaults) is untouched.
        if init_scale != 1.0 or bias != 0.0:
            with torch.no_grad():
                for i, layer in enumerate(self.layers):
                    layer.weight.mul_(init_scale)
                    layer.bias.add_(bias)
                    if recurrent:
                        self.w_rec[i].mul_(init_scale)

    @property
    def n_in(self) -> int:
        return self.layers[0].in_features

    def forward(self, x: torch.Tensor) -> SNNOutput:
        check_sequence(x, "x", self.n_in)
        c, c_sum = time_weights(x.shape[0], self.readout_beta, x.device, x.dtype)
        with_counts = torch.is_grad_enabled()  # training: penalties and statistics read them
        spikes, counts = [], []
        h = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            w_rec = self.w_rec[i] if self.recurrent else None
            # The last layer also returns the readout's time pooling (neurons.leaky_readout):
            # the same numbers, with a cheaper backward.
            out = run_lif(layer(h), w_rec, self.neuron, pool=c if i == last else None, counts=with_counts)
            if i == last:
                pooled = out[1]
            h = out[0] if isinstance(out, tuple) else out
            spikes.append(h)
            if with_counts:
                counts.append(out[-1])
        hidden = HiddenSpikes(spikes, counts if with_counts else None)
        return SNNOutput(readout_from_pool(pooled, self.readout, c_sum), hidden)

    @torch.no_grad()
    def traces(self, x: torch.Tensor) -> SNNTraces:
        """Spikes and membranes of every layer, readout included, step by step (evaluation only:
        the membrane-update count needs them; training never stores them)."""
        check_sequence(x, "x", self.n_in)
        spikes, mems = [], []
        h = x
        for i, layer in enumerate(self.layers):
            current = layer(h)
            if self.recurrent:
                h, mem = rlif_multistep(current, self.w_rec[i], self.neuron)
            else:
                h, mem = lif_multistep(current, self.neuron)
            spikes.append(h)
            mems.append(mem)
        drive = self.readout(h)  # [T, B, classes], bias included every step
        readout = torch.empty_like(drive)
        u = torch.zeros_like(drive[0])
        for t in range(drive.shape[0]):
            u = self.readout_beta * u + drive[t]
            readout[t] = u
        return SNNTraces(spikes, mems, readout)

    def synapse_layers(self) -> list[tuple[str, torch.Tensor]]:
        """(name, weight [out, in]) of every synaptic layer in the order spikes traverse them."""
        out = []
        for i, layer in enumerate(self.layers):
            out.append((f"fc{i}", layer.weight))
            if self.recurrent:
                out.append((f"rec{i}", self.w_rec[i]))
        out.append(("readout", self.readout.weight))
        return out


def build_model(model_spec: dict, n_in: int, n_out: int) -> SpikingNet:
    """Model from a run spec's ``model`` block."""
    return SpikingNet(
        n_in=n_in,
        hidden=list(model_spec["hidden"]),
        n_out=n_out,
        neuron=LIFParams(**model_spec["neuron"]),
        recurrent=model_spec["kind"] == "recurrent",
        readout_beta=model_spec["readout_beta"],
        # .get: specs written before these knobs existed rebuild the same model.
        init_scale=float(model_spec.get("init_scale", 1.0)),
        bias=float(model_spec.get("bias", 0.0)),
    )
