"""Spiking networks of the study, composed from the multi-step kernels in ``neurons``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .checks import real_number, whole_number
from .layer_spec import LAYER_KINDS, input_shape_for, layer_size, window_out
from .neurons import LIFParams, check_sequence, lif_multistep, rlif_multistep, run_lif
from .neurons.readout import readout_from_pool, time_pool, time_weights
from .pooling import avg_pool


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


def _check_net(neuron: LIFParams, readout_beta: float, init_scale: float, bias: float) -> None:
    """What both nets take beside their sizes, named at construction rather than as an
    attribute or NaN error in the first forward pass."""
    if not isinstance(neuron, LIFParams):
        raise TypeError(f"neuron must be a LIFParams, got {type(neuron).__name__} {neuron!r}")
    if not 0.0 <= real_number("readout_beta", readout_beta) <= 1.0:
        raise ValueError(f"readout_beta must lie in [0, 1], got {readout_beta}")
    if not real_number("init_scale", init_scale) > 0:
        raise ValueError(f"init_scale must be a finite number > 0, got {init_scale}")
    real_number("bias", bias)


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
        _check_net(neuron, readout_beta, init_scale, bias)
        if isinstance(hidden, str) or not isinstance(hidden, Sequence) or not hidden:
            raise ValueError(f"hidden must be a non-empty list of layer sizes, got {hidden!r}")
        n_in, n_out = whole_number("n_in", n_in, 1), whole_number("n_out", n_out, 1)
        hidden = [whole_number(f"hidden[{i}]", n, 1) for i, n in enumerate(hidden)]
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
        # The readout's drive [T, B, classes], bias included every step.
        return SNNTraces(spikes, mems, _readout_trace(self.readout(h), self.readout_beta))

    @property
    def layer_sizes(self) -> list[int]:
        """Neurons of each hidden layer."""
        return [layer.out_features for layer in self.layers]

    def synapse_layers(self) -> list[tuple[str, torch.Tensor]]:
        """(name, weight [out, in]) of every synaptic layer in the order spikes traverse them."""
        out = []
        for i, layer in enumerate(self.layers):
            out.append((f"fc{i}", layer.weight))
            if self.recurrent:
                out.append((f"rec{i}", self.w_rec[i]))
        out.append(("readout", self.readout.weight))
        return out


def build_model(
    model_spec: dict, n_in: int, n_out: int, dataset_shape: list[int] | None = None
) -> SpikingNet | ConvSpikingNet:
    """Model from a run spec's ``model`` block: a ``ConvSpikingNet`` when it lists ``layers``
    (its input shape from ``input_shape_for``, ``dataset_shape`` being the dataset's optional
    ``input_shape``), else the ``SpikingNet`` of ``hidden``, exactly as before layer lists."""
    if model_spec.get("layers"):
        return ConvSpikingNet(
            layers=list(model_spec["layers"]),
            input_shape=input_shape_for(model_spec, n_in, dataset_shape),
            n_out=n_out,
            neuron=LIFParams(**model_spec["neuron"]),
            readout_beta=model_spec["readout_beta"],
            init_scale=float(model_spec.get("init_scale", 1.0)),
            bias=float(model_spec.get("bias", 0.0)),
        )
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


# ----------------------------------------------------------------------------- layer lists


class ConvSpikingNet(nn.Module):
    """A spiking net from a list of layers: convolutions, pooling, flatten, dense and recurrent
    LIF layers, then the study's leaky non-spiking readout (``SpikingNet``'s, same outputs).

    Every ``conv1d``/``conv2d``/``dense``/``recurrent`` entry is a synaptic layer followed by a
    LIF population (one neuron per channel and position). As in ``SpikingNet`` the input
    projection of all T steps is one call: a convolution folds T into the batch
    (``[T * B, C, L]``), then the membrane recurrence runs on ``[T, B, C * L]`` in the same
    kernels (``neurons.run_lif``, hard constraints included) and is reshaped back. The hidden
    spikes the regularizers and metrics read are each spiking layer's ``[T, B, C * L]`` (or
    ``[T, B, C * H * W]``), flattened channel-major.

    Pooling acts on the spikes of the layer before it, per step and channel:

    - ``max`` passes a spike at a pooled position and step when at least one neuron of its
      window spiked at that step (an OR; which one, or how many, is not kept), so its output is
      binary and the next layer is still fed spikes;
    - ``avg`` passes the window's share of spiking neurons, a value in {0, 1/k, ..., 1}: the next
      layer receives each spike scaled by 1/k (a linear map folded into its weights on hardware).

    ``init_scale`` and ``bias`` act as in ``SpikingNet``, on every spiking layer.
    """

    def __init__(
        self,
        layers: list[dict],
        input_shape: tuple[int, ...],
        n_out: int,
        neuron: LIFParams,
        readout_beta: float = 0.9,
        init_scale: float = 1.0,
        bias: float = 0.0,
    ) -> None:
        super().__init__()
        _check_net(neuron, readout_beta, init_scale, bias)
        n_out = whole_number("n_out", n_out, 1)
        self.neuron = neuron
        self.readout_beta = readout_beta
        self.input_shape = tuple(int(v) for v in input_shape)
        self.layers = nn.ModuleList()  # the synaptic layers of the spiking layers, in order
        self.w_rec = nn.ParameterDict()  # by index into self.layers
        self.plan: list[
            tuple
        ] = []  # ("spiking", i, out_shape) | ("pool", kind, size, stride, out_shape) | ("flatten", n)
        shape = self.input_shape
        for j, entry in enumerate(layers):
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ValueError(
                    f"model.layers[{j}]: one key per layer ({', '.join(LAYER_KINDS)}), got {entry!r}"
                )
            ((kind, p),) = entry.items()
            p = p or {}
            where = f"model.layers[{j}].{kind}"
            if kind in ("conv1d", "conv2d"):
                dims = 1 if kind == "conv1d" else 2
                if len(shape) != dims + 1:
                    raise ValueError(
                        f"{where}: needs a [C, {'L' if dims == 1 else 'H, W'}] input, got {list(shape)}"
                    )
                cls = nn.Conv1d if dims == 1 else nn.Conv2d
                conv = cls(
                    shape[0],
                    int(p["channels"]),
                    layer_size(p["kernel"], dims),
                    stride=layer_size(p.get("stride", 1), dims),
                    padding=layer_size(p.get("padding", 0), dims),
                )
                out = window_out(shape[1:], conv.kernel_size, conv.stride, conv.padding)
                if min(out) < 1:
                    raise ValueError(
                        f"{where}: kernel {list(conv.kernel_size)} is larger than its padded "
                        f"input {list(shape[1:])}"
                    )
                shape = (conv.out_channels, *out)
                self.layers.append(conv)
                self.plan.append(("spiking", len(self.layers) - 1, shape))
            elif kind == "pool":
                if len(shape) < 2:
                    raise ValueError(f"{where}: pools a conv layer's [C, ...] spikes; put it before flatten")
                size = layer_size(p["size"], len(shape) - 1)
                stride = layer_size(p.get("stride", p["size"]), len(shape) - 1)
                out = window_out(shape[1:], size, stride)
                if min(out) < 1:
                    raise ValueError(f"{where}: size {list(size)} is larger than its input {list(shape[1:])}")
                shape = (shape[0], *out)
                self.plan.append(("pool", p.get("kind", "avg"), size, stride, shape))
            elif kind == "flatten":
                shape = (math.prod(shape),)
                self.plan.append(("flatten", shape[0]))
            elif kind in ("dense", "recurrent"):
                if len(shape) != 1:
                    raise ValueError(
                        f"{where}: needs flat input; put a flatten layer before it (input {list(shape)})"
                    )
                units = int(p["units"])
                self.layers.append(nn.Linear(shape[0], units))
                i = len(self.layers) - 1
                if kind == "recurrent":
                    bound = 1.0 / math.sqrt(units)
                    self.w_rec[str(i)] = nn.Parameter(torch.empty(units, units).uniform_(-bound, bound))
                shape = (units,)
                self.plan.append(("spiking", i, shape))
            else:
                raise ValueError(
                    f"model.layers[{j}]: unknown layer {kind!r}; known: {', '.join(LAYER_KINDS)}"
                )
        if not self.layers:
            raise ValueError("model.layers: needs at least one conv1d, conv2d, dense or recurrent layer")
        self.readout = nn.Linear(math.prod(shape), n_out)
        self.recurrent = len(self.w_rec) > 0
        if init_scale != 1.0 or bias != 0.0:  # after every draw, as in SpikingNet
            with torch.no_grad():
                for i, layer in enumerate(self.layers):
                    layer.weight.mul_(init_scale)
                    layer.bias.add_(bias)
                    if str(i) in self.w_rec:
                        self.w_rec[str(i)].mul_(init_scale)

    @property
    def n_in(self) -> int:
        return math.prod(self.input_shape)

    @property
    def layer_sizes(self) -> list[int]:
        """Neurons of each spiking layer (channels x positions for a conv layer)."""
        return [math.prod(step[2]) for step in self.plan if step[0] == "spiking"]

    def _run(self, x: torch.Tensor, step_fn):
        """Walk the plan over ``x`` ``[T, B, F]``: ``step_fn(i, current [T, B, N], last)`` runs
        spiking layer ``i`` and returns its spikes ``[T, B, N]``; pooling and flatten act here.
        Returns the flat input of the readout ``[T, B, N_last]``."""
        T, B = x.shape[:2]
        h = x.reshape(T, B, *self.input_shape)
        last_spiking = max(k for k, step in enumerate(self.plan) if step[0] == "spiking")
        for k, step in enumerate(self.plan):
            if step[0] == "spiking":
                _, i, shape = step
                layer = self.layers[i]
                current = layer(h) if isinstance(layer, nn.Linear) else over_time(layer, h).reshape(T, B, -1)
                direct = k == last_spiking and all(s[0] == "flatten" for s in self.plan[k + 1 :])
                h = step_fn(i, current, direct).reshape(T, B, *shape)
            elif step[0] == "pool":
                h = _pool(h, step)
            else:
                h = h.reshape(T, B, -1)
        return h.reshape(T, B, -1)

    def forward(self, x: torch.Tensor) -> SNNOutput:
        check_sequence(x, "x", self.n_in)
        c, c_sum = time_weights(x.shape[0], self.readout_beta, x.device, x.dtype)
        with_counts = torch.is_grad_enabled()
        spikes, counts, pooled = [], [], []

        def step(i, current, direct):
            # The last spiking layer, when its spikes reach the readout unchanged (only a
            # flatten between), also returns the readout's time pooling (cheaper backward).
            out = run_lif(
                current, self.w_rec.get(str(i)), self.neuron, pool=c if direct else None, counts=with_counts
            )
            s = out[0] if isinstance(out, tuple) else out
            if direct:
                pooled.append(out[1])
            spikes.append(s)
            if with_counts:
                counts.append(out[-1])
            return s

        h = self._run(x, step)
        pooled_h = pooled[0] if pooled else time_pool(h, c)
        hidden = HiddenSpikes(spikes, counts if with_counts else None)
        return SNNOutput(readout_from_pool(pooled_h, self.readout, c_sum), hidden)

    @torch.no_grad()
    def traces(self, x: torch.Tensor) -> SNNTraces:
        """As ``SpikingNet.traces``: every spiking layer's spikes and membranes ``[T, B, N]``."""
        check_sequence(x, "x", self.n_in)
        spikes, mems = [], []

        def step(i, current, direct):
            w = self.w_rec.get(str(i))
            s, mem = (
                rlif_multistep(current, w, self.neuron)
                if w is not None
                else lif_multistep(current, self.neuron)
            )
            spikes.append(s)
            mems.append(mem)
            return s

        h = self._run(x, step)
        return SNNTraces(spikes, mems, _readout_trace(self.readout(h), self.readout_beta))

    def synaptic_inputs(
        self, x: torch.Tensor, hidden_spikes: list[torch.Tensor]
    ) -> list[tuple[str, nn.Module, torch.Tensor]]:
        """(name, layer, input ``[T, B, *in_shape]``) of every synaptic layer, recurrent and
        readout included, from a pass's input and hidden spikes: what each layer was fed, after
        the pooling and flatten before it (the op counts of ``evaluation`` read them). A
        recurrent layer is fed its own spikes of the previous step: zeros at the first step (it
        is still a step of the layer, counted in Dense), the last step's spikes never.
        After an average pool a layer is given the *number* of spikes in each window (the pool's
        1/k is a constant an event-driven implementation folds into the weights: each spike
        still triggers one accumulate per synapse it meets)."""
        T, B = x.shape[:2]
        out = []
        h = x.reshape(T, B, *self.input_shape)
        n = 0
        for step in self.plan:
            if step[0] == "spiking":
                _, i, shape = step
                out.append(
                    (f"{'conv' if not isinstance(self.layers[i], nn.Linear) else 'fc'}{i}", self.layers[i], h)
                )
                s = hidden_spikes[n]
                n += 1
                if str(i) in self.w_rec:
                    previous = torch.cat([torch.zeros_like(s[:1]), s[:-1]])
                    out.append((f"rec{i}", _Recurrent(self.w_rec[str(i)]), previous))
                h = s.reshape(T, B, *shape)
            elif step[0] == "pool":
                h = _pool(h, step)
                if step[1] == "avg":  # spike counts per window: the events the next layer meets
                    h = h.mul(math.prod(step[2])).round_()
            else:
                h = h.reshape(T, B, -1)
        out.append(("readout", self.readout, h.reshape(T, B, -1)))
        return out

    def synapse_layers(self) -> list[tuple[str, torch.Tensor]]:
        """(name, weight) of every synaptic layer in the order spikes traverse them; a conv
        layer's weight is ``[out, in, *kernel]``."""
        out = []
        for i, layer in enumerate(self.layers):
            out.append((f"{'fc' if isinstance(layer, nn.Linear) else 'conv'}{i}", layer.weight))
            if str(i) in self.w_rec:
                out.append((f"rec{i}", self.w_rec[str(i)]))
        out.append(("readout", self.readout.weight))
        return out


