"""Sparsity, cost and task metrics. One definition each; units and what is counted in the docstring.

Spike tensors are time-major ``[T, B, N]`` with values in {0, 1}. Functions that count
operations return totals over the batch; divide by the number of samples for per-sample figures
(totals add up across batches, per-sample means do not).

Counting conventions (NeuroBench 2.3, for the metrics that carry its names): every synaptic
layer is counted, recurrent included (it is fed the previous step's spikes, so the last step's
spikes are never fed back); the input spikes feeding the first layer are counted; biases are not;
zero weights are skipped by effective ACs; the readout of this project is a non-spiking leaky
integrator, so it emits no spikes and is not part of activation sparsity.
"""

from __future__ import annotations

import numpy as np
import torch

# Energy per operation in picojoules (45 nm, 32-bit float; Horowitz, ISSCC 2014):
# accumulate = add (0.9 pJ); multiply-accumulate = multiply (3.7 pJ) + add (0.9 pJ).
E_AC_PJ = 0.9
E_MAC_PJ = 4.6


def _check_spikes(spikes: torch.Tensor, name: str = "spikes") -> None:
    if spikes.dim() != 3:
        raise ValueError(f"{name} must have shape [T, B, N], got {tuple(spikes.shape)}")


def firing_rate(spikes: torch.Tensor) -> float:
    """Mean spikes per neuron per time step (probability in [0, 1]): sum s / (T * B * N)."""
    _check_spikes(spikes)
    return float(spikes.float().mean())


def neuron_spike_counts(spikes: torch.Tensor) -> torch.Tensor:
    """Spikes of each neuron summed over time and batch: ``[N]``."""
    _check_spikes(spikes)
    return spikes.sum(dim=(0, 1))


def silent_fraction(counts: torch.Tensor) -> float:
    """Fraction of neurons with zero spikes over everything the counts cover."""
    return float((counts == 0).float().mean())


def active_fraction(spikes: torch.Tensor) -> float:
    """Share of neurons that fire at least once on a sample, averaged over samples: the second
    reading of "x % of neurons firing" (the first is ``firing_rate``, spikes per neuron and step).
    A neuron that fires once in T steps counts fully here and 1/T in the rate. ``[T, B, N]``."""
    _check_spikes(spikes)
    return float((spikes.sum(dim=0) > 0).double().mean())


def active_counts(spikes: torch.Tensor) -> torch.Tensor:
    """Per sample, the number of neurons with >= 1 spike: ``[B]`` (summed over a test set and
    divided by samples x neurons it gives ``active_fraction``)."""
    _check_spikes(spikes)
    return (spikes.sum(dim=0) > 0).sum(dim=1)


def saturated_fraction(rates: torch.Tensor, threshold: float = 0.9) -> float:
    """Fraction of neurons whose per-step firing rate is >= ``threshold``."""
    return float((rates >= threshold).float().mean())


def synops(presynaptic_counts: torch.Tensor, fan_out: int) -> float:
    """Synaptic operations: each presynaptic spike triggers ``fan_out`` accumulates (total)."""
    if fan_out < 0:
        raise ValueError(f"fan_out must be >= 0, got {fan_out}")
    return float(presynaptic_counts.sum()) * fan_out


def effective_acs(presynaptic_counts: torch.Tensor, weight: torch.Tensor) -> float:
    """NeuroBench *Effective ACs*: nonzero spike x nonzero weight pairs (total).

    ``presynaptic_counts`` ``[in]`` are spike counts per presynaptic neuron, ``weight`` is
    ``[out, in]`` as in ``nn.Linear``: column j has ``nnz(W[:, j])`` live synapses.
    """
    nnz_per_input = (weight != 0).sum(dim=0).to(presynaptic_counts.dtype)
    return float(presynaptic_counts @ nnz_per_input)


def effective_macs(inputs: torch.Tensor, weight: torch.Tensor) -> float:
    """NeuroBench *Effective MACs* of a layer fed analog values (total over the tensor):
    nonzero input x nonzero weight pairs, i.e. for every nonzero entry of ``inputs`` ``[..., in]``
    the number of live synapses of its input column (``weight`` ``[out, in]``). An input that is 0
    at some step costs nothing at that step."""
    return effective_acs(nonzero_input_counts(inputs), weight)


