"""What one pass of a model over a split counted (``SplitCounts``): the input of every metric.

Why its own module: every metric of ``metric_catalog`` is a function of these counts, and
``evaluation`` fills them; the catalog names the type without importing ``evaluation`` (which
imports the catalog) or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from .. import metrics as M
from .metric_config import MetricConfig


class _Predictions:
    """What a split's predictions give every kind of counts: accuracy and the chance level
    (the share of the most frequent class), from ``pred`` and ``y``."""

    pred: np.ndarray
    y: np.ndarray

    @cached_property
    def accuracy(self) -> float:
        return M.accuracy(self.pred, self.y)

    @cached_property
    def chance(self) -> float:
        return float(np.bincount(self.y).max() / len(self.y))


@dataclass
class SplitCounts(_Predictions):
    """What one pass of a model over a split counted, summed over its batches.

    Every metric of ``metric_catalog`` is a function of these counts (its ``compute``), so a new
    metric that reads them is one catalog entry. The properties below are the quantities several
    metrics share (the op counts walk the synaptic layers once, in the order spikes traverse them).
    """

    n_samples: int
    n_steps: int
    pred: np.ndarray  # predicted class per sample
    score: np.ndarray  # probability of the last class per sample (the anomaly class when binary)
    y: np.ndarray
    n_classes: int
    counts: list[torch.Tensor]  # per hidden layer: spikes per neuron over all steps and samples
    fed_back: list[torch.Tensor]  # the same without the last step (what recurrence sees)
    in_counts: torch.Tensor  # input spikes (or summed analog values) per input channel
    in_events: torch.Tensor  # per input channel: nonzero entries of the spike steps (metrics.spike_steps)
    nonzero_in: torch.Tensor  # per input channel: nonzero entries of the analog steps
    active: list[float]  # per hidden layer: neurons with >= 1 spike, summed over samples
    zero_acts: float
    all_acts: int
    mem_updates: float
    weights: dict[str, torch.Tensor]  # model.synapse_layers(), on the CPU
    recurrent: bool
    static_input: bool
    metric_cfg: MetricConfig
    # A layer-list model's op totals over the split (``metrics.layer_op_counts`` summed over its
    # synaptic layers: acs, macs, synops, dense), counted from each layer's real input; None for
    # ``SpikingNet``, whose counts below come from the per-neuron spike counts.
    layer_ops: dict | None = None

    @cached_property
    def all_counts(self) -> torch.Tensor:
        return torch.cat(self.counts)

    @property
    def sizes(self) -> list[int]:
        return [len(c) for c in self.counts]

    @cached_property
    def rates(self) -> torch.Tensor:
        """Per hidden neuron: spikes per step."""
        return self.all_counts / (self.n_steps * self.n_samples)

    @cached_property
    def layer_silent(self) -> list[float]:
        return [M.silent_fraction(c) for c in self.counts]

    @cached_property
    def _op_totals(self) -> tuple[float, float, int]:
        """(SynOps, effective ACs, dense ops) over the split. The input's steps of spikes make the
        first layer's ACs; its analog steps make MACs instead (NeuroBench: nonzero input x nonzero
        weight pairs, decided per step: ``metrics.spike_steps``)."""
        if self.layer_ops is not None:
            ops = self.layer_ops
            return ops["synops"], ops["acs"], int(ops["dense"]) // self.n_samples
        synops_total, eff_acs_total, dense_total = 0.0, 0.0, 0
        w, pre = self.weights, self.in_events  # the input's analog steps are MACs, not here
        for i in range(len(self.counts)):
            fc = w[f"fc{i}"]
            synops_total += M.synops(pre, fc.shape[0])
            eff_acs_total += M.effective_acs(pre, fc)
            dense_total += M.dense_ops(self.n_steps, fc)
            if self.recurrent:
                rec = w[f"rec{i}"]
                synops_total += M.synops(self.fed_back[i], rec.shape[0])
                eff_acs_total += M.effective_acs(self.fed_back[i], rec)
                dense_total += M.dense_ops(self.n_steps, rec)
            pre = self.counts[i]
        out = w["readout"]
        synops_total += M.synops(pre, out.shape[0])
        eff_acs_total += M.effective_acs(pre, out)
        dense_total += M.dense_ops(self.n_steps, out)
        return synops_total, eff_acs_total, dense_total

    @property
    def synops_per_sample(self) -> float:
        return self._op_totals[0] / self.n_samples

    @property
    def effective_acs_per_sample(self) -> float:
        return self._op_totals[1] / self.n_samples

    @property
    def dense_ops(self) -> int:
        return self._op_totals[2]

    @cached_property
    def analog_macs_per_sample(self) -> float:
        """NeuroBench effective MACs of the input's analog steps, counted once from their summed
        nonzero entries (0 for spike input)."""
        if self.layer_ops is not None:
            return self.layer_ops["macs"] / self.n_samples
        return M.effective_acs(self.nonzero_in, self.weights["fc0"]) / self.n_samples

    @property
    def ann_macs(self) -> int:
        """The equivalent ANN: every synapse once per input; a sequence task feeds it every step."""
        return self.dense_ops if not self.static_input else self.dense_ops // self.n_steps


@dataclass
class ConversionCounts(_Predictions):
    """What an IF simulation of a converted net counted on one split up to T steps: the input of
    E4's rows, which the catalog computes with the same ``compute`` as a trained run's metrics
    (``metric_catalog.converted_metrics``). It has the attributes those metrics read, with the
    converted net's meaning: ``counts`` per hidden layer (flattened), the Bernoulli input's
    ``in_counts``, the op totals of every synaptic layer (the output layer included), and the ANN's
    ``ann_macs`` per sample. The input is spikes, so no effective MACs."""

    n_samples: int
    n_steps: int
    pred: np.ndarray
    y: np.ndarray
    counts: list[torch.Tensor]
    in_counts: torch.Tensor
    synops_total: float
    acs_total: float
    ann_macs: int
    metric_cfg: MetricConfig
    analog_macs_per_sample: float = 0.0

    @cached_property
    def all_counts(self) -> torch.Tensor:
        return torch.cat(self.counts)

    @property
    def synops_per_sample(self) -> float:
        return self.synops_total / self.n_samples

    @property
    def effective_acs_per_sample(self) -> float:
        return self.acs_total / self.n_samples
