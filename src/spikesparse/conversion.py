"""ANN -> SNN conversion with data-based normalization and the L4-norm adjustment (seed 003).

A ReLU network is trained as usual; its weights are copied into integrate-and-fire neurons
(threshold 1, reset by subtraction) driven by Bernoulli rate-coded input. Normalization scales
each layer so that its largest activation on calibration data (the maximum, or a percentile, which
ignores rare outliers) becomes 1, so a neuron's firing rate approximates its ReLU activation.

Why the L4 adjustment: conversion matches the *mean* membrane input, but with stochastic input
the membrane input of neuron j has variance ``sum_i w_ji^2 r_i (1 - r_i)`` (Bernoulli inputs of
rate r_i), which by Cauchy-Schwarz is at most ``||w_j||_4^2 * ||r (1 - r)||_2``. Neurons with a
large L4 norm get noisy input and fire spuriously; dividing their weights (and bias, which is the
same as raising their threshold) by ``1 + alpha (||w_j||_4 / mean_j ||w_j||_4 - 1)`` damps them.
``alpha = 0`` is the plain conversion; alpha is chosen on the validation split. The formula is our
reconstruction from the seed's abstract. Only hidden (spiking) layers are adjusted: the output
layer accumulates its input without spiking, so it has no spurious spikes to suppress.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import metrics as M
from .draws import bernoulli_spikes
from .neurons import IFParams, if_state, if_step
from .optim import Adam
from .runtime import seed_everything

# The converted net's hidden neuron: integrate-and-fire, threshold 1 (weights are normalized to it).
IF_NEURON = IFParams(threshold=1.0)

# The denominator of the L4 factor is kept above this, so a large alpha cannot flip a sign.
MIN_L4_DIVISOR = 0.1


class ReLUNet(nn.Module):
    """The ANN: a fixed input affine map, Linear -> ReLU for every hidden layer, a linear output.

    The input map ``x * input_scale + input_shift`` lets the ANN see standardized features while
    the data (and so the converted SNN's Bernoulli input) stay rates in [0, 1]; ``normalize``
    folds it into the first layer, so conversion is exact in expectation.
    """

    def __init__(
        self, n_in: int, hidden: list[int], n_out: int, input_scale: float = 1.0, input_shift: float = 0.0
    ) -> None:
        super().__init__()
        sizes = [n_in, *hidden, n_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.register_buffer("input_scale", torch.tensor(float(input_scale)))
        self.register_buffer("input_shift", torch.tensor(float(input_shift)))

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Output of every layer: ReLU activations of the hidden layers, then the logits."""
        x = x * self.input_scale + self.input_shift
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activations(x)[-1]

    def macs_per_sample(self) -> int:
        return sum(layer.in_features * layer.out_features for layer in self.layers)


def train_ann(
    ann_spec: dict,
    data: dict[str, np.ndarray],
    seed: int,
    threads: int = 1,
    input_affine: tuple[float, float] = (1.0, 0.0),
) -> tuple[ReLUNet, list]:
    """Train the ReLU net with Adam and cross-entropy; returns the net and per-epoch history.
    ``input_affine`` (scale, shift) is the net's fixed input map (``data.ann_input_affine``)."""
    seed_everything(seed, threads)
    x = torch.from_numpy(data["x_train"])
    y = torch.from_numpy(data["y_train"])
    n_classes = int(max(data["y_train"].max(), data["y_test"].max()) + 1)
    net = ReLUNet(x.shape[1], list(ann_spec["hidden"]), n_classes, *input_affine)
    # torch.optim.Adam's CPU default (single-tensor) arithmetic, without its torch._dynamo import.
    opt = Adam(net.parameters(), lr=ann_spec["lr"], foreach=False)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(ann_spec["epochs"]):
        perm = torch.randperm(len(x), generator=generator)
        total, n = 0.0, 0
        for lo in range(0, len(x), ann_spec["batch_size"]):
            idx = perm[lo : lo + ann_spec["batch_size"]]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"ANN loss became {float(loss)} at epoch {epoch + 1}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
        with torch.no_grad():
            val_acc = ann_accuracy(net, data["x_val"], data["y_val"])
        history.append({"epoch": epoch + 1, "loss": total / n, "val_accuracy": val_acc})
    return net, history


@torch.no_grad()
def ann_accuracy(net: ReLUNet, x: np.ndarray, y: np.ndarray) -> float:
    if len(x) == 0:
        return float("nan")
    pred = net(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())


@torch.no_grad()
def layer_scales(
    net: ReLUNet,
    x_calib: torch.Tensor,
    normalization: str,
    percentile: float = 99.9,
    percentile_of: str = "nonzero",
) -> list[float]:
    """Scale of every layer's activation on calibration data: the maximum (``max``) or the given
    percentile (``percentile``) over the layer's activations: the nonzero ones by default (a ReLU
    layer is mostly zeros, so a percentile over all of them sits far below the activations that
    matter), or all of them (``percentile_of="all"``). A layer that never activates gets scale 1
    (nothing to normalize)."""
    if normalization not in ("max", "percentile"):
        raise ValueError(f"normalization must be 'max' or 'percentile', got {normalization!r}")
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


@dataclass
class SNNWeights:
    """Weights and biases of the converted network, one (W [out, in], b [out]) per layer."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]


def normalize(net: ReLUNet, scales: list[float]) -> SNNWeights:
    """Data-based normalization: ``W_l <- W_l * s_{l-1} / s_l``, ``b_l <- b_l / s_l`` (s_0 = 1:
    the input is already a rate in [0, 1]). After it, layer l's scaled activation is 1 at s_l.
    The ANN's fixed input map is folded into the first layer: ``W (a x + c) + b = (a W) x + (b +
    c W 1)``."""
    weights, biases = [], []
    prev = 1.0
    scale, shift = float(net.input_scale), float(net.input_shift)
    for i, (layer, s) in enumerate(zip(net.layers, scales, strict=True)):
        w, b = layer.weight.detach(), layer.bias.detach()
        if i == 0:
            w, b = w * scale, b + shift * w.sum(dim=1)
        weights.append(w * prev / s)
        biases.append(b / s)
        prev = s
    return SNNWeights(weights, biases)


def l4_norms(weight: torch.Tensor) -> torch.Tensor:
    """L4 norm of each output neuron's incoming weights: ``(sum_i w_ji^4)^(1/4)``, ``[out]``."""
    return weight.pow(4).sum(dim=1).pow(0.25)


