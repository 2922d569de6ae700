"""The methods of the study as a library: plain functions on spike tensors from any SNN framework.

Why a separate layer: inside the study every regularizer and counter works on our models' lists
of ``[T, B, N]`` tensors. A researcher with an snnTorch, Norse or SpikingJelly model has spikes in
other layouts (``[B, T, ...]``, conv maps ``[T, B, C, H, W]``, one tensor per layer in a dict).
The functions here bring those to ``[T, B, N]`` and call the very same definitions the study uses
(``spikesparse.regularizers``, ``spikesparse.metrics``, ``spikesparse.conversion``), so a penalty
or a count computed here equals the study's for the same spikes.

Layout conventions, for every function that takes ``spikes``:

- one tensor or a sequence (or a ``{name: tensor}`` mapping, e.g. from ``SpikeRecorder``) of
  tensors, one per spiking layer;
- each tensor has a time dimension (``time_dim``, default 0) and the batch dimension right after
  it (or first, when time is not first): ``[T, B, ...]`` or ``[B, T, ...]`` with
  ``time_dim=1``; every remaining dimension is flattened into neurons.

Regularizers return a differentiable scalar (the gradient flows into the spikes, and through a
surrogate into the weights); metrics return floats.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from . import metrics as M
from . import regularizers as R
from .checks import check_sizes, check_values, real_number, whole_number
from .conversion import (
    SYNAPSES,
    ConvertedSNN,
    ReLUStages,
    check_rates,
    check_sequential,
    fold_batchnorm,
    l4_adjust,
    layer_scales,
    normalize,
)
from .models import over_time
from .neurons import LIFParams, lif_multistep

Spikes = torch.Tensor | Sequence[torch.Tensor] | Mapping[str, torch.Tensor]
_NARROW_FLOATS = (torch.float16, torch.bfloat16)  # counted in float32 (as_time_major)

__all__ = [
    "LIF",
    "ConvLIF",
    "ConvertedSNN",
    "LIFParams",
    "active_fraction",
    "activation_sparsity",
    "as_time_major",
    "convert",
    "energy_pj",
    "first_spike_loss",
    "fold_batchnorm",
    "firing_rate",
    "homeostatic_l2_loss",
    "spike_count_loss",
    "synaptic_operations",
]


# ----------------------------------------------------------------------------- layouts


def check_time_dim(time_dim: object, name: str, x: torch.Tensor) -> None:
    """TypeError unless ``time_dim`` is an integer, ValueError unless it is a dimension of ``x``
    (negative counts from the end): named here, not as a movedim or an index error."""
    if isinstance(time_dim, bool) or not isinstance(time_dim, numbers.Integral):
        raise TypeError(f"time_dim must be an integer, got {type(time_dim).__name__} {time_dim!r}")
    if not -x.dim() <= time_dim < x.dim():
        raise ValueError(f"time_dim={time_dim} is out of range for {name} of shape {tuple(x.shape)}")


def as_time_major(spikes: Spikes, time_dim: int = 0) -> list[torch.Tensor]:
    """Spikes of every layer as ``[T, B, N]`` (time first, batch second, neurons flattened).
    Integer or bool spikes (as some recorders store them) and float16 or bfloat16 ones (mixed
    precision) come back as float32, differentiably: every count, rate and penalty is then taken
    in float32, where a float16 sum would overflow at 65,504 spikes and a bfloat16 one round.

    Raises ValueError when there is no layer, a tensor has fewer than two dimensions, no time
    steps, samples or neurons, holds NaN or an infinity or complex values, or the layers disagree
    on T or B (a regularizer over layers of different lengths has no meaning).
    """
    if isinstance(spikes, torch.Tensor):
        layers = [spikes]
        names = ["spikes[0]"]
    elif isinstance(spikes, Mapping):
        layers = list(spikes.values())
        names = [f"spikes[{key!r}]" for key in spikes]  # the user's own keys, e.g. a recorder's
    elif isinstance(spikes, Iterable) and not isinstance(spikes, str | bytes):  # dict.values() too
        layers = list(spikes)
        names = [f"spikes[{i}]" for i in range(len(layers))]
    else:
        raise TypeError(
            "spikes must be a tensor, a sequence of tensors (one per layer) or a {name: tensor} "
            f"mapping, got {type(spikes).__name__}"
        )
    if not layers:
        raise ValueError("spikes: need at least one layer's spike tensor, got none")
    out = []
    for name, s in zip(names, layers, strict=True):
        if not isinstance(s, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(s).__name__}")
        if s.dim() < 2:
            raise ValueError(f"{name} must have a time and a batch dimension, got shape {tuple(s.shape)}")
        check_time_dim(time_dim, name, s)
        check_sizes(name, s.shape, time_dim)
        check_values(name, s)
        s = s.movedim(time_dim, 0)
        s = s.reshape(s.shape[0], s.shape[1], -1)
        if not s.is_floating_point() or s.dtype in _NARROW_FLOATS:
            s = s.float()
        out.append(s)
    t, b = out[0].shape[:2]
    for name, s in zip(names[1:], out[1:], strict=True):
        if s.shape[:2] != (t, b):
            raise ValueError(
                f"{name} has (T, B) = {tuple(s.shape[:2])}, but {names[0]} has {(t, b)}: all layers "
                "must share time steps and batch"
            )
    return out


def _check_lam(lam: float) -> float:
    value = real_number("lam", lam, tensors=True)
    if value < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    return value


# ----------------------------------------------------------------------------- regularizers


def spike_count_loss(spikes: Spikes, lam: float = 1.0, time_dim: int = 0) -> torch.Tensor:
    """Explicit spike-count term: ``lam * sum s / (B * sum_l N_l * T)``, the mean firing
    probability of all given neurons, so ``lam`` does not depend on the network's size.

    Same term as the study's ``spike_count`` regularizer at full weight (its ramp schedule is
    ``lam * min(1, (epoch + 1) / ramp_epochs)``: pass that as ``lam`` to reproduce it).
    """
    return _check_lam(lam) * R.mean_spike_rate(as_time_major(spikes, time_dim))


def homeostatic_l2_loss(
    spikes: Spikes,
    target_rate: float = R.HomeostaticL2.DEFAULT_TARGET_RATE,
    lam: float = 1.0,
    scope: str = "neuron",
    time_dim: int = 0,
) -> torch.Tensor:
    """Homeostatic L2 toward a target rate ``r*`` (rates per step, on this batch):
    ``lam * mean_{l,i} (r_{l,i} - r*)^2`` over every neuron (``scope="neuron"``), or the population
    form ``lam * sum_l (mean_i r_{l,i} - r*)^2`` (``scope="layer"``). Penalizes silence as well
    as excess firing."""
    if not 0.0 < real_number("target_rate", target_rate, tensors=True) < 1.0:
        raise ValueError(f"target_rate must lie in (0, 1), got {target_rate}")
    if scope not in ("neuron", "layer"):
        raise ValueError(f"scope must be 'neuron' or 'layer', got {scope!r}")
    return _check_lam(lam) * R.homeostatic_deviation(as_time_major(spikes, time_dim), target_rate, scope)


def first_spike_loss(spikes: Spikes, lam: float = 1.0, time_dim: int = 0) -> torch.Tensor:
    """First-spike penalty: ``lam * mean_{b,i} sum_t s[t] 1[sum_{tau<t} s[tau] >= 1]``, the spikes
    after each neuron's first in a sample. The first spike is free (the indicator is a
    stop-gradient mask), so the term does not push neurons toward silence. The study's two-phase
    schedule (penalty off until a switch epoch) is the caller's ``lam`` per epoch."""
    return _check_lam(lam) * R.mean_excess_spikes(as_time_major(spikes, time_dim))


