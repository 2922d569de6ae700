"""Every metric a run reports, declared once: name, definition, unit, direction, NeuroBench name.

Each entry also says how its value follows from what one pass over a split counted
(``compute``: a function of ``split_counts.SplitCounts``; the counting itself and the per-quantity
functions live in ``evaluation`` and ``metrics``). Everything that names or computes a run metric
reads it from here: the metric values an evaluation produces (``evaluation.catalog_metrics``), the
keys it must produce (``evaluation.SCALAR_METRICS``), the per-layer lists that become one
column per layer (``aggregation.LAYER_LISTS``), the columns summarized over seeds and the E5
plane's columns (``aggregation.SUMMARY_METRICS`` / ``PLANE_METRICS``), the figures' axis labels
(``axis_label``), the notebook's default summary columns and docs/study/methods.md's metric table
(``markdown_table``; ``tests/test_readme.py`` checks that docs/study/methods.md holds it).

Adding a metric: one ``Metric`` entry below (with its ``compute``) and a test of its value; the
catalog tests check that it reaches the run record, the runs table and, where flagged, the
summary. Only a metric that needs a count the evaluation does not yet take also touches
``evaluation.evaluate_model``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..split_counts import SplitCounts

BETTER = ("higher", "lower", "none")
SPLITS = {"test": "", "val": "val_", "train": "train_"}  # split -> column prefix in runs.csv


@dataclass(frozen=True)
class Metric:
    """One scalar run metric (a column of ``runs.csv``; ``val_<name>`` on validation).

    ``layer_key``/``layer_column``: the run record's per-layer list of the same quantity and the
    prefix of its runs-table columns (``rate_layer0``, ``rate_layer1``, ...). ``summary``: the
    splits whose column is summarized over seeds in ``summary.csv`` (``train`` reads the last
    epoch of the history). ``plane``: a column of the E5 plane (``plane.csv``). ``converted``: a
    column of the E4 conversion rows too, computed by the same ``compute`` from what an IF
    simulation counted (``split_counts.ConversionCounts``, which has the attributes such a metric
    reads); every plane metric is one. ``compute``: the
    value from a split's counts (``None`` where the metric does not apply to the task);
    ``layer_compute``: the per-layer list, for a metric with ``layer_key``.
    """

    name: str
    definition: str
    unit: str
    better: str
    label: str
    neurobench: str | None = None
    layer_key: str | None = None
    layer_column: str | None = None
    summary: tuple[str, ...] = ()
    plane: bool = False
    converted: bool = False
    compute: Callable[[SplitCounts], float | int | None] | None = None
    layer_compute: Callable[[SplitCounts], list[float]] | None = None

    def __post_init__(self) -> None:
        if self.better not in BETTER:
            raise ValueError(f"metric {self.name!r}: better must be one of {BETTER}, got {self.better!r}")
        if (self.layer_key is None) != (self.layer_column is None):
            raise ValueError(f"metric {self.name!r}: give both layer_key and layer_column or neither")
        unknown = set(self.summary) - set(SPLITS)
        if unknown:
            raise ValueError(f"metric {self.name!r}: unknown summary split(s) {sorted(unknown)}")
        if self.compute is None:
            raise ValueError(f"metric {self.name!r}: give compute (its value from a split's counts)")
        if (self.layer_key is None) != (self.layer_compute is None):
            raise ValueError(f"metric {self.name!r}: give layer_compute exactly when layer_key is given")
        if self.plane and not self.converted:
            raise ValueError(
                f"metric {self.name!r}: a plane metric must also be converted=True (the E5 plane "
                "puts trained and converted settings on the same axes)"
            )

    def column(self, split: str = "test") -> str:
        """The runs-table column of this metric on ``split`` (``test``: no prefix)."""
        return f"{SPLITS[split]}{self.name}"


def _m():
    """``spikesparse.metrics``, imported on first use: naming a metric (README, figures) needs no torch."""
    from ... import metrics

    return metrics


def _binary(c: SplitCounts) -> bool:
    return c.n_classes == 2


def _per_sample(total: float, c: SplitCounts) -> float:
    return total / c.n_samples


# In the order the run record and the runs table carry them.
METRICS: tuple[Metric, ...] = (
    Metric(
        "accuracy",
        "share of samples whose class (argmax of the time-mean readout membrane) is the label",
        "fraction",
        "higher",
        "accuracy",
        "classification accuracy",
        summary=("test", "val", "train"),
        plane=True,
        converted=True,
        compute=lambda c: c.accuracy,
    ),
    Metric(
        "f1",
        "F1 score of the anomaly class (binary tasks only; NaN otherwise)",
        "—",
        "higher",
        "F1 (anomaly class)",
        compute=lambda c: _m().f1_score(c.pred, c.y) if _binary(c) else None,
    ),
    Metric(
        "auroc",
        "area under the ROC curve of the anomaly probability (binary tasks only)",
        "—",
        "higher",
        "AUROC",
        compute=lambda c: _m().auroc(c.score, c.y) if _binary(c) else None,
    ),
    Metric(
        "hidden_rate",
        "`Σ s / (B · N · T)` over every hidden layer (per layer: that layer's neurons)",
        "spikes / neuron / step",
        "lower",
        "hidden firing rate",
        layer_key="layer_rates",
        layer_column="rate_layer",
        summary=("test", "val"),
        plane=True,
        converted=True,
        compute=lambda c: float(c.all_counts.sum() / (len(c.all_counts) * c.n_steps * c.n_samples)),
        layer_compute=lambda c: [float(n.sum() / (len(n) * c.n_steps * c.n_samples)) for n in c.counts],
    ),
    Metric(
        "input_rate",
        "`Σ s / (B · N_in · T)` of the encoded input spikes",
        "spikes / neuron / step",
        "none",
        "input firing rate",
        compute=lambda c: float(c.in_counts.sum() / (len(c.in_counts) * c.n_steps * c.n_samples)),
    ),
    Metric(
        "silent_fraction",
        "hidden neurons with no spike on the whole split (per layer: that layer's)",
        "fraction",
        "lower",
        "silent neuron fraction",
        layer_key="layer_silent_fractions",
        layer_column="silent_layer",
        summary=("test",),
        compute=lambda c: _m().silent_fraction(c.all_counts),
        layer_compute=lambda c: c.layer_silent,
    ),
    Metric(
        "silent_fraction_per_sample",
        "hidden neurons with no spike on a sample, mean over samples: `1 − active_fraction`",
        "fraction",
        "lower",
        "silent neuron fraction per sample",
        compute=lambda c: (sum(c.sizes) * c.n_samples - sum(c.active)) / (sum(c.sizes) * c.n_samples),
    ),
    Metric(
        "saturated_fraction",
        "hidden neurons with rate ≥ `metrics.saturation_rate`",
        "fraction",
        "lower",
        "saturated neuron fraction",
        summary=("test",),
        compute=lambda c: _m().saturated_fraction(c.rates, c.metric_cfg.saturation_rate),
    ),
    Metric(
        "spikes_per_sample",
        "hidden spikes per sample (input spikes not included)",
        "spikes",
        "lower",
        "hidden spikes per sample",
        summary=("test",),
        plane=True,
        converted=True,
        compute=lambda c: _per_sample(float(c.all_counts.sum()), c),
    ),
    Metric(
        "input_spikes_per_sample",
        "encoded input spikes per sample",
        "spikes",
        "none",
        "input spikes per sample",
        converted=True,
        compute=lambda c: _per_sample(float(c.in_counts.sum()), c),
    ),
    Metric(
        "synops_per_sample",
        "Σ over presynaptic spikes × fan-out: input→hidden, hidden→hidden (recurrent; the last step's "
        "spikes are never fed back), hidden→readout",
        "ops",
        "lower",
        "SynOps per sample",
        summary=("test", "val"),
        plane=True,
        converted=True,
        compute=lambda c: c.synops_per_sample,
    ),
    Metric(
        "effective_acs_per_sample",
        "nonzero spike × nonzero weight pairs (zero weights skipped)",
        "ops",
        "lower",
        "effective ACs per sample",
        "Effective ACs",
        summary=("test",),
        converted=True,
        compute=lambda c: c.effective_acs_per_sample,
    ),
    Metric(
        "effective_macs_per_sample",
        "analog-input first-layer nonzero input × nonzero weight pairs (0 with spike input)",
        "ops",
        "lower",
        "effective MACs per sample",
        "Effective MACs",
        compute=lambda c: c.analog_macs_per_sample,
    ),
    Metric(
        "dense_ops_per_sample",
        "Σ layers T × fan-in × fan-out, recurrent included",
        "ops",
        "none",
        "dense ops per sample",
        "Dense",
        compute=lambda c: c.dense_ops,
    ),
    Metric(
        "activity_ratio",
        "SynOps / dense ops",
        "—",
        "lower",
        "activity ratio (SynOps / dense ops)",
        compute=lambda c: c.synops_per_sample / c.dense_ops,
    ),
    Metric(
        "activation_sparsity",
        "zero activations / all activations of the spiking layers (the readout emits no spikes here, "
        "so only hidden layers)",
        "fraction",
        "higher",
        "activation sparsity",
        "Activation sparsity",
        summary=("test",),
        compute=lambda c: c.zero_acts / c.all_acts,
    ),
    Metric(
        "energy_pj_per_sample",
        "SynOps × E_AC + analog MACs × E_MAC; memory access not counted",
        "pJ",
        "lower",
        "energy per sample",
        summary=("test",),
        plane=True,
        converted=True,
        compute=lambda c: _m().energy_pj(
            c.synops_per_sample, c.analog_macs_per_sample, c.metric_cfg.e_ac_pj, c.metric_cfg.e_mac_pj
        ),
    ),
    Metric(
        "ann_energy_pj_per_sample",
        "`ann_macs_per_sample` × E_MAC (the same network as an ANN)",
        "pJ",
        "none",
        "equivalent ANN energy per sample",
        summary=("test",),
        plane=True,
        converted=True,
        compute=lambda c: c.ann_macs * c.metric_cfg.e_mac_pj,
    ),
    Metric(
        "chance_accuracy",
        "share of the split's majority class",
        "fraction",
        "none",
        "chance accuracy",
        converted=True,
        compute=lambda c: c.chance,
    ),
    Metric(
        "synaptic_efficiency",
        "`((acc − chance)/(1 − chance)) / (SynOps per sample / 1e6)`, chance = majority-class rate; our "
        "formula for the metric seed 000 names",
        "skill per M SynOps",
        "higher",
        "synaptic efficiency",
        summary=("test",),
        plane=True,
        converted=True,
        compute=lambda c: _m().synaptic_efficiency(c.accuracy, c.chance, c.synops_per_sample),
    ),
    Metric(
        "membrane_updates_per_sample",
        "per neuron layer, readout included: every neuron at the first step, then each neuron whose "
        "membrane changed since the previous step",
        "updates",
        "lower",
        "membrane updates per sample",
        "Membrane updates",
        summary=("test",),
        compute=lambda c: _per_sample(c.mem_updates, c),
    ),
    Metric(
        "active_fraction",
        "neurons with ≥ 1 spike on a sample, mean over samples (per layer: that layer's); the second "
        'reading of "x % of neurons firing"',
        "fraction",
        "lower",
        "active neuron fraction",
        layer_key="layer_active_fractions",
        layer_column="active_layer",
        summary=("test",),
        compute=lambda c: sum(c.active) / (sum(c.sizes) * c.n_samples),
        layer_compute=lambda c: [a / (n * c.n_samples) for a, n in zip(c.active, c.sizes, strict=True)],
    ),
    Metric(
        "any_layer_silent",
        "1 if some hidden layer has no spike on the whole split, else 0",
        "flag",
        "lower",
        "any hidden layer silent",
        compute=lambda c: int(any(f == 1.0 for f in c.layer_silent)),
    ),
    Metric(
        "ann_macs_per_sample",
        "one inference of the equivalent ANN (every synapse once; static data once per input, a "
        "sequence once per step)",
        "ops",
        "none",
        "equivalent ANN MACs per sample",
        converted=True,
        compute=lambda c: c.ann_macs,
    ),
)

CATALOG: dict[str, Metric] = {m.name: m for m in METRICS}
if len(CATALOG) != len(METRICS):
    raise ValueError("metric names must be unique")


def names() -> tuple[str, ...]:
    """Every scalar metric name, in catalog order."""
    return tuple(CATALOG)


def get(name: str) -> Metric:
    """The metric ``name``, or a ``KeyError`` naming the known ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {sorted(CATALOG)}") from None


