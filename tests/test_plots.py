"""Every registered figure renders from a tiny hand-made table set, and renders a note (no crash)
when its data is missing; parametrized over the figure registry, so a new figure is covered
without editing this file. Also: the registry is consistent, and log axes carry tick labels."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from jinja2 import Environment

from spikesparse.study import paths
from spikesparse.study.analysis import metric_catalog
from spikesparse.study.analysis.aggregation import plane_table, summary_table
from spikesparse.study.report import plots
from spikesparse.study.report.figure_registry import (
    FIGURE_TITLES,
    FIGURES,
    figure_path,
    markdown_table,
    write_caption_template,
)

# (study, experiment, dataset, family, method, regularizer, lambdas, extra cfg columns)
SETTINGS = [
    ("e1", "e1", "anomaly", "baseline", "baseline", "none", [0.0], {}),
    ("e1", "e1", "anomaly", "homeostatic_l2", "homeostatic_l2", "homeostatic_l2", [0.1, 1.0],
     {"cfg.regularizer.target_rate": 0.05, "cfg.regularizer.scope": "neuron"}),
    ("e1", "e1", "anomaly", "hard_constraint", "refractory", "none", [0.0], {}),
    ("e2", "e2_digits", "digits", "baseline", "baseline", "none", [0.0], {}),
    ("e2", "e2_digits", "digits", "spike_count", "spike_count", "spike_count", [0.1, 1.0], {}),
    ("e3", "e3_d2_w8", "digits", "baseline", "baseline", "none", [0.0], {"cfg.model.hidden": "8,8"}),
    ("e3", "e3_d2_w8", "digits", "first_spike", "first_spike_two_phase", "first_spike", [0.1],
     {"cfg.model.hidden": "8,8"}),
    ("e3", "e3_d2_w8", "digits", "spike_count", "spike_count", "spike_count", [1.0],
     {"cfg.model.hidden": "8,8"}),
    ("e3", "e3_d4_w8", "digits", "baseline", "baseline", "none", [0.0], {"cfg.model.hidden": "8,8,8,8"}),
]  # fmt: skip
# An E1 regime map over two cells (encoding gain 1 and 2): baseline and homeostatic L2 in both scopes.
for gain in (1, 2):
    cell = {
        "cfg.regime.map": "e1map",
        "cfg.regime.knobs": "encoding.gain,model.init_scale",
        "cfg.encoding.gain": float(gain),
        "cfg.model.init_scale": 1.0,
        "cfg.regularizer.target_rate": 0.05,
    }
    exp = f"e1map_g{gain}_s1"
    SETTINGS += [
        ("e1", exp, "anomaly", "baseline", "baseline", "none", [0.0], cell),
        ("e1", exp, "anomaly", "homeostatic_l2", "homeostatic_l2", "homeostatic_l2", [0.1],
         {**cell, "cfg.regularizer.scope": "neuron"}),
        ("e1", exp, "anomaly", "homeostatic_l2", "homeostatic_l2_layer", "homeostatic_l2", [0.1],
         {**cell, "cfg.regularizer.scope": "layer"}),
    ]  # fmt: skip
SEEDS = (0, 1, 2)


def _metrics(rng: np.random.Generator, n_layers: int) -> dict:
    """One value per catalog metric on each split, and the per-layer columns."""
    row = {}
    for m in metric_catalog.METRICS:
        for split in ("test", "val"):
            row[m.column(split)] = float(rng.uniform(0.05, 0.9))
            if m.layer_column and split == "test":
                for i in range(n_layers):
                    row[f"{m.layer_column}{i}"] = float(rng.uniform(0.05, 0.9))
    for split in ("", "val_"):
        row[f"{split}spikes_per_sample"] = float(rng.uniform(50, 500))
        row[f"{split}synops_per_sample"] = float(rng.uniform(2000, 5000))  # less than a decade
        row[f"{split}energy_pj_per_sample"] = float(rng.uniform(2000, 5000))
        row[f"{split}ann_energy_pj_per_sample"] = 40000.0
        row[f"{split}any_layer_silent"] = 0
        row[f"{split}chance_accuracy"] = 0.1
    row["train_accuracy"] = float(rng.uniform(0.5, 1.0))
    return row


def _runs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for study, exp, dataset, family, method, reg, lams, cfg in SETTINGS:
        n_layers = str(cfg.get("cfg.model.hidden", "8")).count(",") + 1
        for lam in lams:
            for seed in SEEDS:
                keys = {"study": study, "experiment": exp, "dataset": dataset, "family": family,
                        "method": method, "regularizer": reg, "lam": lam, "seed": seed}  # fmt: skip
                rows.append({**keys, "status": "ok", "val_status": "ok", **_metrics(rng, n_layers), **cfg})
    runs = pd.DataFrame(rows)
    # one diverged run (NaN metrics) and one with a silent layer, as real studies have
    diverged = (runs["method"] == "spike_count") & (runs["lam"] == 1.0) & (runs["seed"] == 2)
    metric_cols = [c for c in runs if c in _metrics(rng, 4)]
    runs.loc[diverged, metric_cols] = np.nan
    runs.loc[diverged, ["status", "val_status"]] = "diverged"
    off = (runs["experiment"] == "e3_d2_w8") & (runs["method"] == "spike_count") & (runs["seed"] == 0)
    runs.loc[off, ["status", "val_status", "any_layer_silent", "silent_layer1"]] = ["layer_silent"] * 2 + [
        1,
        1.0,
    ]
    return runs


def _history(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in runs.iterrows():
        for epoch in (1, 2, 3):
            rows.append(
                {
                    **r[["experiment", "study", "method", "regularizer", "lam", "seed", "status"]].to_dict(),
                    "epoch": epoch,
                    "loss": 1.0 / epoch,
                    "rate": 0.1 * epoch,
                    "silent_fraction": 0.1,
                    "val_accuracy": 0.3 * epoch,
                    "reg_weight": r["lam"] if epoch >= 2 else 0.0,
                }
            )
    return pd.DataFrame(rows)


def _per_run(runs: pd.DataFrame, make) -> pd.DataFrame:
    keys = ["experiment", "method", "regularizer", "lam", "seed", "study"]
    return pd.DataFrame([{**r[keys].to_dict(), **extra} for _, r in runs.iterrows() for extra in make(r)])


def _conversion() -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        for norm in ("max", "percentile"):
            for alpha in (0.0, 0.5):
                for t in (8, 16, 32):
                    for split in ("val", "test"):
                        acc = 0.5 + 0.01 * t + (0.02 if alpha else 0.0) + 0.01 * seed
                        rows.append({"study": "e4", "experiment": "e4_digits", "dataset": "digits",
                                     "seed": seed, "normalization": norm, "alpha": alpha, "time_steps": t,
                                     "split": split, "accuracy": acc, "hidden_rate": 0.1,
                                     "spikes_per_sample": 10.0 * t, "synops_per_sample": 300.0 * t,
                                     "energy_pj_per_sample": 270.0 * t, "ann_energy_pj_per_sample": 40000.0,
                                     "synaptic_efficiency": 1.0, "ann_accuracy": 0.95, "config_hash": "h",
                                     "l4_selected": alpha == 0.5})  # fmt: skip
    return pd.DataFrame(rows)


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Every aggregated table (``paths.AGGREGATE_TABLES``), a few rows each, from hand-made runs."""
    runs = _runs()
    summary = summary_table(runs)
    conversion = _conversion()
    neurons = _per_run(
        runs, lambda r: [{"status": r["status"], "neuron": i, "rate": i / 5} for i in range(4)]
    )
    rasters = _per_run(runs, lambda r: [{"n_steps": 9, "layer": 0, "step": s, "neuron": s} for s in range(5)])
    tables = {
        "runs": runs,
        "history": _history(runs),
        "neurons": neurons,
        "rasters": rasters,
        "summary": summary,
        "conversion": conversion,
        "plane": plane_table(summary, conversion),
    }
    assert set(tables) == set(paths.AGGREGATE_TABLES)
    return tables


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return tiny_tables()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    plt.close(fig)
    return buf.getvalue()


