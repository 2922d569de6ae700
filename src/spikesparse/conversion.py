"""ANN -> SNN conversion with data-based normalization and the L4-norm adjustment (seed 003): the
library half, one home for what ``spikesparse.api.convert`` and the study's E4 jobs share.

A trained ReLU network (``nn.Sequential`` of Linear/Conv + ReLU, with linear reshapes between) is
cut into stages (``ReLUStages``); its weights are copied into integrate-and-fire neurons
(threshold 1, reset by subtraction) driven by Bernoulli rate-coded input (``simulate_if``, the one
IF simulation). Normalization scales each layer so that its largest activation on calibration
data (the maximum, or a percentile, which ignores rare outliers) becomes 1, so a neuron's firing
rate approximates its ReLU activation.

Why the L4 adjustment: conversion matches the *mean* membrane input, but with stochastic input
the membrane input of neuron j has variance ``sum_i w_ji^2 r_i (1 - r_i)`` (Bernoulli inputs of
rate r_i), which by Cauchy-Schwarz is at most ``||w_j||_4^2 * ||r (1 - r)||_2``. Neurons with a
large L4 norm get noisy input and fire spuriously; dividing their weights (and bias, which is the
same as raising their threshold) by ``1 + alpha (||w_j||_4 / mean_j ||w_j||_4 - 1)`` damps them.
For a convolution the "neuron weight vector" is an output channel's whole kernel: every position
of a channel shares it, so the factor is per channel. ``alpha = 0`` is the plain conversion. The
formula is our reconstruction from the seed's abstract. Only hidden (spiking) layers are adjusted:
the output layer accumulates its input without spiking, so it has no spurious spikes to suppress.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_batch, real_number, whole_number
from .draws import bernoulli_spikes
from .metrics import layer_op_counts
from .neurons import IFParams, if_state, if_step
from .pooling import AvgPool1d

# The converted net's hidden neuron: integrate-and-fire, threshold 1 (weights are normalized to it).
IF_NEURON = IFParams(threshold=1.0)

# The denominator of the L4 factor is kept above this, so a large alpha cannot flip a sign.
MIN_L4_DIVISOR = 0.1

SYNAPSES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOLS = (nn.AvgPool1d, nn.AvgPool2d)
_PADS = (nn.ConstantPad1d, nn.ConstantPad2d)
# Linear maps with no weights of their own that may sit between two synaptic layers: they act on
# the spikes of the layer before (a converted net's average pool is a linear map, as in the ANN).
_LINEAR_OPS = (nn.Flatten, nn.Unflatten, *_POOLS, *_PADS)
_DROPPED = (nn.Dropout, nn.Identity)  # the identity at inference


class InputAffine(nn.Module):
    """A fixed input map ``x * scale + shift``: lets an ANN see standardized features while the
    data (and so the converted SNN's Bernoulli input) stay rates in [0, 1]. ``normalize`` folds it
    into the first synaptic layer, so conversion is exact in expectation. It must come right
    before that layer (a zero padding goes before it, so the padded value is a rate of 0)."""

    def __init__(self, scale: float = 1.0, shift: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.register_buffer("shift", torch.tensor(float(shift)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


# ----------------------------------------------------------------------------- the ReLU net


def check_sequential(caller: str, model: object) -> None:
    """TypeError unless ``model`` is the ``nn.Sequential`` the conversion reads layer by layer
    (another module would fail deep inside, e.g. as "'Linear' object is not iterable")."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"{caller}: model must be an nn.Sequential of Linear/Conv and ReLU layers, "
            f"got {type(model).__name__}"
        )