# ----------------------------------------------------------------------------- metrics


def firing_rate(spikes: Spikes, time_dim: int = 0) -> float:
    """Mean spikes per neuron per time step over all given layers (``metrics.firing_rate`` of the
    layers side by side): in [0, 1] for spikes of 0 and 1 (other values, e.g. signed events, are
    averaged as they are)."""
    return M.firing_rate(_side_by_side(spikes, time_dim))


def activation_sparsity(spikes: Spikes, time_dim: int = 0) -> float:
    """NeuroBench *activation sparsity*: zero activations / all activations of the given layers
    (every neuron at every step of every sample)."""
    return M.activation_sparsity([s.detach() for s in as_time_major(spikes, time_dim)])


def active_fraction(spikes: Spikes, time_dim: int = 0) -> float:
    """Share of neurons with a spike in a sample, averaged over samples: per sample b,
    ``mean_i 1[sum_t s_{t,b,i} > 0]`` over the neurons of all given layers, then the mean over b
    (``metrics.active_fraction``, the study's definition). One minus it is the per-sample silent
    fraction."""
    return M.active_fraction(_side_by_side(spikes, time_dim))


def _side_by_side(spikes: Spikes, time_dim: int) -> torch.Tensor:
    """Every layer's neurons in one ``[T, B, sum N]`` tensor (detached), so a metric of one layer
    is the metric of all of them."""
    return torch.cat([s.detach() for s in as_time_major(spikes, time_dim)], dim=2)


