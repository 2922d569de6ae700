"""Every figure of the study, declared once: name, title, report caption, reading guide,
the ``plots`` function that draws it and the aggregated tables it reads.

Everything that lists figures derives from ``FIGURES``: ``plots.DRAWERS`` (name -> drawing
function), ``FIGURE_TITLES`` (name -> title) and ``figure_path`` (its file), the ``figures`` rule's
outputs and their report captions (``write_caption_template``, called when the workflow is parsed), the
notebook's figure list and docs/study/index.md's figure table (``markdown_table``; checked by
``tests/test_readme.py``). ``tests/test_plots.py`` renders every entry from tiny tables.

Adding a figure: a drawing function in ``plots`` (tables in, matplotlib figure out, a note figure
when its data is missing) and one ``Figure`` entry here.

This module imports nothing heavy (no matplotlib): the Snakefile reads it at parse time. The
drawing function is therefore named, and resolved in ``plots`` (``plots.DRAWERS``), which
imports this registry; the registry never imports ``plots``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths


@dataclass(frozen=True)
class Figure:
    """One figure: ``plots.<draw>(*tables, **kwargs)`` with the named aggregated tables
    (``paths.AGGREGATE_TABLES`` names) in ``tables`` order."""

    name: str
    title: str
    draw: str
    tables: tuple[str, ...]
    caption: str
    reading: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def study(self) -> str:
        """The study prefix of the name (``e1`` ... ``e5``): the report category and notebook section."""
        return self.name.split("_")[0]

    @property
    def file(self) -> str:
        """The figure's file name in the figures folder."""
        return f"{self.name}.png"