def nonzero_input_counts(inputs: torch.Tensor) -> torch.Tensor:
    """Per input channel, how many entries of ``inputs`` ``[..., in]`` are nonzero (float64, so
    counts can be summed over batches and fed to ``effective_acs`` once)."""
    return (inputs != 0).reshape(-1, inputs.shape[-1]).sum(dim=0).double()


# A conv layer's map and its adjoint (the input gradient), by layer type.
_CONVS = {
    torch.nn.Conv1d: (torch.nn.functional.conv1d, torch.nn.grad.conv1d_input),
    torch.nn.Conv2d: (torch.nn.functional.conv2d, torch.nn.grad.conv2d_input),
    torch.nn.Conv3d: (torch.nn.functional.conv3d, torch.nn.grad.conv3d_input),
}


def synaptic_map(layer: torch.nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``layer``'s linear map (no bias) applied to ``x`` ``[M, *in_shape]`` with ``weight`` in
    place of its own: the one way every op count here meets a layer's real fan-out.

    Why: summed over its output, ``synaptic_map(layer, counts, ones)`` is the number of
    (input event, synapse) pairs, each input position weighted by how many synapses it meets.
    For a convolution that is its receptive-field geometry, padding and stride included (a
    position near a padded border meets fewer weights; with stride > 1 some positions meet
    fewer, or none); for a dense layer it is ``counts x fan_out``. ``layer`` is an
    ``nn.Linear``, an ``nn.Conv1d/2d/3d`` (zero padding), or anything with a 2-D ``weight``
    ``[out, in]`` (a recurrent weight)."""
    conv = _CONVS.get(type(layer))
    if conv is None:
        return torch.nn.functional.linear(x, weight)
    if layer.padding_mode != "zeros":
        raise ValueError(f"padding_mode {layer.padding_mode!r} is not supported (only zeros)")
    return conv[0](x, weight, None, layer.stride, layer.padding, layer.dilation, layer.groups)


def synaptic_fan(layer: torch.nn.Module, weight: torch.Tensor, in_shape) -> torch.Tensor:
    """Per input position of ``in_shape``: the sum of ``weight`` over the synapses that position
    meets, so that ``synaptic_map(layer, x, weight).sum()`` is ``(x * synaptic_fan(...)).sum()``.

    Why: the map is linear, so an op count summed over a layer's outputs is a dot product of the
    input with this map (the map's adjoint applied to ones), computed once per layer. Counting
    ``[T * B, C, L]`` inputs through a float64 convolution three times was half of a conv run's
    evaluation. For counts and 0/1 weights every term is an integer, so both ways give the same
    float64 sums, whatever the order."""
    conv = _CONVS.get(type(layer))
    if conv is None:
        return weight.sum(dim=0)
    probe = torch.zeros(1, *in_shape, dtype=weight.dtype, device=weight.device)
    ones = torch.ones_like(synaptic_map(layer, probe, weight))
    return conv[1](probe.shape, weight, ones, layer.stride, layer.padding, layer.dilation, layer.groups)[0]


def spike_steps(inputs: torch.Tensor) -> torch.Tensor:
    """NeuroBench 2.3's rule for which input is spikes, per step of ``inputs`` ``[T, B, ...]``
    (one forward call of a step-by-step model sees one step of the whole batch): ``[T]`` True where
    every value is in {-1, 0, 1} (signed events count as spikes, their ops as ACs), False where
    any other value makes the step's ops MACs."""
    return ((inputs == 0) | (inputs == 1) | (inputs == -1)).reshape(inputs.shape[0], -1).all(dim=1)


def layer_op_counts(
    layer: torch.nn.Module, inputs: torch.Tensor, spikes: bool | None = None
) -> dict[str, float]:
    """Synaptic operations of one layer over ``inputs`` ``[T, B, *in_shape]`` (totals over the
    batch), as NeuroBench 2.3 counts them, with the study's SynOps beside:

    - ``effective``: pairs of a nonzero input and a nonzero weight (NeuroBench's effective ops),
      split per step (per forward call, as NeuroBench's hooks see a step-by-step model) into
      ``acs`` when every input value of that step is in {-1, 0, 1} (signed events count as
      spikes) and ``macs`` otherwise;
    - ``synops``: the study's count over the spike steps, every pair of an input event and a
      synapse, zero weights included (``synops``: spikes x fan-out);
    - ``dense``: every pair at every step, as if inputs and weights were all nonzero.

    ``spikes=True`` declares every step's input to be event counts (a layer after an average
    pool is fed the number of spikes in each window, ``models.ConvSpikingNet.synaptic_inputs``;
    a count of 2 is two accumulates), ``False`` every step analog (MACs); None, the default,
    applies NeuroBench's per-step rule.
    Convolutions count their real fan-out (``synaptic_map``, summed through ``synaptic_fan``)."""
    T, B = inputs.shape[:2]
    x = inputs.reshape(T * B, *inputs.shape[2:]).double()
    w = layer.weight.detach().double()
    nonzero = (x != 0).double()
    if spikes is None:
        step_binary = spike_steps(inputs).cpu()
        events = nonzero
    else:
        step_binary = torch.full((T,), bool(spikes))
        events = x.abs()
    fan_live = synaptic_fan(layer, (w != 0).double(), inputs.shape[2:]).reshape(-1)
    fan_all = synaptic_fan(layer, torch.ones_like(w), inputs.shape[2:]).reshape(-1)

    def per_step(v: torch.Tensor, fan: torch.Tensor) -> torch.Tensor:
        return (v.reshape(T, B, -1) @ fan).sum(dim=1).cpu()

    live = per_step(events, fan_live)
    macs = per_step(nonzero, fan_live)
    every = per_step(events, fan_all)
    dense = float(fan_all.sum()) * T * B
    return {
        "acs": float(live[step_binary].sum()),
        "macs": float(macs[~step_binary].sum()),
        "synops": float(every[step_binary].sum()),
        "dense": dense,
    }


def dense_ops(n_steps: int, weight: torch.Tensor) -> int:
    """NeuroBench *Dense* ops of one layer per sample: T x fan_in x fan_out (every pair, every step)."""
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    return int(n_steps * weight.shape[0] * weight.shape[1])


def activation_sparsity(spike_tensors: list[torch.Tensor]) -> float:
    """NeuroBench activation sparsity: zero activations / all activations of the spiking layers."""
    zeros = sum(float((s == 0).sum()) for s in spike_tensors)
    total = sum(s.numel() for s in spike_tensors)
    return zeros / total


def membrane_updates(mem: torch.Tensor) -> float:
    """NeuroBench membrane updates of one layer, summed over the batch: every neuron at the first
    step, then each neuron whose membrane value changed since the previous step. ``[T, B, N]``."""
    if mem.dim() != 3:
        raise ValueError(f"mem must have shape [T, B, N], got {tuple(mem.shape)}")
    first = mem.shape[1] * mem.shape[2]
    return float(first + (mem[1:] != mem[:-1]).sum())


def energy_pj(
    synops_per_sample: float,
    analog_macs_per_sample: float = 0.0,
    e_ac: float = E_AC_PJ,
    e_mac: float = E_MAC_PJ,
) -> float:
    """Energy estimate per sample (pJ): SynOps x E_AC + analog first-layer MACs x E_MAC.

    Memory access and membrane updates are not counted.
    """
    return synops_per_sample * e_ac + analog_macs_per_sample * e_mac


def synaptic_efficiency(accuracy: float, chance: float, synops_per_sample: float) -> float:
    """Normalized skill per million SynOps: ((acc - chance) / (1 - chance)) / (SynOps / 1e6).

    Our formula for the metric seed 000 names without defining: how much of the task above chance
    the network solves per unit of synaptic activity. Infinite skill per op is reported as inf
    when a network solves the task with zero SynOps.
    """
    if not 0.0 <= chance < 1.0:
        raise ValueError(f"chance must lie in [0, 1), got {chance}")
    skill = (accuracy - chance) / (1.0 - chance)
    if synops_per_sample == 0:
        return float("inf") if skill > 0 else 0.0
    return skill / (synops_per_sample / 1e6)


def accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(target)))


def f1_score(pred: np.ndarray, target: np.ndarray, positive: int = 1) -> float:
    """F1 of the positive class (anomaly); 0 when there are no true positives."""
    pred, target = np.asarray(pred), np.asarray(target)
    tp = np.sum((pred == positive) & (target == positive))
    fp = np.sum((pred == positive) & (target != positive))
    fn = np.sum((pred != positive) & (target == positive))
    return float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0


def auroc(scores: np.ndarray, target: np.ndarray) -> float:
    """Area under the ROC curve via the rank statistic (ties get the average rank)."""
    scores, target = np.asarray(scores, dtype=np.float64), np.asarray(target)
    pos, neg = target == 1, target == 0
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
