"""Test-set evaluation of a trained run: task metrics plus every sparsity and cost metric.

The test set is encoded with its own fixed seed (config ``metrics.eval_seed``), so every run of a
study sees the same input spikes and differences come from the networks alone.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import metrics as M
from ..models import ConvSpikingNet, SpikingNet
from .analysis import metric_catalog
from .encoding import shared_split_code
from .metric_config import MetricConfig
from .split_counts import SplitCounts

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


def catalog_metrics(counts: SplitCounts) -> dict:
    """Every catalog metric of a split (a metric that does not apply, e.g. F1 of a 10-class task,
    is left out), with the per-layer lists of the metrics that have them."""
    out: dict = {}
    for metric in metric_catalog.METRICS:
        value = metric.compute(counts)
        if value is not None:
            out[metric.name] = value
        if metric.layer_key is not None:
            out[metric.layer_key] = metric.layer_compute(counts)
    return out


@torch.no_grad()
def evaluate_model(
    model: SpikingNet,
    x_eval: np.ndarray,
    y_eval: np.ndarray,
    encoding: dict,
    metric_cfg: MetricConfig,
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
    metric_cfg = MetricConfig.of(metric_cfg)
    model.eval()
    device = torch.device(device)
    generator = torch.Generator().manual_seed(metric_cfg.eval_seed)
    code = shared_split_code(x_eval, encoding)
    counter = SplitCounter(model, details)
    for lo in range(0, len(code), batch_size):
        xb = code.batch(slice(lo, lo + batch_size), generator).to(device)
        counter.add(xb, model.traces(xb))
    counts = counter.split_counts(np.asarray(y_eval), static_input, metric_cfg)
    result: dict = {"n_samples": counts.n_samples, "n_steps": counts.n_steps, **catalog_metrics(counts)}
    if details:
        result["neuron_rates"] = [float(r) for r in counts.rates]
        result["raster"] = counter.raster
    return result


class SplitCounter:
    """Adds up, batch by batch, everything a split's ``SplitCounts`` holds: the one place a new
    count is taken (a field here, its update in ``add``, its entry in ``split_counts``; the
    metric that reads it is one catalog entry)."""

    def __init__(self, model: SpikingNet, details: bool = True) -> None:
        n_layers = len(model.layers)
        self.model, self.details = model, details
        self.n_samples, self.n_steps = 0, None
        self.preds: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.in_counts = None  # input spikes (or summed analog values) per input channel
        self.in_events = None  # per input channel: nonzero entries of the steps that are spikes
        self.nonzero_in = None  # per input channel: nonzero entries of the analog steps
        self.counts: list = [None] * n_layers  # per-neuron spikes over all steps
        self.fed_back: list = [None] * n_layers  # the same except the last step (what recurrence sees)
        self.active = [0.0] * n_layers  # neurons with >= 1 spike, summed over samples
        self.zero_acts, self.all_acts = 0.0, 0
        self.mem_updates = 0.0
        self.raster = None
        self.layer_ops = (
            {"acs": 0.0, "macs": 0.0, "synops": 0.0, "dense": 0.0}
            if isinstance(model, ConvSpikingNet)
            else None
        )

    def add(self, xb: torch.Tensor, out) -> None:
        """One batch: its encoded input ``xb`` ``[T, B, ...]`` and the model's traces of it."""
        self.n_samples += xb.shape[1]
        self.n_steps = xb.shape[0]
        # Which steps are spikes (their ops ACs) and which analog (MACs): NeuroBench's per-step rule,
        # as the layer-list models' counts apply it (metrics.layer_op_counts).
        spikes = M.spike_steps(xb)
        self.in_events = _add(self.in_events, M.nonzero_input_counts(xb[spikes].cpu()))
        self.nonzero_in = _add(self.nonzero_in, M.nonzero_input_counts(xb[~spikes].cpu()))
        probs = torch.softmax(out.readout_mem.mean(0), dim=1).cpu()
        self.preds.append(probs.argmax(1).numpy())
        self.scores.append(probs[:, -1].numpy())
        self.in_counts = _add(self.in_counts, xb.sum(dim=(0, 1)).double().cpu())
        for i, s in enumerate(out.hidden_spikes):
            self.counts[i] = _add(self.counts[i], s.sum(dim=(0, 1)).double().cpu())
            self.fed_back[i] = _add(self.fed_back[i], s[:-1].sum(dim=(0, 1)).double().cpu())
            self.active[i] += float(M.active_counts(s).sum())
            self.zero_acts += float((s == 0).sum())
            self.all_acts += s.numel()
        self.mem_updates += sum(M.membrane_updates(m) for m in [*out.hidden_mems, out.readout_mem])
        if self.layer_ops is not None:
            # The first layer is fed the encoder's output (NeuroBench's per-step rule decides AC
            # or MAC); every later layer is fed spikes, or spike counts after an average pool.
            for j, (_, layer, fed) in enumerate(self.model.synaptic_inputs(xb, out.hidden_spikes)):
                for key, value in M.layer_op_counts(layer, fed.cpu(), spikes=j > 0 or None).items():
                    self.layer_ops[key] += value
        if self.details and self.raster is None:
            self.raster = spike_raster([s[:, 0] for s in out.hidden_spikes])

    def split_counts(self, y: np.ndarray, static_input: bool, metric_cfg: MetricConfig) -> SplitCounts:
        """The totals as the catalog's input."""
        return SplitCounts(
            n_samples=self.n_samples,
            n_steps=self.n_steps,
            pred=np.concatenate(self.preds),
            score=np.concatenate(self.scores),
            y=y,
            n_classes=int(max(2, self.model.readout.out_features)),
            counts=self.counts,
            fed_back=self.fed_back,
            in_counts=self.in_counts,
            in_events=self.in_events,
            nonzero_in=self.nonzero_in,
            active=self.active,
            zero_acts=self.zero_acts,
            all_acts=self.all_acts,
            mem_updates=self.mem_updates,
            weights={name: w.detach().cpu() for name, w in self.model.synapse_layers()},
            recurrent=self.model.recurrent,
            static_input=static_input,
            metric_cfg=metric_cfg,
            layer_ops=self.layer_ops,
        )


def _add(total: torch.Tensor | None, value: torch.Tensor) -> torch.Tensor:
    return value if total is None else total + value


def evaluate_run(
    model: SpikingNet,
    data: dict[str, np.ndarray],
    spec: dict,
    metric_cfg: MetricConfig,
    device: torch.device | str = "cpu",
) -> dict:
    """Validation and test metrics of one trained run: ``{"val": {...}, "test": {...}}``.

    Validation metrics exist so that every choice downstream (lambda, operating point, best cell)
    can be made without the test split; both splits are encoded with the same fixed seed.
    Whether the data are static is the dataset's declared kind (``registry.dataset_is_static``
    on ``spec["dataset"]``), the rule config validation applied to the same spec.
    """
    from .registry import dataset_is_static

    static = dataset_is_static(spec["dataset"]["name"], spec["dataset"])
    out = {}
    for split, details in (("val", False), ("test", True)):
        x, y = data[f"x_{split}"], data[f"y_{split}"]
        if len(x) == 0:
            continue
        out[split] = evaluate_model(
            model, x, y, spec["encoding"], metric_cfg, static, device=device, details=details
        )
    return out