_FIGURES = (
    Figure(
        "e1_accuracy_vs_rate",
        "Accuracy against hidden firing rate, per method (E1)",
        draw="accuracy_vs_rate",
        tables=("runs",),
        kwargs={"study": "e1"},
        reading=(
            "test accuracy against mean hidden firing rate, one colour per method, one point per λ "
            "(marker size ~ log λ), error bars = SD over seeds, dashed = homeostatic target; runs not "
            "usable on validation (`val_status`) are grey crosses"
        ),
        caption=(
            "E1, recurrent LIF SNN on temporal anomaly detection. Test accuracy against the mean hidden "
            "firing rate (spikes per neuron per step). One colour per method, one point per lambda "
            "(marker size grows with log lambda), error bars are the standard deviation over seeds. The "
            "dashed line is the homeostatic target rate. Runs not usable on the validation split "
            "(``val_status`` diverged, silent or with a silent layer) are grey crosses and are left "
            "out of the means, as in the tables."
        ),
    ),
    Figure(
        "e1_rate_trajectories",
        "Hidden firing rate per epoch, per method, with the homeostatic target",
        draw="rate_trajectories",
        tables=("history", "runs"),
        kwargs={"study": "e1"},
        reading=(
            "hidden rate per epoch, one panel per method, one line per λ (band: 95 % CI), target in red: "
            "a line ending far above it is the soft penalty losing against the task"
        ),
        caption=(
            "E1: hidden firing rate during training, per epoch, one panel per method, one line per lambda "
            "(band: 95 % interval over seeds). The red dashed line is the homeostatic target: a line that "
            "ends far above it shows the soft penalty failing to hold the network at its target."
        ),
    ),
    Figure(
        "e1_rate_histograms",
        "Per-neuron firing-rate histograms per method (E1)",
        draw="rate_histograms",
        tables=("neurons", "runs"),
        kwargs={"study": "e1"},
        reading=(
            "per-neuron test-set rates, one panel per method: mass at 0 = silent neurons, beyond the "
            "dashed 0.9 = saturated"
        ),
        caption=(
            "E1. Histogram of every hidden neuron's test-set firing rate, all seeds pooled, one panel per "
            "method and one step line per lambda (log count axis). Silent neurons sit in the first bin at "
            "rate 0; neurons right of the dashed line (0.9, ``metrics.saturation_rate``) are saturated."
        ),
    ),
    Figure(
        "e1_synaptic_efficiency",
        "Synaptic efficiency per method (E1)",
        draw="synaptic_efficiency_bars",
        tables=("runs",),
        kwargs={"study": "e1"},
        reading="normalized skill per million SynOps per method and λ (95 % CI)",
        caption=(
            "E1. Synaptic efficiency per method and lambda: normalized skill ``(acc - chance) / (1 - "
            "chance)`` per million SynOps per sample (our definition; seed 000 names the quantity without "
            "a formula). Bars are means over seeds, whiskers 95 % confidence intervals."
        ),
    ),
    Figure(
        "e1_spike_rasters",
        "Spike raster of one test sample per method (E1)",
        draw="spike_rasters",
        tables=("rasters", "runs"),
        kwargs={"study": "e1"},
        reading="hidden spikes of one test sample per method (lowest seed, the method's best λ)",
        caption=(
            "E1. Hidden-layer spikes of the first test sample, one panel per method, for the lowest seed "
            "and the lambda with the method's best mean accuracy. A dense raster is a saturated network; "
            "an empty one is silent."
        ),
    ),
    Figure(
        "e1_regime_map",
        "Regime map: baseline and homeostatic rates and accuracy over two drive knobs (E1)",
        draw="regime_map",
        tables=("runs",),
        kwargs={"study": "e1"},
        reading=(
            "heatmaps over a regime map's two drive knobs: rows = test hidden rate, rate ÷ homeostatic "
            "target (log colour), test accuracy; columns = baseline, homeostatic L2 neuron scope, layer "
            "scope (each cell at its validation-best λ, printed)"
        ),
        caption=(
            "E1 regime map (``regime_maps`` in the config): the E1 network over a grid of two drive knobs "
            "(e.g. encoding gain on the x axis, weight-init scale ``model.init_scale`` on the y axis), "
            "each cell an experiment of its own trained with the unregularized baseline and homeostatic "
            "L2 toward the target rate in both scopes (``neuron``: every neuron pulled to the target; "
            "``layer``: only the layer mean). Columns: baseline, homeostatic L2 neuron scope, homeostatic "
            "L2 layer scope, each homeostatic cell at the lambda with the best mean *validation* accuracy "
            "in that cell (printed as λ). Rows: mean test hidden firing rate (spikes per neuron per "
            "step), that rate as a multiple of the target (log colour scale; 1 = on target, above 2 = the "
            "network settles well above it), and mean test accuracy. Every cell is the mean over seeds of "
            "usable runs (``n`` = runs); colour scales are shared within a row. A baseline cell at or "
            "below about twice the target leaves homeostatic L2 nothing to overshoot from; the dense "
            "cells are where the seed's overshoot claim can fail."
        ),
    ),
    Figure(
        "e2_pareto",
        "Accuracy against spikes per sample, spike-count loss sweep (E2)",
        draw="pareto_panels",
        tables=("runs",),
        kwargs={"study": "e2"},
        reading=(
            "accuracy against hidden spikes per sample through each λ sweep; the dotted step joins the "
            "non-dominated settings"
        ),
        caption=(
            "E2, deep feed-forward LIF SNN with rate coding (digits, MNIST-1D). Test accuracy against "
            "hidden spikes per sample; one line per method through its lambda sweep (error bars: SD over "
            "seeds). The dotted step joins the non-dominated settings (fewer spikes and higher accuracy)."
        ),
    ),
    Figure(
        "e2_reduction",
        "Spike reduction against accuracy drop, relative to the baseline (E2)",
        draw="reduction_curves",
        tables=("runs",),
        kwargs={"study": "e2"},
        reading=(
            "spike reduction vs the baseline against the accuracy drop, with the claim conditions (1 "
            "baseline SE, −1 point) dashed"
        ),
        caption=(
            "E2. Spike reduction relative to the unregularized baseline against the accuracy drop "
            "(points), one marker per lambda. The dashed lines mark one baseline standard error "
            "(iso-accuracy) and a one-point drop: the two conditions of the seed-002 claims in the claims "
            "table."
        ),
    ),
    Figure(
        "e3_pareto",
        "Accuracy against spikes per sample, first-spike penalty (E3)",
        draw="pareto_panels",
        tables=("runs",),
        kwargs={"study": "e3"},
        reading=(
            "accuracy against hidden spikes per sample through each λ sweep; the dotted step joins the "
            "non-dominated settings"
        ),
        caption=(
            "E3, deep latency-coded (time-to-first-spike input) LIF SNN on digits. Test accuracy against "
            "hidden spikes per sample for the baseline, single-phase and two-phase first-spike penalty."
        ),
    ),
    Figure(
        "e3_silent_layers",
        "Silent-neuron fraction per layer per method (E3)",
        draw="silent_layers",
        tables=("runs",),
        kwargs={"study": "e3"},
        reading=(
            "silent-neuron fraction per hidden layer, per method and λ: single-phase switching layers off "
            "shows here"
        ),
        caption=(
            "E3. Fraction of hidden neurons that never fire on the test set, per layer, for each method "
            "and lambda (mean over seeds, 95 % CI). Single-phase training at high lambda can switch "
            "layers off; two-phase training should not."
        ),
    ),
    Figure(
        "e3_phase_switch",
        "Training curves across the phase switch (E3)",
        draw="phase_switch",
        tables=("history",),
        kwargs={"study": "e3"},
        reading=(
            "validation accuracy, rate and silent fraction per epoch at each method's largest λ, one row "
            "per E3 size with arms; dashed = the phase switch"
        ),
        caption=(
            "E3. Validation accuracy, hidden firing rate and silent fraction per epoch for the baseline "
            "and for each first-spike method at its largest lambda; dashed lines mark the epoch where the "
            "penalty switched on (two-phase). Bands are 95 % CIs over seeds."
        ),
    ),
    Figure(
        "e3_rate_vs_size",
        "Baseline hidden rate and accuracy against depth and width (E3)",
        draw="rate_vs_size",
        tables=("runs",),
        kwargs={"study": "e3"},
        reading=(
            "baseline test hidden rate and test accuracy against depth, one line per width (95 % CI over "
            "seeds): claim 001a"
        ),
        caption=(
            "E3 (claim 001a). Baseline networks only, swept over depth (hidden layers) and width (neurons "
            "per layer): left, the test hidden rate (spikes per neuron per step); right, the test "
            "accuracy. Points are means over seeds, whiskers the 95 % t-interval; runs that diverged or "
            "have an entirely silent hidden layer are left out (n per line in the legend). The claim "
            "holds where the rate rises with size while accuracy does not."
        ),
    ),
    Figure(
        "e3_switch_off",
        "Share of runs with a silent hidden layer against lambda, per arm and size (E3)",
        draw="switch_off_shares",
        tables=("runs",),
        kwargs={"study": "e3"},
        reading=(
            "share of runs with an entirely silent hidden layer (test) against λ, per arm, one panel per "
            "size; Wilson 95 % bars, dashed = baseline: claims 001b, 001d"
        ),
        caption=(
            "E3 (claims 001b, 001d). Share of runs *switched off* (at least one hidden layer entirely "
            "silent on the test set) against lambda, one panel per network size that trains the arms, one "
            "line per arm (plain spike-count penalty, first-spike single-phase, two-phase variants); "
            "whiskers are Wilson 95 % score intervals, the dashed line the baseline's share. Every run "
            "that did not diverge counts. The spike-count λ sits on its own scale (in the default config "
            "T = 16 times the first-spike grid, the same weight per spike), so compare arms by their "
            "shares, not by their x positions."
        ),
    ),
    Figure(
        "e4_accuracy_vs_t",
        "Converted SNN accuracy against time steps per normalization (E4)",
        draw="conversion_curves",
        tables=("conversion",),
        kwargs={"y": "accuracy"},
        reading=(
            "converted-SNN accuracy against T, per normalization; solid α = 0, dashed L4 at the "
            "validation-chosen α; dotted = the ANN"
        ),
        caption=(
            "E4, ANN-to-SNN conversion. Test accuracy of the converted IF network against the number of "
            "time steps T, per normalization (layer-wise max, 99.9th percentile); solid: alpha = 0, "
            "dashed: L4 adjustment at the alpha chosen on the validation split for that T. Dotted: the "
            "ANN's accuracy."
        ),
    ),
    Figure(
        "e4_l4_gain",
        "Accuracy gain of the L4 adjustment over its baseline against time steps (E4)",
        draw="l4_gain",
        tables=("conversion",),
        kwargs={},
        reading="paired accuracy gain of L4 over α = 0 against T (95 % CI)",
        caption=(
            "E4. Paired accuracy gain (points) of the L4 adjustment over its unadjusted baseline, per "
            "normalization, against T; bands are 95 % CIs over seeds. The seed-003 claim row reports the "
            "largest mean gain."
        ),
    ),
    Figure(
        "e4_spikes_vs_t",
        "Spikes per sample against time steps (E4)",
        draw="conversion_curves",
        tables=("conversion",),
        kwargs={"y": "spikes_per_sample"},
        reading="hidden spikes per sample of the converted net against T",
        caption=(
            "E4. Hidden spikes per sample of the converted network against T, per normalization and variant."
        ),
    ),
    Figure(
        "e5_pareto_rate",
        "Every method: accuracy against hidden firing rate, Pareto front (E5)",
        draw="plane",
        tables=("plane",),
        kwargs={"x": "hidden_rate_mean"},
        reading=(
            "every setting of every method per dataset: accuracy against hidden rate, coloured by family, "
            "the Pareto front circled"
        ),
        caption=(
            "E5. Every method on one plane per dataset: mean test accuracy against mean hidden firing "
            "rate, one point per setting (trained: method and lambda; converted: normalization, variant "
            "and T), coloured by family. Circled points joined by the dotted step are the non-dominated "
            "set."
        ),
    ),
    Figure(
        "e5_pareto_synops",
        "Every method: accuracy against SynOps per sample, Pareto front (E5)",
        draw="plane",
        tables=("plane",),
        kwargs={"x": "synops_per_sample_mean", "logx": True},
        reading=(
            "every setting of every method per dataset: accuracy against SynOps per sample (log axis), "
            "coloured by family, the Pareto front circled"
        ),
        caption=(
            "E5. As the rate plane, with synaptic operations per sample (spikes x fan-out, recurrent "
            "included) on a log axis: the cost a neuromorphic chip pays."
        ),
    ),
    Figure(
        "e5_synaptic_efficiency",
        "Synaptic efficiency of every method (E5)",
        draw="plane_efficiency",
        tables=("plane",),
        kwargs={},
        reading="synaptic efficiency of every setting, per method and dataset",
        caption="E5. Synaptic efficiency of every setting of every method, per dataset (mean over seeds).",
    ),
    Figure(
        "e5_energy",
        "Energy estimate against the ANN's MAC energy (E5)",
        draw="plane_energy",
        tables=("plane",),
        kwargs={},
        reading="energy estimate per sample against accuracy; dashed = the equivalent ANN's MAC energy",
        caption=(
            "E5. Estimated energy per sample (SynOps x 0.9 pJ + analog first-layer MACs x 4.6 pJ; memory "
            "access not counted) against accuracy; dashed lines: the equivalent ANN's MACs x 4.6 pJ."
        ),
    ),
)