AC_RULES = ("neurobench", "layer")


@torch.no_grad()
def synaptic_operations(
    layers: Sequence[nn.Module], inputs: Sequence[torch.Tensor], time_dim: int = 0, rule: str = "neurobench"
) -> dict[str, float]:
    """NeuroBench synaptic operations per sample, from each layer's recorded input.

    ``layers[i]`` is a ``Linear`` or ``Conv1d/2d/3d``; ``inputs[i]`` is what it received at every
    step, time-major ``[T, B, *in_shape]`` (``time_dim`` as elsewhere). Counted per operation
    (one input element times one weight it meets, biases not counted; ``metrics.layer_op_counts``):

    - ``Effective_ACs``: pairs of a nonzero *spike* input and a nonzero weight;
    - ``Effective_MACs``: the same for non-spike input (e.g. an analog first layer);
    - ``Dense``: every pair, every step, as if inputs and weights were all nonzero;
    - ``SynOps``: the study's count, every pair of a spike and a synapse, zero weights included
      (``spikesparse.metrics.synops``: spikes x fan-out for a dense layer).

    Which input is a spike (``rule``): ``"neurobench"`` (the default, NeuroBench 2.3's rule) decides
    per step (per forward call of a step-by-step model, over the whole batch): a step whose values
    are all in {-1, 0, 1} is spikes (signed events, e.g. polarity data, count as spikes), any
    other value makes that step's ops MACs. ``"layer"`` (this library's rule before 0.x) decides
    once per layer: spikes when every value of every step is 0 or 1.
    Conv layers count exactly with stride, padding and groups: each spike meets the weights its
    receptive fields contain (``metrics.synaptic_map``).
    """
    if rule not in AC_RULES:
        raise ValueError(f"synaptic_operations: rule must be one of {AC_RULES}, got {rule!r}")
    # One layer and one tensor are the likely slips: a module has no len(), and a tensor would be
    # read as a sequence of T per-step inputs.
    if isinstance(layers, nn.Module) or isinstance(inputs, torch.Tensor):
        raise TypeError(
            "synaptic_operations: layers and inputs are sequences, one input tensor per layer "
            "(for one layer: synaptic_operations([layer], [x])); got "
            f"{type(layers).__name__} and {type(inputs).__name__}"
        )
    if len(layers) != len(inputs):
        raise ValueError(f"synaptic_operations: {len(layers)} layers but {len(inputs)} input tensors")
    if not layers:
        raise ValueError("synaptic_operations: need at least one layer and its input, got none")
    totals = {"Effective_MACs": 0.0, "Effective_ACs": 0.0, "Dense": 0.0, "SynOps": 0.0}
    batch = None
    for i, (layer, x) in enumerate(zip(layers, inputs, strict=True)):
        if not isinstance(layer, SYNAPSES):
            raise TypeError(
                f"synaptic_operations: layers[{i}] is {type(layer).__name__}, not Linear or ConvNd"
            )
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            raise ValueError(
                f"synaptic_operations: inputs[{i}] must be a tensor [T, B, *in_shape], got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
        check_time_dim(time_dim, f"synaptic_operations: inputs[{i}]", x)
        check_sizes(f"synaptic_operations: inputs[{i}]", x.shape, time_dim)
        check_values(f"synaptic_operations: inputs[{i}]", x)
        x = x.detach().movedim(time_dim, 0)
        b = x.shape[1]
        if batch is not None and b != batch:
            raise ValueError(f"synaptic_operations: inputs[{i}] has batch {b}, inputs[0] has {batch}")
        batch = b
        spikes = None if rule == "neurobench" else bool(((x == 0) | (x == 1)).all())
        try:
            ops = M.layer_op_counts(layer, x, spikes)
        except (RuntimeError, ValueError) as err:  # the layer's own message, under the argument's name
            raise ValueError(
                f"synaptic_operations: inputs[{i}] of shape {tuple(x.shape)} does not fit "
                f"layers[{i}] ({layer}): {err}"
            ) from None
        totals["Effective_ACs"] += ops["acs"]
        totals["Effective_MACs"] += ops["macs"]
        totals["Dense"] += ops["dense"]
        totals["SynOps"] += ops["synops"]
    return {k: v / batch for k, v in totals.items()}


def energy_pj(ops: Mapping[str, float], e_ac: float = M.E_AC_PJ, e_mac: float = M.E_MAC_PJ) -> float:
    """Energy per sample (pJ) from ``synaptic_operations``' counts: ``SynOps x E_AC +
    Effective_MACs x E_MAC`` (the study's estimate: memory and membrane updates not counted)."""
    if not isinstance(ops, Mapping) or not {"SynOps", "Effective_MACs"} <= ops.keys():
        got = sorted(ops) if isinstance(ops, Mapping) else type(ops).__name__
        raise ValueError(
            f"energy_pj: ops must hold 'SynOps' and 'Effective_MACs' (synaptic_operations' result), got {got}"
        )
    values = {"SynOps": ops["SynOps"], "Effective_MACs": ops["Effective_MACs"], "e_ac": e_ac, "e_mac": e_mac}
    for name, v in values.items():
        if real_number(f"energy_pj: {name}", v, tensors=True) < 0:
            raise ValueError(f"energy_pj: {name} must be >= 0, got {v}")
    return M.energy_pj(ops["SynOps"], ops["Effective_MACs"], e_ac, e_mac)


# ----------------------------------------------------------------------------- neurons


class LIF(nn.Module):
    """The study's LIF neuron as a layer for a user's ``nn.Sequential``, hard constraints included.

    Takes an input current ``[T, B, ...]`` (a whole sequence: put ``Linear``/``Conv`` layers
    before it inside a time-distributed wrapper or apply them to ``[T * B, ...]``) and returns
    spikes of the same shape. ``refractory``, ``spike_budget`` and ``adapt_kappa`` are the hard
    constraints; training uses the fast-sigmoid surrogate and the compiled kernel where built.
    """

    def __init__(self, params: LIFParams | None = None, **kwargs) -> None:
        super().__init__()
        if params is not None and kwargs:
            raise ValueError("LIF: give either params or keyword parameters, not both")
        if params is not None and not isinstance(params, LIFParams):
            # LIF(128) reads as a layer size, which a LIF layer does not take: it keeps its input's shape.
            raise TypeError(
                f"LIF: params must be a LIFParams, got {type(params).__name__} {params!r}; the layer "
                "takes no size (its output has its input's shape): give neuron parameters as "
                "keywords, e.g. LIF(beta=0.9, threshold=1.0)"
            )
        self.params = params if params is not None else LIFParams(**kwargs)
        self.mem: torch.Tensor | None = None  # last sequence's membrane, [T, B, ...]

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        if not isinstance(current, torch.Tensor) or current.dim() < 3:
            got = (
                f"shape {tuple(current.shape)}"
                if isinstance(current, torch.Tensor)
                else type(current).__name__
            )
            raise ValueError(f"LIF: input must be a tensor [T, B, ...], got {got}")
        check_sizes("LIF: input", current.shape)
        t, b = current.shape[:2]
        spikes, mem = lif_multistep(current.reshape(t, b, -1), self.params)
        self.mem = mem.reshape(current.shape)
        return spikes.reshape(current.shape)

    def extra_repr(self) -> str:
        return repr(self.params)


def _conv_size(name: str, value, minimum: int) -> int | tuple[int, ...]:
    """A convolution's size argument, one number or one per dimension, each a whole number >=
    ``minimum`` (torch accepts a kernel of 0 and fails only in the forward pass)."""
    if isinstance(value, tuple | list):
        return tuple(whole_number(f"{name}[{i}]", v, minimum) for i, v in enumerate(value))
    return whole_number(name, value, minimum)


class ConvLIF(LIF):
    """A convolution followed by the study's LIF neurons, over a whole sequence: the layer of
    the study's conv SNNs (``models.ConvSpikingNet``), hard constraints included.

    Takes ``[T, B, C_in, L]`` (``dims=1``) or ``[T, B, C_in, H, W]`` (``dims=2``) and returns
    spikes ``[T, B, C_out, L', ...]``: the convolution of all T steps runs as one call (T folded
    into the batch), then one LIF neuron per output channel and position integrates its current
    (``LIF``, compiled where built). ``conv`` is the ``nn.Conv1d``/``nn.Conv2d`` (give it to
    ``synaptic_operations`` with the layer's input to count its ops); ``mem`` holds the last
    sequence's membrane. Neuron parameters as ``LIF``'s. Channels, kernel size and stride are
    whole numbers >= 1 and padding >= 0 (or torch's ``"same"``/``"valid"``), checked here.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        dims: int = 1,
        params: LIFParams | None = None,
        **neuron,
    ) -> None:
        super().__init__(params, **neuron)
        if dims not in (1, 2):
            raise ValueError(f"ConvLIF: dims must be 1 or 2, got {dims}")
        cls = nn.Conv1d if dims == 1 else nn.Conv2d
        self.conv = cls(
            whole_number("ConvLIF: in_channels", in_channels, 1),
            whole_number("ConvLIF: out_channels", out_channels, 1),
            _conv_size("ConvLIF: kernel_size", kernel_size, 1),
            stride=_conv_size("ConvLIF: stride", stride, 1),
            padding=padding if isinstance(padding, str) else _conv_size("ConvLIF: padding", padding, 0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.conv.weight.dim() - 2
        if not isinstance(x, torch.Tensor) or x.dim() != dims + 3:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"ConvLIF: input must be [T, B, C, {'L' if dims == 1 else 'H, W'}], got {got}")
        check_sizes("ConvLIF: input", x.shape)
        if x.shape[2] != self.conv.in_channels:
            raise ValueError(f"ConvLIF: input has {x.shape[2]} channels, the layer {self.conv.in_channels}")
        dtype = self.conv.weight.dtype
        if not x.is_floating_point():  # bool or integer spikes, as LIF takes them
            x = x.to(dtype)
        elif x.dtype != dtype:
            raise ValueError(
                f"ConvLIF: input is {x.dtype} but the layer's weights are {dtype}: pass x.to({dtype})"
            )
        check_values("ConvLIF: input", x)
        try:
            current = over_time(self.conv, x)
        except RuntimeError as err:  # e.g. a kernel larger than the padded input
            first = str(err).strip().splitlines()[0]
            raise ValueError(
                f"ConvLIF: input of shape {tuple(x.shape)} does not fit {self.conv}: {first}"
            ) from None
        return super().forward(current)


# ----------------------------------------------------------------------------- conversion


@torch.no_grad()
def convert(
    model: nn.Sequential,
    x_calib: torch.Tensor,
    normalization: str = "max",
    percentile: float = 99.9,
    alpha: float = 0.0,
) -> ConvertedSNN:
    """Convert a trained ReLU ``nn.Sequential`` (Linear/Conv + ReLU, BatchNorm folded, Flatten,
    Dropout) into integrate-and-fire layers, as the study's conversion does.

    Data-based normalization scales each layer so its largest activation on ``x_calib`` (the
    maximum, or ``percentile``) becomes 1; ``alpha > 0`` applies the L4-norm adjustment, dividing
    each hidden neuron's (conv: output channel's) weights and bias by
    ``1 + alpha (||w_j||_4 / mean_j ||w_j||_4 - 1)``, kept >= 0.1 (``conversion.MIN_L4_DIVISOR``:
    a neuron far below the mean norm at alpha > 1 would otherwise get a huge gain or flip sign).
    The model is not modified, nor its training
    mode. ``x_calib`` holds rates in [0, 1], as ``ConvertedSNN.run`` takes, in the model's dtype;
    ``percentile`` must lie in (0, 100] and ``alpha`` be a finite number >= 0.
    """
    check_sequential("convert", model)
    check_rates("convert: x_calib", x_calib)
    for name, p in model.named_parameters():
        check_values(f"convert: the model's {name}", p.detach())
    # No .eval(): that would switch the caller's model (Dropout, BatchNorm) out of training. Nothing
    # here depends on the mode: BatchNorm folds from its running statistics, Dropout is dropped.
    stages = ReLUStages(fold_batchnorm(model))
    stages.check_input(x_calib, "convert: x_calib", "the model")
    scales = layer_scales(stages, x_calib, normalization, percentile)
    return l4_adjust(normalize(stages, scales), alpha)  # l4_adjust checks alpha