def fold_batchnorm(model: nn.Sequential) -> nn.Sequential:
    """A copy of ``model`` with every BatchNorm folded into the Linear/Conv before it.

    Why: converted integrate-and-fire neurons have a weight and a bias, not a normalization; in
    eval mode a BatchNorm is an affine map per channel, ``y = g (x - mu) / sqrt(var + eps) + b``,
    which is exactly a rescaled weight and a shifted bias of the layer before it.
    """
    check_sequential("fold_batchnorm", model)
    layers: list[nn.Module] = []
    for i, m in enumerate(model):
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d):
            if not layers or not isinstance(layers[-1], SYNAPSES):
                raise ValueError(f"fold_batchnorm: module {i} (BatchNorm) must follow a Linear or Conv layer")
            if m.running_mean is None or m.running_var is None:
                raise ValueError(
                    f"fold_batchnorm: module {i} (BatchNorm) keeps no running statistics "
                    "(track_running_stats=False), so it has no fixed affine map to fold"
                )
            prev = layers[-1]
            scale = (
                m.weight.detach() / torch.sqrt(m.running_var + m.eps)
                if m.affine
                else (1.0 / torch.sqrt(m.running_var + m.eps))
            )
            shift = m.bias.detach() if m.affine else torch.zeros_like(m.running_mean)
            bias = prev.bias.detach() if prev.bias is not None else torch.zeros_like(m.running_mean)
            folded = copy_layer(prev, bias=True)
            with torch.no_grad():
                folded.weight.copy_(prev.weight * scale.view(-1, *([1] * (prev.weight.dim() - 1))))
                folded.bias.copy_((bias - m.running_mean) * scale + shift)
            layers[-1] = folded
        else:
            layers.append(m)
    return nn.Sequential(*layers)