def layer_lists() -> dict[str, str]:
    """Run-record key of each per-layer list -> prefix of its one-column-per-layer runs-table columns."""
    return {m.layer_key: m.layer_column for m in METRICS if m.layer_key is not None}


def summary_columns() -> list[str]:
    """Runs-table columns summarized over seeds (``summary.csv``), accuracy first (it counts the seeds)."""
    return [m.column(split) for m in METRICS for split in m.summary]


def converted_metrics(counts) -> dict:
    """The catalog's metrics of one converted-net row (E4): every ``converted`` metric from an IF
    simulation's counts (``split_counts.ConversionCounts``), with its per-layer list."""
    out: dict = {}
    for metric in METRICS:
        if metric.converted:
            out[metric.name] = metric.compute(counts)
            if metric.layer_key is not None:
                out[metric.layer_key] = metric.layer_compute(counts)
    return out


def plane_metrics() -> list[str]:
    """Metrics of the E5 plane (every method, trained or converted, on one set of axes)."""
    return [m.name for m in METRICS if m.plane]


def axis_label(name: str, split: str | None = "test", unit: bool = True) -> str:
    """A figure's axis label for a metric (or a plane/summary column ``<metric>_mean``): split,
    label and unit, e.g. ``test hidden firing rate (spikes / neuron / step)``."""
    base = name.removesuffix("_mean")
    m = get(base)
    text = m.label if split is None else f"{split} {m.label}"
    if unit and m.unit not in ("—", "fraction", "flag"):
        text += f" ({m.unit})"
    if name != base:
        text += ", mean over seeds"
    return text


def _code(text: str) -> str:
    return text.replace("|", "/")


def markdown_table() -> str:
    """The metric table of docs/study/methods.md: one row per metric, from this catalog."""
    lines = [
        "| metric | definition | unit | better | NeuroBench | per layer |",
        "|---|---|---|---|---|---|",
    ]
    for m in METRICS:
        layer = f"`{m.layer_column}<i>`" if m.layer_column else ""
        cells = [f"`{m.name}`", m.definition, m.unit, m.better, m.neurobench or "", layer]
        lines.append("| " + " | ".join(_code(c) for c in cells) + " |")
    return "\n".join(lines)
