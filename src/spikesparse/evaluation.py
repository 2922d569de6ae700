"""Test-set evaluation of a trained run: task metrics plus every sparsity and cost metric.

The test set is encoded with its own fixed seed (config ``metrics.eval_seed``), so every run of a
study sees the same input spikes and differences come from the networks alone.
"""

from __future__ import annotations

import numpy as np
import torch

from . import metric_catalog
from . import metrics as M
from .encoding import SplitCode
from .models import SpikingNet

# Scalar metrics every evaluation reports (NaN where a run diverged and could not be evaluated),
# so the runs table has the same columns whatever happened to the runs; declared in the catalog.
SCALAR_METRICS = metric_catalog.names()


def spike_raster(layer_spikes: list[torch.Tensor]) -> dict:
    """Spike times of one sample: ``[T, N_l]`` per hidden layer -> {layer, step, neuron} lists
    (compact for a sparse net, and readable without the model)."""
    layers, steps, neurons = [], [], []
    for i, s in enumerate(layer_spikes):
        t, n = torch.nonzero(s, as_tuple=True)
        layers += [i] * len(t)
        steps += t.tolist()
        neurons += n.tolist()
    return {
        "n_steps": int(layer_spikes[0].shape[0]),
        "layer_sizes": [int(s.shape[1]) for s in layer_spikes],
        "layer": layers,
        "step": steps,
        "neuron": neurons,
    }


def unevaluated_metrics() -> dict:
    """Metrics of a run that could not be evaluated (diverged): every scalar is NaN."""
    return {name: float("nan") for name in SCALAR_METRICS}