FIGURES: dict[str, Figure] = {f.name: f for f in _FIGURES}
if len(FIGURES) != len(_FIGURES):
    raise ValueError("figure names must be unique")

# Figures drawn by the `figures` rule: name -> title (the report caption's label and the
# notebook's heading).
FIGURE_TITLES = {name: fig.title for name, fig in FIGURES.items()}


def figure_path(name: str) -> str:
    """The file of the registered figure ``name`` (``KeyError`` for an unregistered one)."""
    return f"{paths.FIGURES_DIR}/{FIGURES[name].file}"


def caption_rst(fig: Figure) -> str:
    """The report caption of ``fig`` as reStructuredText (Snakemake renders it through Jinja)."""
    return fig.caption + "\n"


def caption_template() -> str:
    """One report caption for every figure: a Jinja template that Snakemake renders per figure
    file with its job's wildcards, giving the caption of ``snakemake.wildcards.figure``.

    The ``figures`` rule is one rule with a ``{figure}`` wildcard (one job per figure, drawn in
    parallel), and ``report(caption=...)`` takes one file per rule, so the file branches on the
    wildcard. Captions are plain reStructuredText (no Jinja syntax of their own)."""
    parts = []
    for i, fig in enumerate(FIGURES.values()):
        if "{{" in fig.caption or "{%" in fig.caption:
            raise ValueError(f"the caption of {fig.name} holds Jinja syntax")
        keyword = "if" if i == 0 else "elif"
        parts.append(f'{{% {keyword} snakemake.wildcards.figure == "{fig.name}" %}}\n{caption_rst(fig)}')
    return "".join(parts) + "{% endif %}\n"


def write_caption_template(folder: str | Path) -> str:
    """Write ``caption_template()`` to ``<folder>/figures.rst`` (only where the text changed) and
    return its absolute path: the ``figures`` rule calls it when the workflow is parsed."""
    path = Path(folder).resolve() / "figures.rst"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = caption_template()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return str(path)


def markdown_table() -> str:
    """docs/study/index.md's figure table: one row per figure, how to read it."""
    lines = ["| figure | how to read it |", "|---|---|"]
    lines += [f"| `{f.name}` | {f.reading} |" for f in FIGURES.values()]
    return "\n".join(lines)