def l4_factors(weight: torch.Tensor, alpha: float) -> torch.Tensor:
    """Per-neuron divisor ``1 + alpha (||w_j||_4 / mean_j ||w_j||_4 - 1)``, kept >= MIN_L4_DIVISOR."""
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    norms = l4_norms(weight)
    ratio = norms / norms.mean().clamp(min=1e-12)
    return (1.0 + alpha * (ratio - 1.0)).clamp(min=MIN_L4_DIVISOR)


def l4_adjust(snn: SNNWeights, alpha: float) -> SNNWeights:
    """Divide each hidden neuron's weights and bias by its L4 factor; alpha = 0 is the identity."""
    if alpha == 0:
        return SNNWeights(list(snn.weights), list(snn.biases))
    weights, biases = [], []
    last = len(snn.weights) - 1
    for i, (w, b) in enumerate(zip(snn.weights, snn.biases, strict=True)):
        if i == last:
            weights.append(w)
            biases.append(b)
            continue
        f = l4_factors(w, alpha)
        weights.append(w / f[:, None])
        biases.append(b / f)
    return SNNWeights(weights, biases)


def membrane_input_variance(weight: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """Variance of each neuron's per-step input ``W s`` when input i is Bernoulli(rates_i)
    and independent: ``sum_i w_ji^2 r_i (1 - r_i)``, ``[out]``."""
    return (weight**2) @ (rates * (1 - rates))


def l4_variance_bound(weight: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """Cauchy-Schwarz bound on that variance: ``||w_j||_4^2 * ||r (1 - r)||_2``."""
    return l4_norms(weight) ** 2 * torch.linalg.vector_norm(rates * (1 - rates))


@dataclass
class Simulation:
    """What an IF simulation produced at each checkpoint T (cumulative over the first T steps)."""

    predictions: dict[int, np.ndarray]
    input_counts: dict[int, torch.Tensor]  # spikes per input neuron, summed over samples
    hidden_counts: dict[int, list[torch.Tensor]]  # spikes per neuron of each hidden layer


@torch.no_grad()
def simulate_if(
    snn: SNNWeights, x: torch.Tensor, time_steps: list[int], generator: torch.Generator, batch_size: int = 512
) -> Simulation:
    """Run the converted net for ``max(time_steps)`` steps on Bernoulli(x) input and read its
    prediction (argmax of the output layer's accumulated input) after each checkpoint T. One
    simulation serves every T, as the first T steps of a longer run are a run of length T."""
    checkpoints = sorted(set(int(t) for t in time_steps))
    t_max = checkpoints[-1]
    n_hidden = len(snn.weights) - 1
    preds = {t: [] for t in checkpoints}
    in_counts = {t: x.new_zeros(x.shape[1], dtype=torch.float64) for t in checkpoints}
    hid_counts = {
        t: [x.new_zeros(w.shape[0], dtype=torch.float64) for w in snn.weights[:-1]] for t in checkpoints
    }
    for lo in range(0, len(x), batch_size):
        xb = x[lo : lo + batch_size]
        # Hidden layers: the package's IF neuron (threshold 1); the output layer only accumulates.
        states = [if_state(len(xb), w.shape[0], xb) for w in snn.weights[:-1]]
        out = xb.new_zeros(len(xb), snn.weights[-1].shape[0])
        n_in = x.new_zeros(x.shape[1], dtype=torch.float64)
        counts = [x.new_zeros(w.shape[0], dtype=torch.float64) for w in snn.weights[:-1]]
        for t in range(1, t_max + 1):
            s = _input_spikes(xb, generator)
            n_in += s.sum(0)
            for i, (w, b) in enumerate(zip(snn.weights, snn.biases, strict=True)):
                drive = torch.addmm(b, s, w.t())
                if i < n_hidden:
                    s, states[i] = if_step(drive, states[i], IF_NEURON)
                    counts[i] += s.sum(0)
                else:
                    out.add_(drive)
            if t in preds:
                preds[t].append(out.argmax(1).numpy())
                in_counts[t] += n_in
                for total, c in zip(hid_counts[t], counts, strict=True):
                    total += c
    return Simulation({t: np.concatenate(p) for t, p in preds.items()}, in_counts, hid_counts)


def _input_spikes(xb: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One Bernoulli draw per input, ``torch.rand(xb.shape) < xb`` (float32 draws) in ``xb``'s
    dtype; for float32 input through the rate code's compiled draw (the same numbers, about 10x
    faster: the simulation draws once per step)."""
    if xb.dtype == torch.float32:
        return bernoulli_spikes(xb.unsqueeze(1), generator)[0]
    return (torch.rand(xb.shape, generator=generator) < xb).to(xb.dtype)


def sweep(
    net: ReLUNet,
    data: dict[str, np.ndarray],
    spec: dict,
    metric_cfg: dict,
) -> list[dict]:
    """Every (normalization, alpha, T) on the validation and the test split: one row each.

    Input spikes come from fixed seeds (validation: the run seed, test: ``eval_seed``) so the
    variants of one net see identical input and differ only in their weights.
    """
    x_calib = torch.from_numpy(data["x_train"][: spec["calibration_samples"]])
    rows = []
    macs = net.macs_per_sample()
    for normalization in spec["normalizations"]:
        scales = layer_scales(
            net, x_calib, normalization, spec["percentile"], spec.get("percentile_of", "nonzero")
        )
        base = normalize(net, scales)
        for alpha in spec["alphas"]:
            snn = l4_adjust(base, float(alpha))
            for split, seed in (("val", spec["seed"]), ("test", metric_cfg["eval_seed"])):
                x = torch.from_numpy(data[f"x_{split}"])
                y = data[f"y_{split}"]
                if len(x) == 0:
                    continue
                sim = simulate_if(snn, x, spec["time_steps"], torch.Generator().manual_seed(seed))
                for t in sorted(sim.predictions):
                    rows.append(_row(normalization, float(alpha), t, split, sim, y, snn, macs, metric_cfg))
    return rows


def _row(normalization, alpha, t, split, sim: Simulation, y, snn: SNNWeights, macs, metric_cfg) -> dict:
    n = len(y)
    # Presynaptic counts of each layer: the input feeds layer 0, hidden layer l feeds layer l + 1.
    presynaptic = [sim.input_counts[t], *sim.hidden_counts[t]]
    synops = sum(M.synops(c, w.shape[0]) for c, w in zip(presynaptic, snn.weights, strict=True))
    eff_acs = sum(M.effective_acs(c, w) for c, w in zip(presynaptic, snn.weights, strict=True))
    layer_spikes = [float(c.sum()) for c in sim.hidden_counts[t]]
    hidden_sizes = [len(c) for c in sim.hidden_counts[t]]
    hidden_total = sum(layer_spikes)
    accuracy = float((sim.predictions[t] == y).mean())
    chance = float(np.bincount(y).max() / n)
    synops_ps = synops / n
    return {
        "normalization": normalization,
        "alpha": alpha,
        "time_steps": t,
        "split": split,
        "accuracy": accuracy,
        "hidden_rate": hidden_total / (sum(hidden_sizes) * t * n),
        "layer_rates": [c / (size * t * n) for c, size in zip(layer_spikes, hidden_sizes, strict=True)],
        "spikes_per_sample": hidden_total / n,
        "input_spikes_per_sample": float(sim.input_counts[t].sum()) / n,
        "synops_per_sample": synops_ps,
        "effective_acs_per_sample": eff_acs / n,
        "energy_pj_per_sample": M.energy_pj(synops_ps, 0.0, metric_cfg["e_ac_pj"], metric_cfg["e_mac_pj"]),
        "ann_macs_per_sample": macs,
        "ann_energy_pj_per_sample": macs * metric_cfg["e_mac_pj"],
        "synaptic_efficiency": M.synaptic_efficiency(accuracy, chance, synops_ps),
        "chance_accuracy": chance,
    }


def choose_alpha(rows: list[dict]) -> dict[tuple[str, int], float]:
    """Alpha per (normalization, T) with the best *validation* accuracy; ties go to the smaller
    alpha, so the adjustment is only chosen when it helps. The test split is never looked at."""
    best: dict[tuple[str, int], tuple[float, float]] = {}
    for r in rows:
        if r["split"] != "val":
            continue
        key = (r["normalization"], r["time_steps"])
        cand = (r["accuracy"], -r["alpha"])
        if key not in best or cand > best[key]:
            best[key] = cand
    return {key: -neg_alpha for key, (_, neg_alpha) in best.items()}