@torch.no_grad()
def evaluate_model(
    model: SpikingNet,
    x_eval: np.ndarray,
    y_eval: np.ndarray,
    encoding: dict,
    metric_cfg: dict,
    static_input: bool = True,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    details: bool = True,
) -> dict:
    """Run one split through ``model`` and return a flat dict of metrics (per sample where the
    name says so). Counts add up across batches; rates are computed from the totals.

    ``static_input``: the dataset has one feature vector per sample (the encoder spreads it over
    time), so an equivalent ANN runs once per input; for a sequence dataset it runs once per step.
    ``details`` adds what only the test split needs (per-neuron rates, one spike raster).
    """
    model.eval()
    device = torch.device(device)
    generator = torch.Generator().manual_seed(metric_cfg["eval_seed"])
    code = SplitCode(torch.from_numpy(x_eval), encoding)
    n_samples = len(code)
    weights = dict(model.synapse_layers())
    n_layers = len(model.layers)
    in_counts = None
    counts = [None] * n_layers  # per-neuron spikes over all steps
    fed_back = [None] * n_layers  # per-neuron spikes except the last step (what recurrence sees)
    silent_per_sample = [0.0] * n_layers
    active = [0.0] * n_layers  # neurons with >= 1 spike, summed over samples
    zero_acts, all_acts = 0.0, 0
    mem_updates = 0.0
    nonzero_in = None  # per input channel: nonzero entries over all steps and samples
    raster = None
    analog_input = False
    scores, preds = [], []
    n_steps = None
    for lo in range(0, n_samples, batch_size):
        xb = code.batch(slice(lo, lo + batch_size), generator).to(device)
        n_steps = xb.shape[0]
        if bool(((xb != 0) & (xb != 1)).any()):
            analog_input = True
        nz = M.nonzero_input_counts(xb.cpu())
        nonzero_in = nz if nonzero_in is None else nonzero_in + nz
        out = model.traces(xb)
        probs = torch.softmax(out.readout_mem.mean(0), dim=1).cpu()
        preds.append(probs.argmax(1).numpy())
        scores.append(probs[:, -1].numpy())
        c_in = xb.sum(dim=(0, 1)).double().cpu()
        in_counts = c_in if in_counts is None else in_counts + c_in
        for i, s in enumerate(out.hidden_spikes):
            c = s.sum(dim=(0, 1)).double().cpu()
            f = s[:-1].sum(dim=(0, 1)).double().cpu()
            counts[i] = c if counts[i] is None else counts[i] + c
            fed_back[i] = f if fed_back[i] is None else fed_back[i] + f
            silent_per_sample[i] += float((s.sum(0) == 0).double().mean(1).sum())
            active[i] += float(M.active_counts(s).sum())
            zero_acts += float((s == 0).sum())
            all_acts += s.numel()
        mem_updates += sum(M.membrane_updates(m) for m in [*out.hidden_mems, out.readout_mem])
        if details and raster is None:
            raster = spike_raster([s[:, 0] for s in out.hidden_spikes])

    y = np.asarray(y_eval)
    pred = np.concatenate(preds)
    score = np.concatenate(scores)
    n_classes = int(max(2, model.readout.out_features))
    result: dict = {
        "n_samples": n_samples,
        "n_steps": n_steps,
        "accuracy": M.accuracy(pred, y),
    }
    if n_classes == 2:
        result["f1"] = M.f1_score(pred, y)
        result["auroc"] = M.auroc(score, y)

    # Presynaptic spike counts for each synaptic layer, in traversal order. Analog input makes the
    # first layer MACs (NeuroBench: nonzero input x nonzero weight pairs), spikes make it ACs.
    synops_total, eff_acs_total, dense_total = 0.0, 0.0, 0
    pre = in_counts
    for i in range(n_layers):
        w = weights[f"fc{i}"]
        if i > 0 or not analog_input:
            synops_total += M.synops(pre, w.shape[0])
            eff_acs_total += M.effective_acs(pre, w.cpu())
        dense_total += M.dense_ops(n_steps, w)
        if model.recurrent:
            w_rec = weights[f"rec{i}"]
            synops_total += M.synops(fed_back[i], w_rec.shape[0])
            eff_acs_total += M.effective_acs(fed_back[i], w_rec.cpu())
            dense_total += M.dense_ops(n_steps, w_rec)
        pre = counts[i]
    w_out = weights["readout"]
    synops_total += M.synops(pre, w_out.shape[0])
    eff_acs_total += M.effective_acs(pre, w_out.cpu())
    dense_total += M.dense_ops(n_steps, w_out)

    all_counts = torch.cat(counts)
    rates = all_counts / (n_steps * n_samples)
    sizes = [len(c) for c in counts]
    layer_rates = [float(c.sum() / (len(c) * n_steps * n_samples)) for c in counts]
    layer_silent = [M.silent_fraction(c) for c in counts]
    spikes_per_sample = float(all_counts.sum()) / n_samples
    synops_ps = synops_total / n_samples
    # Analog input: NeuroBench effective MACs, counted once from the summed nonzero entries.
    analog_macs = M.effective_acs(nonzero_in, weights["fc0"].cpu()) if analog_input else 0.0
    analog_ps = analog_macs / n_samples
    # The equivalent ANN: every synapse once per input; a sequence task feeds it every step.
    ann_macs = dense_total if not static_input else dense_total // n_steps
    chance = float(np.bincount(y).max() / len(y))
    result.update(
        {
            "hidden_rate": float(all_counts.sum() / (len(all_counts) * n_steps * n_samples)),
            "layer_rates": layer_rates,
            "active_fraction": sum(active) / (sum(sizes) * n_samples),
            "layer_active_fractions": [a / (n * n_samples) for a, n in zip(active, sizes, strict=True)],
            "input_rate": float(in_counts.sum() / (len(in_counts) * n_steps * n_samples)),
            "silent_fraction": M.silent_fraction(all_counts),
            "silent_fraction_per_sample": sum(silent_per_sample) / (n_layers * n_samples),
            "any_layer_silent": int(any(f == 1.0 for f in layer_silent)),
            "saturated_fraction": M.saturated_fraction(rates, metric_cfg["saturation_rate"]),
            "spikes_per_sample": spikes_per_sample,
            "input_spikes_per_sample": float(in_counts.sum()) / n_samples,
            "synops_per_sample": synops_ps,
            "effective_acs_per_sample": eff_acs_total / n_samples,
            "effective_macs_per_sample": analog_ps,
            "dense_ops_per_sample": dense_total,
            "activity_ratio": synops_ps / dense_total,
            "activation_sparsity": zero_acts / all_acts,
            "energy_pj_per_sample": M.energy_pj(
                synops_ps, analog_ps, metric_cfg["e_ac_pj"], metric_cfg["e_mac_pj"]
            ),
            "ann_macs_per_sample": ann_macs,
            "ann_energy_pj_per_sample": ann_macs * metric_cfg["e_mac_pj"],
            "chance_accuracy": chance,
            "synaptic_efficiency": M.synaptic_efficiency(result["accuracy"], chance, synops_ps),
            "membrane_updates_per_sample": mem_updates / n_samples,
            "layer_silent_fractions": layer_silent,
        }
    )
    if details:
        result["neuron_rates"] = [float(r) for r in rates]
        result["raster"] = raster
    return result


def evaluate_run(
    model: SpikingNet,
    data: dict[str, np.ndarray],
    spec: dict,
    metric_cfg: dict,
    device: torch.device | str = "cpu",
) -> dict:
    """Validation and test metrics of one trained run: ``{"val": {...}, "test": {...}}``.

    Validation metrics exist so that every choice downstream (lambda, operating point, best cell)
    can be made without the test split; both splits are encoded with the same fixed seed.
    """
    from .data import is_static

    static = is_static(data)
    out = {}
    for split, details in (("val", False), ("test", True)):
        x, y = data[f"x_{split}"], data[f"y_{split}"]
        if len(x) == 0:
            continue
        out[split] = evaluate_model(
            model, x, y, spec["encoding"], metric_cfg, static, device=device, details=details
        )
    return out