def _is_note(fig) -> bool:
    return not any(ax.axison for ax in fig.axes)


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_registered_figure_renders_from_tiny_tables(name, tables):
    fig = plots.DRAWERS[name](tables)
    assert not _is_note(fig), f"{name} drew a note from a table set that has its data"
    assert any(ax.has_data() or ax.images for ax in fig.axes)
    assert _png(fig).startswith(b"\x89PNG")


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_registered_figure_renders_a_note_without_its_data(name, tables):
    empty = {k: v.iloc[0:0] for k, v in tables.items()}  # headers only: a config without the study
    fig = plots.DRAWERS[name](empty)
    assert _is_note(fig) and any(ax.texts for ax in fig.axes), name
    assert _png(fig).startswith(b"\x89PNG")


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_registered_figure_survives_tables_without_its_study(name, tables):
    study = FIGURES[name].study
    others = {k: v[v["study"] != study] if "study" in v else v for k, v in tables.items()}
    _png(plots.DRAWERS[name](others))


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_registered_figure_is_the_same_picture_whatever_numpys_global_state(name, tables):
    """Same tables, same figure: nothing drawn may depend on numpy's global generator (seaborn's
    strip-plot jitter draws from it), and drawing leaves that generator where it was."""
    pictures = []
    for seed in (1, 2):
        np.random.seed(seed)
        before = np.random.get_state()[1].copy()
        pictures.append(_png(plots.DRAWERS[name](tables)))
        assert np.array_equal(np.random.get_state()[1], before), f"{name} moved numpy's global generator"
    assert pictures[0] == pictures[1], f"{name} differs with numpy's global random state"