_MAX_POOLS = {1: F.max_pool1d, 2: F.max_pool2d}


def over_time(fn, h: torch.Tensor) -> torch.Tensor:
    """``fn`` (a conv or pooling layer, ``[N, C, ...]`` -> ``[N, C', ...]``) applied to every
    step of ``h`` ``[T, B, C, ...]`` in one call, T folded into the batch -> ``[T, B, C', ...]``."""
    T, B = h.shape[:2]
    out = fn(h.reshape(T * B, *h.shape[2:]))
    return out.reshape(T, B, *out.shape[1:])


def _pool(h: torch.Tensor, step: tuple) -> torch.Tensor:
    """A plan's pooling step on ``[T, B, C, ...]``, all T steps in one call."""
    _, kind, size, stride, _shape = step
    if kind == "avg":
        return over_time(lambda v: avg_pool(v, size, stride), h)
    return over_time(lambda v: _MAX_POOLS[len(size)](v, size, stride), h)


class _Recurrent(nn.Module):
    """A recurrent weight as a Linear-like layer (for the op counts)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = weight


def _readout_trace(drive: torch.Tensor, beta: float) -> torch.Tensor:
    """Membrane of the leaky readout at every step, from its drive ``[T, B, classes]``."""
    readout = torch.empty_like(drive)
    u = torch.zeros_like(drive[0])
    for t in range(drive.shape[0]):
        u = beta * u + drive[t]
        readout[t] = u
    return readout
