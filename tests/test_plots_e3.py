"""E3 figures on tiny hand-made tables: they draw what the tables hold, stay correct with several
E3 experiments (sizes), and show a "no data" panel on an empty table."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from spikesparse.study.report import figure_registry, plots

NEW = ("e3_rate_vs_size", "e3_switch_off")


def _runs() -> pd.DataFrame:
    rows = []
    sizes = {"e3_d2_w8": "8,8", "e3_d4_w8": "8,8,8,8", "e3_d2_w16": "16,16"}
    for exp, hidden in sizes.items():
        depth = hidden.count(",") + 1
        arms = [("baseline", "baseline", 0.0, False)]
        if exp == "e3_d2_w8":
            arms += [
                ("spike_count", "spike_count", 1.0, False),
                ("first_spike", "first_spike_single", 0.1, False),
                ("first_spike", "first_spike_two_phase", 0.1, True),
            ]
        for family, method, lam, two in arms:
            for seed in range(3):
                off = int(method == "spike_count" and seed < 2)
                row = {
                    "experiment": exp,
                    "study": "e3",
                    "family": family,
                    "method": method,
                    "regularizer": "none" if family == "baseline" else family,
                    "lam": lam,
                    "seed": seed,
                    "status": "layer_silent" if off else "ok",
                    "val_status": "layer_silent" if off else "ok",
                    "accuracy": 0.9 - 0.01 * depth,
                    "val_accuracy": 0.9,
                    "hidden_rate": 0.05 * depth + 0.01 * seed,
                    "spikes_per_sample": 100.0,
                    "any_layer_silent": off,
                    "cfg.model.hidden": hidden,
                    "cfg.regularizer.two_phase": two,
                }
                for i in range(depth):
                    row[f"silent_layer{i}"] = 1.0 if (off and i == 1) else 0.1
                rows.append(row)
    return pd.DataFrame(rows)


def _history(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in runs.iterrows():
        for epoch in (1, 2, 3):
            on = r["family"] != "baseline" and (epoch >= 2 or not r["cfg.regularizer.two_phase"])
            rows.append(
                {
                    "experiment": r["experiment"],
                    "study": "e3",
                    "method": r["method"],
                    "regularizer": r["regularizer"],
                    "lam": r["lam"],
                    "seed": r["seed"],
                    "epoch": epoch,
                    "val_accuracy": 0.3 * epoch,
                    "rate": 0.1,
                    "silent_fraction": 0.1,
                    "reg_weight": r["lam"] if on else 0.0,
                }
            )
    return pd.DataFrame(rows)


def _texts(fig) -> str:
    parts = [t.get_text() for ax in fig.axes for t in ax.texts]
    parts += [ax.get_title() for ax in fig.axes]
    parts += [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    return " ".join(parts)


def test_new_figures_are_registered_with_captions():
    for name in NEW:
        assert name in plots.DRAWERS and name in figure_registry.FIGURE_TITLES
        assert figure_registry.FIGURES[name].caption  # the report caption is written from the registry


def test_rate_vs_size_draws_one_line_per_width_over_depth():
    fig = plots.rate_vs_size(_runs())
    rate_ax = fig.axes[0]
    lines = {c.get_label(): c.lines[0] for c in rate_ax.containers}
    assert sorted(lines) == ["width 16 (n>=3)", "width 8 (n>=3)"]
    narrow = lines["width 8 (n>=3)"]
    assert list(narrow.get_xdata()) == [2.0, 4.0]
    # mean rate of width 8: depth 2 -> 0.11, depth 4 -> 0.21 (seeds add 0, .01, .02)
    assert list(narrow.get_ydata()) == pytest.approx([0.11, 0.21])
    acc = {c.get_label(): c.lines[0] for c in fig.axes[1].containers}
    assert list(acc["width 8 (n>=3)"].get_ydata()) == pytest.approx([0.88, 0.86])
    plt.close(fig)


def test_switch_off_share_counts_silent_layers_with_wilson_bars():
    fig = plots.switch_off_shares(_runs())
    assert len(fig.axes) == 1  # only e3_d2_w8 trains arms
    ax = fig.axes[0]
    shares = {}
    for container in ax.containers:
        label = container.get_label()
        shares[label] = float(np.atleast_1d(container.lines[0].get_ydata())[0])
    assert shares["spike_count"] == pytest.approx(2 / 3)
    assert shares["first_spike_single"] == 0.0
    assert "baseline (0/3)" in _texts(fig)
    plt.close(fig)


def test_existing_e3_figures_work_with_several_experiments(tmp_path):
    runs = _runs()
    for fig in (
        plots.pareto_panels(runs, "e3"),
        plots.silent_layers(runs, "e3"),
        plots.phase_switch(_history(runs), "e3"),
    ):
        assert len(fig.axes) >= 1
        plots.save(fig, str(tmp_path / "f.png"))
    fig = plots.silent_layers(runs, "e3")
    titles = {ax.get_title() for ax in fig.axes}
    assert {"e3_d2_w8", "e3_d4_w8", "e3_d2_w16"} <= titles
    plt.close(fig)


@pytest.mark.parametrize("name", NEW)
def test_new_figures_say_no_data_on_an_empty_table(name, tmp_path):
    empty = _runs().iloc[0:0]
    fig = plots.DRAWERS[name]({"runs": empty, "history": pd.DataFrame()})
    assert "no data" in _texts(fig)
    plots.save(fig, str(tmp_path / f"{name}.png"))
    assert "no data" in _texts(plots.DRAWERS[name]({"runs": pd.DataFrame(), "history": pd.DataFrame()}))