def test_registry_is_the_one_list_of_figures(tmp_path):
    assert list(FIGURE_TITLES) == list(FIGURES) == list(plots.DRAWERS)
    for name, fig in FIGURES.items():
        assert FIGURE_TITLES[name] == fig.title
        assert figure_path(name) == f"{paths.FIGURES_DIR}/{name}.png"
        assert callable(getattr(plots, fig.draw)), f"{name}: plots.{fig.draw} missing"
        assert set(fig.tables) <= set(paths.AGGREGATE_TABLES), name
        assert fig.caption and fig.reading and fig.title
    # One caption template for the per-figure jobs of the `figures` rule, rendered as Snakemake
    # renders a report caption: with the job's wildcards.
    template = Path(write_caption_template(tmp_path / "captions")).read_text()
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    for name in FIGURES:
        snakemake = SimpleNamespace(wildcards=SimpleNamespace(figure=name))
        assert env.from_string(template).render(snakemake=snakemake).strip() == FIGURES[name].caption
    table = markdown_table()
    assert all(f"| `{name}` |" in table for name in FIGURES)


def test_e5_pareto_synops_log_axis_has_tick_labels(tables):
    """The plane's SynOps span less than a decade here: the log axis must still be labelled."""
    fig = plots.DRAWERS["e5_pareto_synops"](tables)
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        lo, hi = ax.get_xlim()
        shown = [
            t.get_text() for t in ax.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi
        ]
        assert len(shown) >= 2, f"{ax.get_title()}: log x axis without tick labels"
    plt.close(fig)


def test_log_axis_over_many_decades_keeps_decade_labels():
    fig, ax = plt.subplots()
    ax.scatter([1e1, 1e6], [0, 1])
    plots._log_x(ax)
    fig.canvas.draw()
    assert sum(bool(t.get_text()) for t in ax.get_xticklabels()) >= 2
    plt.close(fig)


def test_axis_labels_come_from_the_metric_catalog(tables):
    fig = plots.DRAWERS["e1_accuracy_vs_rate"](tables)
    ax = fig.axes[0]
    assert ax.get_xlabel() == metric_catalog.axis_label("hidden_rate")
    assert ax.get_ylabel() == metric_catalog.axis_label("accuracy") == "test accuracy"
    plt.close(fig)


def test_accuracy_vs_rate_means_take_the_runs_usable_on_validation():
    """The figure's means are the tables' (records.usable_runs, on validation): a run silent on
    validation but ok on test is a grey cross, a saturated run enters the mean."""
    runs = pd.DataFrame(
        {
            "study": "e1",
            "method": "baseline",
            "lam": 0.0,
            "hidden_rate": [0.1, 0.3, 0.9],
            "accuracy": [0.8, 0.6, 0.2],
            "status": ["ok", "saturated", "ok"],
            "val_status": ["ok", "saturated", "silent"],
        }
    )
    fig = plots.accuracy_vs_rate(runs)
    ax = fig.axes[0]
    from matplotlib.collections import PathCollection

    means, crosses = [c for c in ax.collections if isinstance(c, PathCollection)]  # the two scatters
    assert np.allclose(means.get_offsets(), [[0.2, 0.7]])  # runs 0 and 1
    assert np.allclose(crosses.get_offsets(), [[0.9, 0.2]])  # run 2
    assert "not usable on validation (1 runs)" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