def copy_layer(layer: nn.Module, bias: bool, weight: torch.Tensor | None = None) -> nn.Module:
    """A new Linear/Conv like ``layer`` (with a bias if ``bias``), holding ``weight`` or a copy
    of the layer's own, on the layer's device and in its dtype (a float64 model stays float64)."""
    if isinstance(layer, nn.Linear):
        new = nn.Linear(layer.in_features, layer.out_features, bias=bias)
    else:
        new = type(layer)(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
            bias=bias,
        )
    new = new.to(device=layer.weight.device, dtype=layer.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(layer.weight if weight is None else weight)
        if bias:
            new.bias.copy_(layer.bias if layer.bias is not None else torch.zeros_like(new.bias))
    return new


def _check_linear_op(i: int, m: nn.Module) -> None:
    """The converted net counts spikes through its linear ops (``layer_events``): only the forms
    whose count is exact are accepted."""
    if isinstance(m, _POOLS) and (
        m.padding not in (0, (0,), (0, 0)) or m.ceil_mode or getattr(m, "divisor_override", None)
    ):
        raise ValueError(f"convert: module {i} ({m}): only average pools without padding or ceil_mode")
    if isinstance(m, _PADS) and m.value != 0:
        raise ValueError(f"convert: module {i} ({m}): only zero padding (a rate of 0 is no spike)")


class ReLUStages:
    """A folded ReLU net cut into stages: each synaptic layer with the linear ops before it.

    ``pre[0]`` may end with an ``InputAffine`` (folded into layer 0 by ``normalize``).
    ``activations`` is what ``layer_scales`` measures on calibration data.
    """

    def __init__(self, model: nn.Sequential) -> None:
        self.layers: list[nn.Module] = []
        self.pre: list[list[nn.Module]] = []
        pending: list[nn.Module] = []
        relu_after: list[bool] = []
        for i, m in enumerate(model):
            if isinstance(m, SYNAPSES):
                if m.bias is None:  # normalization scales a bias: give the layer a zero one
                    m = copy_layer(m, bias=True)
                if self.layers and not relu_after[-1]:
                    raise ValueError(f"convert: layer {i} follows a Linear/Conv without a ReLU between them")
                self.layers.append(m)
                self.pre.append(pending)
                relu_after.append(False)
                pending = []
            elif isinstance(m, nn.ReLU):
                if not self.layers or relu_after[-1]:
                    raise ValueError(f"convert: ReLU at module {i} must follow a Linear or Conv layer")
                relu_after[-1] = True
            elif isinstance(m, InputAffine):
                if self.layers:
                    raise ValueError(f"convert: the InputAffine (module {i}) must precede the first layer")
                pending.append(m)
            elif isinstance(m, _LINEAR_OPS):
                if pending and isinstance(pending[-1], InputAffine):
                    raise ValueError(f"convert: module {i} follows the InputAffine, which must be last")
                _check_linear_op(i, m)
                pending.append(AvgPool1d.like(m))  # the same pool, in its fast form
            elif not isinstance(m, _DROPPED):
                raise ValueError(
                    f"convert: module {i} is {type(m).__name__}; supported: Linear, Conv1d/2d/3d, ReLU, "
                    "BatchNorm (folded), AvgPool1d/2d, zero ConstantPad1d/2d, Flatten, Unflatten, "
                    "Dropout, Identity, InputAffine"
                )
        if not self.layers:
            raise ValueError("convert: the model has no Linear or Conv layer")
        if pending:
            raise ValueError("convert: the model must end with its output Linear/Conv layer")
        if relu_after[-1]:
            raise ValueError(
                "convert: the output layer must not be followed by a ReLU (it accumulates logits)"
            )

    @torch.no_grad()
    def check_input(self, x: torch.Tensor, name: str = "x", net: str = "the net") -> None:
        """Pass one sample of ``x`` through the stages (no ReLU needed for shapes), so that a
        wrong input shape is named as a ValueError here rather than as a matmul error halfway
        through a calibration or a simulation."""
        y = x[:1]
        dtype = self.layers[0].weight.dtype
        if x.dtype != dtype:
            raise ValueError(f"{name} is {x.dtype} but {net}'s weights are {dtype}: pass x.to({dtype})")
        try:
            for stage, layer in zip(self.pre, self.layers, strict=True):
                for m in stage:
                    y = m(y)
                y = layer(y)
        except RuntimeError as err:
            raise ValueError(f"{name} of shape {tuple(x.shape)} does not fit {net}: {err}") from None

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Output of every layer: ReLU activations of the hidden layers, then the logits."""
        out = []
        for i, (pre, layer) in enumerate(zip(self.pre, self.layers, strict=True)):
            for m in pre:
                x = m(x)
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
            out.append(x)
        return out


@torch.no_grad()
def layer_scales(
    net,
    x_calib: torch.Tensor,
    normalization: str,
    percentile: float = 99.9,
    percentile_of: str = "nonzero",
) -> list[float]:
    """Scale of every layer's activation on calibration data: the maximum (``max``) or the given
    percentile (``percentile``) over the layer's activations: the nonzero ones by default (a ReLU
    layer is mostly zeros, so a percentile over all of them sits far below the activations that
    matter), or all of them (``percentile_of="all"``). A layer that never activates gets scale 1
    (nothing to normalize). ``net`` is anything with ``activations`` (``ReLUStages``)."""
    if normalization not in ("max", "percentile"):
        raise ValueError(f"normalization must be 'max' or 'percentile', got {normalization!r}")
    if not 0 < real_number("percentile", percentile) <= 100:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile}")
    if percentile_of not in ("nonzero", "all"):
        raise ValueError(f"percentile_of must be 'nonzero' or 'all', got {percentile_of!r}")
    scales = []
    for act in net.activations(x_calib):
        values = act.clamp(min=0).flatten()
        if percentile_of == "nonzero" and bool((values > 0).any()):
            values = values[values > 0]
        s = (
            float(values.max())
            if normalization == "max"
            else float(torch.quantile(values.double(), percentile / 100))
        )
        scales.append(s if s > 0 else 1.0)
    return scales


# ----------------------------------------------------------------------------- the converted net


def check_rates(name: str, x: object) -> None:
    """ValueError unless ``x`` is a non-empty batch of rates in [0, 1]: the converted net's input
    is a Bernoulli rate code, so calibration (``api.convert``) and simulation (``run``) take the
    same values; scales measured on other values would not be the simulation's."""
    check_batch(name, x)
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError(f"{name} must hold rates in [0, 1] (the Bernoulli input's firing probabilities)")


@dataclass
class ConvertedSNN:
    """An integrate-and-fire network converted from a ReLU net (threshold 1, reset by
    subtraction, Bernoulli rate-coded input in [0, 1]), simulated by ``run`` / ``simulate_if``."""

    layers: list[nn.Module]  # normalized (and L4-adjusted) copies of the synaptic layers
    pre: list[list[nn.Module]]  # the linear ops (reshapes, pools, padding) before each layer
    scales: list[float] = field(default_factory=list)  # each layer's activation scale (calibration)

    @property
    def weights(self) -> list[torch.Tensor]:
        return [m.weight for m in self.layers]

    @property
    def biases(self) -> list[torch.Tensor]:
        return [m.bias for m in self.layers]

    @torch.no_grad()
    def run(
        self, x: torch.Tensor, n_steps: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Simulate ``n_steps`` on Bernoulli(x) input -> (output layer's accumulated input
        ``[B, out]``, hidden spikes per layer ``[T, B, ...]``). The prediction is its argmax."""
        n_steps = whole_number("n_steps", n_steps, 1)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        check_rates("x", x)
        ReLUStages.check_input(self, x, "x", "the converted net")
        sim = simulate_if(self, x, [n_steps], generator, batch_size=len(x), record=True)
        return sim.output, sim.spikes

    def inputs_of_layers(self, x_spikes: torch.Tensor, hidden: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each synaptic layer's input ``[T, B, ...]`` (for ``api.synaptic_operations``): the input
        spikes, then every hidden layer's spikes, after the linear ops before each layer."""
        feeds = [x_spikes, *hidden]
        if len(feeds) != len(self.pre):
            raise ValueError(
                f"inputs_of_layers: {len(self.layers)} layers take the input and "
                f"{len(self.layers) - 1} hidden spike tensors, got {len(hidden)} hidden"
            )
        out = []
        for pre, feed in zip(self.pre, feeds, strict=True):
            t, b = feed.shape[:2]
            f = feed.reshape(t * b, *feed.shape[2:])
            for m in pre:
                f = m(f)
            out.append(f.reshape(t, b, *f.shape[1:]))
        return out


def _per_output(weight: torch.Tensor) -> torch.Tensor:
    """``[out, fan_in]``: a conv kernel flattened per output channel (a Linear weight as is)."""
    return weight.reshape(weight.shape[0], -1)


@torch.no_grad()
def normalize(stages: ReLUStages, scales: list[float]) -> ConvertedSNN:
    """Data-based normalization: ``W_l <- W_l * s_{l-1} / s_l``, ``b_l <- b_l / s_l`` (s_0 = 1:
    the input is already a rate in [0, 1]). After it, layer l's scaled activation is 1 at s_l.
    An ``InputAffine`` before the first layer is folded into it: ``W (a x + c) + b = (a W) x +
    (b + c W 1)`` (W 1: each output's kernel sum, exact for every position because padding, if
    any, comes before the affine)."""
    pre = [list(p) for p in stages.pre]
    scale, shift = 1.0, 0.0
    if pre[0] and isinstance(pre[0][-1], InputAffine):
        affine = pre[0].pop()
        scale, shift = float(affine.scale), float(affine.shift)
    layers = []
    prev = 1.0
    for i, (layer, s) in enumerate(zip(stages.layers, scales, strict=True)):
        w, b = layer.weight.detach(), layer.bias.detach()
        if i == 0:
            w, b = w * scale, b + shift * _per_output(w).sum(dim=1)
        new = copy_layer(layer, bias=True, weight=w * prev / s)
        new.bias.copy_(b / s)
        layers.append(new.eval())
        prev = s
    return ConvertedSNN(layers, pre, list(scales))


def l4_norms(weight: torch.Tensor) -> torch.Tensor:
    """L4 norm of each output neuron's (conv: output channel's) incoming weights:
    ``(sum_i w_ji^4)^(1/4)``, ``[out]``."""
    return _per_output(weight).pow(4).sum(dim=1).pow(0.25)


def _check_alpha(alpha: float) -> None:
    if real_number("alpha", alpha) < 0:  # a NaN alpha would turn every weight into NaN
        raise ValueError(f"alpha must be >= 0, got {alpha}")


def l4_factors(weight: torch.Tensor, alpha: float) -> torch.Tensor:
    """Per-neuron divisor ``1 + alpha (||w_j||_4 / mean_j ||w_j||_4 - 1)``, kept >= MIN_L4_DIVISOR."""
    _check_alpha(alpha)
    norms = l4_norms(weight)
    ratio = norms / norms.mean().clamp(min=1e-12)
    return (1.0 + alpha * (ratio - 1.0)).clamp(min=MIN_L4_DIVISOR)


@torch.no_grad()
def l4_adjust(snn: ConvertedSNN, alpha: float) -> ConvertedSNN:
    """Divide each hidden neuron's (channel's) weights and bias by its L4 factor; alpha = 0 is
    the identity."""
    _check_alpha(alpha)
    if alpha == 0:
        return ConvertedSNN(list(snn.layers), snn.pre, snn.scales)
    layers = list(snn.layers)
    for i, layer in enumerate(snn.layers[:-1]):
        f = l4_factors(layer.weight, alpha)
        new = copy_layer(
            layer, bias=True, weight=layer.weight / f.view(-1, *([1] * (layer.weight.dim() - 1)))
        )
        new.bias.copy_(layer.bias / f)
        layers[i] = new.eval()
    return ConvertedSNN(layers, snn.pre, snn.scales)


def membrane_input_variance(weight: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """Variance of each neuron's per-step input ``W s`` when input i is Bernoulli(rates_i)
    and independent: ``sum_i w_ji^2 r_i (1 - r_i)``, ``[out]``."""
    return (weight**2) @ (rates * (1 - rates))


def l4_variance_bound(weight: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """Cauchy-Schwarz bound on that variance: ``||w_j||_4^2 * ||r (1 - r)||_2``."""
    return l4_norms(weight) ** 2 * torch.linalg.vector_norm(rates * (1 - rates))


# ----------------------------------------------------------------------------- the IF simulation


@dataclass
class Simulation:
    """What an IF simulation produced at each checkpoint T (cumulative over the first T steps)."""

    predictions: dict[int, np.ndarray]
    input_counts: dict[int, torch.Tensor]  # spikes per input position, summed over samples
    hidden_counts: dict[int, list[torch.Tensor]]  # spikes per neuron of each hidden layer
    output: torch.Tensor | None = None  # the output layer's accumulated input at the last T
    spikes: list[torch.Tensor] | None = None  # with record=True: each hidden layer's [T, B, ...]


@torch.no_grad()
def simulate_if(
    snn: ConvertedSNN,
    x: torch.Tensor,
    time_steps: list[int],
    generator: torch.Generator | None,
    batch_size: int = 512,
    record: bool = False,
) -> Simulation:
    """Run the converted net for ``max(time_steps)`` steps on Bernoulli(x) input and read its
    prediction (argmax of the output layer's accumulated input) after each checkpoint T. One
    simulation serves every T, as the first T steps of a longer run are a run of length T.

    ``x`` ``[N, ...]`` holds rates in [0, 1], shaped as the first stage takes them. Input spikes
    are drawn per batch of ``batch_size`` samples, step by step (``_input_spikes``), on the CPU
    from ``x`` there; the layers run on their own device."""
    device = snn.layers[0].weight.device
    x = x.cpu()
    checkpoints = sorted(set(int(t) for t in time_steps))
    t_max = checkpoints[-1]
    n_hidden = len(snn.layers) - 1
    preds: dict[int, list] = {t: [] for t in checkpoints}
    in_counts = {t: x.new_zeros(x.shape[1:], dtype=torch.float64) for t in checkpoints}
    hid_counts: dict[int, list] = {t: [None] * n_hidden for t in checkpoints}
    outputs, recorded = [], [[] for _ in range(n_hidden)]
    for lo in range(0, len(x), batch_size):
        xb = x[lo : lo + batch_size]
        # Hidden layers: the package's IF neuron (threshold 1); the output layer only accumulates.
        states: list = [None] * n_hidden
        counts: list = [None] * n_hidden
        steps: list[list[torch.Tensor]] = [[] for _ in range(n_hidden)]
        out = None
        n_in = x.new_zeros(x.shape[1:], dtype=torch.float64)
        for t in range(1, t_max + 1):
            s = _input_spikes(xb, generator)
            n_in += s.sum(0)
            s = s.to(device)
            for i, (pre, layer) in enumerate(zip(snn.pre, snn.layers, strict=True)):
                for m in pre:
                    s = m(s)
                drive = layer(s)
                if i < n_hidden:
                    shape = drive.shape
                    if states[i] is None:
                        states[i] = if_state(len(xb), shape[1:].numel(), drive)
                        counts[i] = drive.new_zeros(shape[1:], dtype=torch.float64)
                    flat, states[i] = if_step(drive.reshape(len(xb), -1), states[i], IF_NEURON)
                    s = flat.reshape(shape)
                    counts[i] += s.sum(0)
                    if record:
                        steps[i].append(s)
                else:
                    out = drive if out is None else out.add_(drive)
            if t in preds:
                preds[t].append(out.argmax(1).cpu().numpy())
                in_counts[t] += n_in
                for j, c in enumerate(counts):
                    hid_counts[t][j] = c.clone() if hid_counts[t][j] is None else hid_counts[t][j] + c
        outputs.append(out)
        for i in range(n_hidden):
            recorded[i].extend([torch.stack(steps[i])] if record else [])
    return Simulation(
        {t: np.concatenate(p) for t, p in preds.items()},
        in_counts,
        hid_counts,
        torch.cat(outputs),
        [torch.cat(r, dim=1) for r in recorded] if record else None,
    )


def _input_spikes(xb: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One Bernoulli draw per input, ``torch.rand(xb.shape) < xb`` (float32 draws) in ``xb``'s
    dtype; for float32 CPU input through the rate code's compiled draw (the same numbers, about
    10x faster: the simulation draws once per step)."""
    if xb.dtype == torch.float32 and generator is not None:
        flat = xb.reshape(len(xb), 1, -1)
        return bernoulli_spikes(flat, generator)[0].reshape(xb.shape)
    return (torch.rand(xb.shape, generator=generator) < xb).to(xb.dtype)


@torch.no_grad()
def layer_events(snn: ConvertedSNN, input_counts: torch.Tensor, hidden_counts: list[torch.Tensor]):
    """What each synaptic layer receives, as event counts (``[1, *in_shape]`` per layer): the
    input's and every hidden layer's spike counts after the linear ops before the layer, an
    average pool counted as the *sum* of its window (each spike that enters it reaches the next
    layer's synapses once; the 1/k is a weight scale). Feed to ``metrics.layer_op_counts`` with
    ``spikes=True`` for a layer's SynOps and effective ACs."""
    out = []
    for pre, feed in zip(snn.pre, [input_counts, *hidden_counts], strict=True):
        f = feed.unsqueeze(0)
        for m in pre:
            f = _sum_pool(m, f) if isinstance(m, _POOLS) else m(f)
        out.append(f)
    return out


def _sum_pool(pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The window sums of an average pool (exact for counts: no division)."""
    dims = 1 if isinstance(pool, nn.AvgPool1d) else 2
    size = nn.modules.utils._ntuple(dims)(pool.kernel_size)
    stride = nn.modules.utils._ntuple(dims)(pool.stride)
    for d, (k, s) in enumerate(zip(size, stride, strict=True)):
        x = x.unfold(x.dim() - dims + d, k, s).sum(-1)
    return x


@torch.no_grad()
def dense_macs(net: ReLUStages | ConvertedSNN, input_shape: tuple[int, ...]) -> int:
    """MACs of one pass of the ReLU net on one sample: every weight times every input position it
    meets (NeuroBench's dense count of each layer, ``metrics.layer_op_counts``)."""
    f = torch.zeros(1, *input_shape)
    total = 0.0
    for pre, layer in zip(net.pre, net.layers, strict=True):
        for m in pre:
            f = f if isinstance(m, InputAffine) else m(f)
        total += layer_op_counts(layer, f.unsqueeze(0), spikes=False)["dense"]
        f = layer(f)
    return int(total)
