"""Figures, drawn from the tidy tables only (never from models or training code).

Every figure is a function of the dict of tables (``read_tables``) and returns a matplotlib
figure; a study whose config lacks an experiment gets a figure saying so instead of an error, so
small configs still produce every file the report lists.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.colors
import matplotlib.patheffects
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .. import paths  # noqa: E402
from ..analysis.aggregation import conversion_variants, target_rate  # noqa: E402
from ..analysis.metric_catalog import axis_label  # noqa: E402
from ..analysis.stats import grouped_mean_interval, mean_interval, pareto_mask  # noqa: E402
from .figure_registry import FIGURES as _REGISTRY  # noqa: E402
from .figure_registry import Figure  # noqa: E402

sns.set_theme(context="paper", style="whitegrid")


def read_tables(folder: str, names=None) -> dict[str, pd.DataFrame]:
    """The aggregated tables by name (``paths.AGGREGATE_TABLES``) from ``folder``: every one, or
    only ``names`` (a figure job reads just its own; the raster table alone is tens of MB)."""
    wanted = paths.AGGREGATE_TABLES if names is None else {n: paths.AGGREGATE_TABLES[n] for n in names}
    # .copy(): read_csv leaves one block per column; consolidated, the figures' .assign calls
    # stay fast (and pandas stops warning about a fragmented frame).
    return {name: pd.read_csv(Path(folder) / Path(path).name).copy() for name, path in wanted.items()}


def t_interval(values) -> tuple[float, float]:
    """Error bars of every seaborn mean drawn here: the two-sided 95 % t interval of the mean over
    seeds, the same interval as the tables and claims (``stats.mean_interval``). Why not seaborn's
    default bootstrap: it is a different interval from the tables' and costs 1000 resamples per
    point (the E3 phase-switch figure took 24 s to draw with it)."""
    r = mean_interval(values)
    return r["ci_low"], r["ci_high"]


def _mean_lines(ax, data: pd.DataFrame, x: str, y: str, hue: str, palette=None) -> None:
    """One line per ``hue`` level (in order of appearance): the mean of ``y`` over seeds at each
    ``x``, its 95 % t interval (``t_interval``) shaded, as ``sns.lineplot(..., errorbar=t_interval)``
    draws it. Why not seaborn: it computes the interval point by point through a pandas apply,
    about 0.5 ms a point, a second for the E3 phase-switch figure; here one grouped pass
    (``stats.grouped_mean_interval``)."""
    stats = grouped_mean_interval(data, [hue, x], y).sort_values(x, kind="stable")
    levels = list(pd.unique(data[hue]))
    for level, colour in zip(levels, sns.color_palette(palette, n_colors=len(levels)), strict=True):
        line = stats[stats[hue] == level]
        ax.plot(line[x], line["mean"], color=colour, label=str(level))
        ax.fill_between(line[x], line["ci_low"], line["ci_high"], color=colour, alpha=0.2, linewidth=0)
    ax.set_xlabel(x)
    ax.set_ylabel(y)


def _note(text: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return fig


def _grid(n: int, ncols: int = 4, size=(4.0, 3.2), sharey=True):
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False, sharey=sharey
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_axis_off()
    return fig, flat[:n]


def _lam_label(v: float) -> str:
    return f"{v:g}"


def _best_lambda(runs: pd.DataFrame, method: str) -> float:
    """The lambda of ``method`` with the best mean validation accuracy (the setting a user would
    pick without looking at the test split)."""
    sub = runs[runs["method"] == method]
    means = sub.groupby("lam")["val_accuracy"].mean()
    return float(means.idxmax()) if means.notna().any() else float(sub["lam"].iloc[0])


def _summary_points(runs: pd.DataFrame, x: str) -> pd.DataFrame:
    """Mean and SD over seeds of accuracy and ``x`` per method and lambda (runs with metrics)."""
    ok = runs[runs["accuracy"].notna()]
    out = (
        ok.groupby(["method", "lam"])
        .agg(acc=("accuracy", "mean"), acc_sd=("accuracy", "std"), x=(x, "mean"), x_sd=(x, "std"))
        .reset_index()
    )
    return out.fillna({"acc_sd": 0.0, "x_sd": 0.0})


def _palette(methods) -> dict:
    methods = sorted(set(methods))
    return dict(zip(methods, sns.color_palette("tab10", max(10, len(methods))), strict=False))


def _draw_front(ax, x, y, color="black", label="non-dominated") -> None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    mask = pareto_mask(x, y)
    if mask.any():
        order = np.argsort(x[mask])
        ax.step(
            x[mask][order], y[mask][order], where="post", color=color, lw=1, ls=":", label=label, zorder=1
        )


def _log_x(ax, base: int = 10) -> None:
    """A log x axis that always shows tick labels (call after drawing). Decades alone leave a
    range narrower than a decade without a labelled tick, so below two decades the ticks step
    1-2-5 and the view widens to the nearest such steps on either side of the data."""
    ax.set_xscale("log", base=base)
    lo, hi = ax.dataLim.intervalx
    if base != 10 or not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi) or hi / lo >= 100:
        return
    steps = [d * 10.0**k for k in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 2)
             for d in (1, 2, 5)]  # fmt: skip
    ax.set_xlim(max(v for v in steps if v <= lo) / 1.15, min(v for v in steps if v >= hi) * 1.15)
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    # label every 1-2-5 tick (the formatter's default thins labels on views under a decade)
    label_all = matplotlib.ticker.LogFormatterSciNotation(
        base=10, labelOnlyBase=False, minor_thresholds=(np.inf, np.inf)
    )
    ax.xaxis.set_major_formatter(label_all)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def accuracy_vs_rate(runs: pd.DataFrame, study: str = "e1") -> plt.Figure:
    """Mean accuracy against mean hidden firing rate per (method, lambda); error bars = SD over
    seeds; marker size grows with lambda. The means take the runs the tables take
    (``records.usable_runs``: usable on the validation split, so the test split selects nothing);
    the others are grey crosses."""
    from ..records import usable_runs

    df = runs[runs["study"] == study]
    if df.empty:
        return _note(f"{study}: no runs in this config")
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    ok = usable_runs(df)
    points = _summary_points(ok, "hidden_rate")
    palette = _palette(df["method"])
    lam_pos = points["lam"][points["lam"] > 0]
    lmin = lam_pos.min() if not lam_pos.empty else 1.0
    points["size"] = np.where(
        points["lam"] > 0, 40 + 30 * np.log10(points["lam"].clip(lower=lmin) / lmin), 30
    )
    for method, grp in points.groupby("method"):
        ax.errorbar(
            grp["x"],
            grp["acc"],
            xerr=grp["x_sd"],
            yerr=grp["acc_sd"],
            fmt="none",
            ecolor=palette[method],
            alpha=0.6,
            lw=1,
        )
        ax.scatter(
            grp["x"],
            grp["acc"],
            s=grp["size"],
            color=palette[method],
            label=method,
            edgecolor="black",
            linewidth=0.4,
            zorder=3,
        )
    bad = df.drop(index=ok.index)
    if not bad.empty:
        ax.scatter(
            bad["hidden_rate"].fillna(0),
            bad["accuracy"].fillna(0),
            marker="x",
            color="grey",
            label=f"not usable on validation ({len(bad)} runs)",
            zorder=2,
        )
    target = target_rate(df)
    if target is not None:
        ax.axvline(target, ls="--", color="black", lw=0.8, label="homeostatic target")
    ax.set_xlabel(axis_label("hidden_rate"))
    ax.set_ylabel(axis_label("accuracy"))
    ax.set_title(f"{study}: accuracy vs firing rate (marker size ~ log lambda; bars = SD over seeds)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def rate_trajectories(history: pd.DataFrame, runs: pd.DataFrame, study: str = "e1") -> plt.Figure:
    """Hidden firing rate per epoch, one panel per method, one line per lambda (band = 95 % CI
    over seeds), with the homeostatic target drawn."""
    df = history[history["study"] == study]
    methods = sorted(df["method"].unique())
    if not methods:
        return _note(f"{study}: no run completed an epoch")
    fig, axes = _grid(len(methods))
    target = target_rate(runs[runs["study"] == study])
    for ax, method in zip(axes, methods, strict=True):
        sub = df[df["method"] == method].assign(lam_label=lambda d: d["lam"].map(_lam_label))
        _mean_lines(ax, sub, "epoch", "rate", "lam_label", palette="viridis")
        if target is not None:
            ax.axhline(target, ls="--", color="red", lw=1, label=f"target {target:g}")
        ax.set_title(method)
        ax.set_ylabel("hidden firing rate")
        ax.legend(fontsize=7, title="lambda", title_fontsize=7)
    fig.tight_layout()
    return fig


def rate_histograms(neurons: pd.DataFrame, runs: pd.DataFrame, study: str = "e1") -> plt.Figure:
    """Per-neuron test-set firing rates (all seeds pooled), one panel per method and one step
    histogram per lambda; silent neurons sit at 0, saturated ones beyond the dashed line."""
    df = neurons[neurons["study"] == study]
    if df.empty:
        return _note(f"{study}: no neuron rates (no evaluated runs)")
    methods = sorted(df["method"].unique())
    fig, axes = _grid(len(methods))
    sat = runs.get("saturation_rate")
    for ax, method in zip(axes, methods, strict=True):
        sub = df[df["method"] == method].assign(lam_label=lambda d: d["lam"].map(_lam_label))
        sns.histplot(
            data=sub,
            x="rate",
            hue="lam_label",
            bins=np.linspace(0, 1, 41),
            stat="probability",
            common_norm=False,
            element="step",
            fill=False,
            ax=ax,
            palette="viridis",
        )
        ax.axvline(0.9 if sat is None else float(sat.iloc[0]), ls="--", color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(method)
        ax.set_xlabel("neuron firing rate (test set)")
    fig.tight_layout()
    return fig


def synaptic_efficiency_bars(runs: pd.DataFrame, study: str = "e1") -> plt.Figure:
    """Synaptic efficiency (normalized skill per million SynOps) per method and lambda; bars =
    mean over seeds, whiskers = 95 % CI."""
    df = runs[(runs["study"] == study) & runs["synaptic_efficiency"].notna()]
    if df.empty:
        return _note(f"{study}: no evaluated runs")
    df = df.assign(lam_label=df["lam"].map(_lam_label))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * df["method"].nunique() + 3), 4))
    sns.barplot(
        data=df,
        x="method",
        y="synaptic_efficiency",
        hue="lam_label",
        errorbar=t_interval,
        ax=ax,
        palette="viridis",
    )
    ax.set_ylabel(axis_label("synaptic_efficiency"))
    ax.set_title(f"{study}: synaptic efficiency per method")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=7, title="lambda", title_fontsize=7)
    fig.tight_layout()
    return fig


def spike_rasters(rasters: pd.DataFrame, runs: pd.DataFrame, study: str = "e1") -> plt.Figure:
    """Hidden spikes of the first test sample, one panel per method, for the lowest seed and the
    method's best-accuracy lambda."""
    df = runs[runs["study"] == study]
    if df.empty:
        return _note(f"{study}: no runs")
    methods = sorted(df["method"].unique())
    fig, axes = _grid(len(methods), size=(4.0, 3.0), sharey=False)
    seed = int(df["seed"].min())
    for ax, method in zip(axes, methods, strict=True):
        lam = _best_lambda(df, method)
        sub = rasters[
            (rasters["study"] == study)
            & (rasters["method"] == method)
            & (rasters["seed"] == seed)
            & np.isclose(rasters["lam"], lam)
        ]
        ax.scatter(sub["step"], sub["neuron"] + 1000 * sub["layer"], s=12, color="black", marker="|")
        if not sub.empty:
            ax.set_xlim(-0.5, float(sub["n_steps"].iloc[0]) - 0.5)
        ax.set_title(f"{method} (lambda={lam:g}, seed {seed}): {len(sub)} spikes", fontsize=8)
        ax.set_xlabel("time step")
        ax.set_ylabel("neuron (+1000 per layer)")
    fig.tight_layout()
    return fig


def _facets(
    frame: pd.DataFrame, key: str, draw, ncols: int = 3, size=(5.0, 4.0), title: str | None = None
) -> plt.Figure:
    """One panel per value of ``key`` (an experiment or a dataset), titled with it; ``draw(ax,
    rows)`` fills a panel; ``title`` over the figure, set before the one layout pass (each
    ``tight_layout`` measures every text of the figure: 0.15 s for the E3 silent-layer panels)."""
    values = sorted(frame[key].unique())
    fig, axes = _grid(len(values), ncols=ncols, size=size, sharey=False)
    for ax, value in zip(axes, values, strict=True):
        draw(ax, frame[frame[key] == value])
        ax.set_title(str(value))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if title is not None:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def pareto_panels(runs: pd.DataFrame, study: str, x: str = "spikes_per_sample") -> plt.Figure:
    """Accuracy against ``x`` per experiment of a study: one line per method through its lambda
    sweep (error bars = SD over seeds), the non-dominated settings joined by a dotted step."""
    df = runs[runs["study"] == study]
    if df.empty:
        return _note(f"{study}: no runs in this config")

    def draw(ax, sub):
        points = _summary_points(sub, x)
        palette = _palette(points["method"])
        for method, grp in points.groupby("method"):
            grp = grp.sort_values("x")
            ax.errorbar(grp["x"], grp["acc"], xerr=grp["x_sd"], yerr=grp["acc_sd"], marker="o", ms=4,
                        color=palette[method], label=method, lw=1, capsize=2)  # fmt: skip
        _draw_front(ax, points["x"], points["acc"])
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel(axis_label("accuracy"))

    return _facets(df, "experiment", draw)


def reduction_curves(runs: pd.DataFrame, study: str = "e2") -> plt.Figure:
    """Spike reduction (1 - spikes / baseline spikes) against accuracy drop (baseline - method,
    points), one line per regularized method through its lambdas; dashed: one baseline SE and
    the -1 point mark that define the claims' conditions."""

    df = runs[(runs["study"] == study) & runs["accuracy"].notna()]
    if df.empty or not (df["family"] == "baseline").any():
        return _note(f"{study}: needs baseline runs")

    def draw(ax, sub):
        base = sub[sub["family"] == "baseline"]
        b_acc = mean_interval(base["accuracy"])
        points = _summary_points(sub[sub["family"] != "baseline"], "spikes_per_sample")
        points["drop"] = 100 * (b_acc["mean"] - points["acc"])
        points["reduction"] = 100 * (1 - points["x"] / float(base["spikes_per_sample"].mean()))
        palette = _palette(points["method"])
        for method, grp in points.groupby("method"):
            grp = grp.sort_values("lam")
            ax.plot(grp["drop"], grp["reduction"], marker="o", color=palette[method], label=method)
        if np.isfinite(b_acc["se"]):
            ax.axvline(100 * b_acc["se"], ls="--", color="grey", lw=0.8, label="1 baseline SE")
        ax.axvline(1.0, ls="--", color="black", lw=0.8, label="-1 point")
        ax.set_xlabel("accuracy drop vs baseline (points)")
        ax.set_ylabel("spike reduction vs baseline (%)")

    return _facets(df, "experiment", draw)


def silent_layers(runs: pd.DataFrame, study: str = "e3") -> plt.Figure:
    """Fraction of silent hidden neurons per layer, per method and lambda (mean over seeds, 95 % CI)."""
    df = runs[(runs["study"] == study) & runs["accuracy"].notna()]
    cols = sorted(c for c in df.columns if c.startswith("silent_layer"))
    if df.empty or not cols:
        return _note(f"{study}: no evaluated runs")

    def draw(ax, sub):
        # One panel per experiment: sizes differ in depth, so layer i means different things.
        here = [c for c in cols if sub[c].notna().any()]
        long = sub.melt(
            id_vars=["method", "lam", "seed"], value_vars=here, var_name="layer", value_name="silent"
        )
        long["layer"] = long["layer"].str.replace("silent_layer", "layer ")
        long["setting"] = long["method"] + " " + long["lam"].map(_lam_label)
        sns.barplot(data=long, x="setting", y="silent", hue="layer", errorbar=t_interval, ax=ax)
        ax.set_ylabel(axis_label("silent_fraction"))
        ax.set_xlabel("method and lambda")
        ax.tick_params(axis="x", rotation=60)

    n_settings = df.groupby(["method", "lam"]).ngroups
    size = (max(5.0, 0.45 * n_settings + 3), 4.4)
    return _facets(df, "experiment", draw, ncols=2, size=size, title=f"{study}: silent neurons per layer")


def phase_switch(history: pd.DataFrame, study: str = "e3") -> plt.Figure:
    """Validation accuracy, hidden rate and silent fraction per epoch at the largest lambda of each
    first-spike method (and the baseline), with the epoch where two-phase switched drawn."""
    df = history[history["study"] == study]
    if df.empty:
        return _note(f"{study}: no run completed an epoch")
    # One row of panels per experiment that trains a regularizer (sizes are not pooled).
    experiments = sorted(df.loc[df["regularizer"] != "none", "experiment"].unique()) or sorted(
        df["experiment"].unique()
    )
    metrics = ["val_accuracy", "rate", "silent_fraction"]
    fig, axes = _grid(len(metrics) * len(experiments), ncols=3, size=(4.5, 3.4), sharey=False)
    for row, experiment in enumerate(experiments):
        ex = df[df["experiment"] == experiment]
        top = ex[ex["regularizer"] != "none"].groupby("method")["lam"].max()
        keep = (ex["regularizer"] == "none") & (ex["method"] == "baseline")
        for method, lam in top.items():
            keep |= (ex["method"] == method) & np.isclose(ex["lam"], lam)
        sub = ex[keep].assign(
            label=lambda d: d["method"] + np.where(d["lam"] > 0, " lambda=" + d["lam"].map(_lam_label), "")
        )
        regularized = sub[(sub["reg_weight"] > 0) & (sub["regularizer"] != "none")]
        switched = regularized.groupby("label")["epoch"].min()
        for ax, metric in zip(axes[3 * row : 3 * row + 3], metrics, strict=True):
            _mean_lines(ax, sub, "epoch", metric, "label")
            for epoch in switched.to_numpy():
                if epoch > 1:
                    ax.axvline(epoch - 0.5, ls="--", color="grey", lw=0.8)
            ax.set_title(f"{experiment}: {metric.replace('_', ' ')}")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def _e3_sizes(df: pd.DataFrame) -> pd.DataFrame:
    """Depth and width of each run's hidden stack, from ``cfg.model.hidden`` ("64,64")."""
    layers = df["cfg.model.hidden"].astype(str).str.strip("[] ").str.split(",")
    sizes = layers.map(lambda xs: [int(float(x)) for x in xs if x.strip()])
    return df.assign(depth=sizes.map(len), width=sizes.map(lambda s: max(s) if s else 0))


def rate_vs_size(runs: pd.DataFrame, study: str = "e3") -> plt.Figure:
    """Baseline test hidden rate and test accuracy against depth, one line per width; points =
    mean over seeds, whiskers = 95 % t-interval (usable runs: no silent layer, not diverged)."""
    from ..records import usable_runs

    needed = {"study", "family", "cfg.model.hidden", "hidden_rate", "accuracy", "val_status"}
    if runs.empty or not needed <= set(runs.columns):
        return _note(f"{study}: no data (no baseline runs with a recorded size)")
    df = runs[(runs["study"] == study) & (runs["family"] == "baseline") & runs["cfg.model.hidden"].notna()]
    df = usable_runs(df)
    df = df[df["accuracy"].notna()]
    if df.empty:
        return _note(f"{study}: no data (no usable baseline runs)")
    df = _e3_sizes(df)
    fig, axes = _grid(2, ncols=2, size=(4.6, 3.6), sharey=False)
    widths = sorted(df["width"].unique())
    colours = dict(zip(widths, sns.color_palette("tab10", max(3, len(widths))), strict=False))
    for ax, col in zip(axes, ("hidden_rate", "accuracy"), strict=True):
        for width, grp in df.groupby("width"):
            stats = [(d, mean_interval(g[col])) for d, g in grp.groupby("depth")]
            depth = np.array([d for d, _ in stats], dtype=float)
            mean = np.array([s["mean"] for _, s in stats])
            low = np.array([s["ci_low"] for _, s in stats])
            high = np.array([s["ci_high"] for _, s in stats])
            err = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
            n = int(min(s["n"] for _, s in stats))
            ax.errorbar(depth, mean, yerr=err, marker="o", capsize=3, color=colours[width],
                        label=f"width {width} (n>={n})")  # fmt: skip
        ax.set_xlabel("hidden layers (depth)")
        ax.set_ylabel(axis_label(col))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    fig.suptitle(f"{study}: baseline rate and accuracy against network size (95 % CI over seeds)")
    fig.tight_layout()
    return fig


def switch_off_shares(runs: pd.DataFrame, study: str = "e3") -> plt.Figure:
    """Share of runs with an entirely silent hidden layer on the test set against lambda, one
    panel per experiment (size), one line per regularized method; whiskers = Wilson 95 % score
    interval; dashed = the baseline's share. Every run that did not diverge counts."""
    from ..analysis.stats import wilson
    from ..records import switched_off

    needed = {"study", "family", "method", "lam", "status"}
    if runs.empty or not needed <= set(runs.columns):
        return _note(f"{study}: no data (no runs)")
    df = runs[(runs["study"] == study) & (runs["status"] != "diverged")]
    arms = df[df["family"] != "baseline"]["experiment"].unique()
    df = df[df["experiment"].isin(arms)]
    if df.empty:
        return _note(f"{study}: no data (no regularized runs)")
    df = df.assign(off=switched_off(df).astype(int).to_numpy())

    def draw(ax, sub):
        base = sub[sub["family"] == "baseline"]
        if not base.empty:
            ax.axhline(base["off"].mean(), ls="--", color="black", lw=0.8,
                       label=f"baseline ({int(base['off'].sum())}/{len(base)})")  # fmt: skip
        reg = sub[sub["family"] != "baseline"]
        palette = _palette(reg["method"])
        n_methods = reg["method"].nunique()
        for i, (method, grp) in enumerate(reg.groupby("method")):
            cells = grp.groupby("lam")["off"].agg(["sum", "count"]).reset_index()
            # a small multiplicative offset per arm so equal shares at one lambda stay visible
            cells["lam"] = cells["lam"] * 10 ** (0.04 * (i - (n_methods - 1) / 2))
            share = cells["sum"] / cells["count"]
            counts = zip(cells["sum"], cells["count"], strict=True)
            lo_hi = np.array([wilson(int(k), int(n)) for k, n in counts])
            err = np.clip(np.vstack([share - lo_hi[:, 0], lo_hi[:, 1] - share]), 0, None)  # rounding
            ax.errorbar(cells["lam"], share, yerr=err, marker="o", capsize=3,
                        color=palette[method], label=method)  # fmt: skip
        ax.set_xscale("log")
        if not reg.empty:  # at least a decade either side, so one lambda gets readable ticks
            ax.set_xlim(reg["lam"].min() / 3, reg["lam"].max() * 3)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("lambda")
        ax.set_ylabel("share of runs switched off (test)")

    return _facets(df, "experiment", draw)


def conversion_curves(conversion: pd.DataFrame, y: str) -> plt.Figure:
    """``y`` against time steps per conversion experiment: one colour per normalization, solid =
    alpha 0 baseline, dashed = L4 at the validation-chosen alpha; bands = 95 % CI over seeds."""
    if conversion.empty:
        return _note("no conversion experiments in this config")

    def draw(ax, sub):
        sns.lineplot(data=sub, x="time_steps", y=y, hue="normalization", style="variant", marker="o",
                     errorbar=t_interval, ax=ax)  # fmt: skip
        if y == "accuracy":
            ax.axhline(float(sub["ann_accuracy"].mean()), color="black", lw=0.8, ls=":", label="ANN")
        _log_x(ax, base=2)
        ax.set_ylabel(axis_label(y))

    return _facets(conversion_variants(conversion), "experiment", draw, ncols=2, size=(5.0, 3.8))


def l4_gain(conversion: pd.DataFrame) -> plt.Figure:
    """Paired test-accuracy gain (points) of L4 over its alpha = 0 baseline against T."""
    from ..analysis.aggregation import l4_gains

    if conversion.empty:
        return _note("no conversion experiments in this config")

    def draw(ax, sub):
        g = l4_gains(sub, sub["experiment"].iloc[0]).assign(gain_points=lambda d: 100 * d["gain"])
        sns.lineplot(data=g, x="time_steps", y="gain_points", hue="normalization", marker="o",
                     errorbar=t_interval, ax=ax)  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_ylabel("accuracy gain of L4 (points)")

    return _facets(conversion, "experiment", draw, ncols=2, size=(5.0, 3.8))


def _family_scatter(ax, rows: pd.DataFrame, x: str, palette: dict, scale: float = 1.0) -> None:
    for family, grp in rows.groupby("family"):
        ax.scatter(grp[x] / scale, grp["accuracy_mean"], color=palette[family], label=family, s=22,
                   edgecolor="black", linewidth=0.3, zorder=3)  # fmt: skip
    ax.set_ylabel(axis_label("accuracy"))


def plane(plane_table: pd.DataFrame, x: str, logx: bool = False) -> plt.Figure:
    """Every method's settings on one accuracy plane per dataset (means over seeds), coloured by
    family, with the non-dominated set (``pareto_*`` column of the plane table) circled."""
    keep = np.isfinite(plane_table[x]) & np.isfinite(plane_table["accuracy_mean"])
    plane_table = plane_table[keep & (plane_table[x] > 0)] if logx else plane_table[keep]
    if plane_table.empty:
        return _note("no evaluated results")
    palette = _palette(plane_table["family"])
    flag = "pareto_rate" if x == "hidden_rate_mean" else "pareto_synops"

    def draw(ax, sub):
        _family_scatter(ax, sub, x, palette)
        front = sub[sub[flag].astype(bool)].sort_values(x)
        ax.step(front[x], front["accuracy_mean"], where="post", color="black", ls=":", lw=1,
                label="Pareto front")  # fmt: skip
        ax.scatter(front[x], front["accuracy_mean"], s=90, facecolor="none", edgecolor="black", zorder=4)
        if logx:
            _log_x(ax)
        ax.set_xlabel(axis_label(x))

    return _facets(plane_table, "dataset", draw, size=(5.2, 4.2))


def plane_efficiency(plane_table: pd.DataFrame) -> plt.Figure:
    """Synaptic efficiency of every setting, per method and dataset (means over seeds)."""
    eff = plane_table["synaptic_efficiency_mean"]
    sub = plane_table[np.isfinite(eff) & (eff > 0)]
    if sub.empty:
        return _note("no results")
    fig, ax = plt.subplots(figsize=(8, max(3.5, 0.28 * sub["method"].nunique() * sub["dataset"].nunique())))
    # seaborn jitters the dots with numpy's global generator: a fixed seed (state restored after)
    # so the same tables always give the same picture.
    state = np.random.get_state()
    np.random.seed(0)
    try:
        sns.stripplot(
            data=sub, y="method", x="synaptic_efficiency_mean", hue="dataset", ax=ax, dodge=True, size=4
        )
    finally:
        np.random.set_state(state)
    _log_x(ax)
    ax.set_xlabel(axis_label("synaptic_efficiency_mean"))
    ax.set_title("every method: synaptic efficiency (one dot per setting)")
    fig.tight_layout()
    return fig


def plane_energy(plane_table: pd.DataFrame) -> plt.Figure:
    """Estimated energy per sample (SynOps x E_AC + analog MACs x E_MAC) against accuracy, with
    the equivalent ANN's MAC energy per dataset drawn as a vertical line."""
    energy = plane_table["energy_pj_per_sample_mean"]
    plane_table = plane_table[np.isfinite(energy) & (energy > 0) & np.isfinite(plane_table["accuracy_mean"])]
    if plane_table.empty:
        return _note("no evaluated results")
    palette = _palette(plane_table["family"])

    def draw(ax, sub):
        _family_scatter(ax, sub, "energy_pj_per_sample_mean", palette, scale=1e3)
        for e in sorted(sub["ann_energy_pj_per_sample_mean"].dropna().unique()):
            ax.axvline(e / 1e3, color="black", ls="--", lw=0.8)
        _log_x(ax)
        ax.set_xlabel("energy per sample (nJ); dashed: equivalent ANN MACs")

    return _facets(plane_table, "dataset", draw, size=(5.2, 4.2))


# Rows of the regime-map figure: (column of the runs table, title, colour map, log colour scale).
_REGIME_ROWS = (
    ("hidden_rate", "mean hidden rate", "viridis", False),
    ("ratio", "rate / homeostatic target", "magma", True),
    ("accuracy", "test accuracy", "crest", False),
)


def _regime_columns(df: pd.DataFrame) -> list[pd.DataFrame]:
    """Baseline, homeostatic L2 (neuron scope) and homeostatic L2 (layer scope) runs of a map,
    each reduced to the lambda with the best mean validation accuracy *per cell* (the setting a
    user would pick without the test split), so every cell shows the method at its own best."""
    scope = df.get("cfg.regularizer.scope", pd.Series("neuron", index=df.index)).fillna("neuron")
    hl2 = df["family"] == "homeostatic_l2"
    out = [df[df["family"] == "baseline"]]
    for wanted in ("neuron", "layer"):
        sub = df[hl2 & (scope == wanted)]
        keep = []
        for _, cell in sub.groupby("experiment"):
            means = cell.groupby("lam")["val_accuracy"].mean()
            lam = means.idxmax() if means.notna().any() else cell["lam"].iloc[0]
            keep.append(cell[cell["lam"] == lam])
        out.append(pd.concat(keep) if keep else sub)
    return out


def regime_map(runs: pd.DataFrame, study: str = "e1") -> plt.Figure:
    """Heatmaps over the two drive knobs of a regime map (``regime_maps`` in the config): one
    column per method (baseline, homeostatic L2 per scope at its validation-best lambda), one row
    per quantity (test hidden rate, rate as a multiple of the homeostatic target, test accuracy);
    every cell is the mean over seeds of usable runs, annotated with the value (and lambda).
    A config with several maps gets the first by name (one figure file per study)."""
    from ..records import usable_runs

    needed = {"cfg.regime.map", "cfg.regime.knobs", "family", "hidden_rate", "accuracy", "val_status"}
    df = runs[runs["study"] == study] if "study" in runs else runs.iloc[0:0]
    if df.empty or not needed <= set(df.columns) or not df["cfg.regime.map"].notna().any():
        return _note(f"{study}: no data (no regime-map runs in this config)")
    df = usable_runs(df)
    df = df[df["cfg.regime.map"].notna()]
    if df.empty:
        return _note(f"{study}: no data (no usable regime-map runs)")
    map_name = sorted(df["cfg.regime.map"].unique())[0]
    df = df[df["cfg.regime.map"] == map_name]
    knobs = str(df["cfg.regime.knobs"].iloc[0]).split(",")
    x_knob = f"cfg.{knobs[0]}"
    y_knob = f"cfg.{knobs[1]}" if len(knobs) > 1 else None
    target = target_rate(df)
    titles = ("baseline", "homeostatic L2, neuron scope", "homeostatic L2, layer scope")
    columns = _regime_columns(df)
    xs = sorted(df[x_knob].unique())
    ys = sorted(df[y_knob].unique()) if y_knob else [None]
    fig, axes = plt.subplots(len(_REGIME_ROWS), 3, figsize=(3.6 * 3, 2.9 * len(_REGIME_ROWS)), squeeze=False)
    for r, (quantity, label, cmap, log) in enumerate(_REGIME_ROWS):
        grids, notes = [], []
        for sub in columns:
            grid = np.full((len(ys), len(xs)), np.nan)
            note = np.full((len(ys), len(xs)), "", dtype=object)
            for (i, yv), (j, xv) in ((a, b) for a in enumerate(ys) for b in enumerate(xs)):
                cell = sub[sub[x_knob] == xv]
                if y_knob:
                    cell = cell[cell[y_knob] == yv]
                if cell.empty:
                    continue
                rate = cell["hidden_rate"].mean()
                value = rate / target if quantity == "ratio" and target else cell[quantity].mean()
                if quantity == "ratio" and not target:
                    value = np.nan
                grid[i, j] = value
                lam = cell["lam"].iloc[0]
                note[i, j] = f"{value:.3g}" + (f"\nλ={lam:g}" if lam > 0 else "") + f"\nn={len(cell)}"
            grids.append(grid)
            notes.append(note)
        finite = np.concatenate([g[np.isfinite(g)] for g in grids]) if grids else np.array([])
        for c, (grid, note) in enumerate(zip(grids, notes, strict=True)):
            ax = axes[r, c]
            if not np.isfinite(grid).any():
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            lo, hi = float(finite.min()), float(finite.max())
            if log and lo > 0:
                norm = matplotlib.colors.LogNorm(vmin=lo, vmax=max(hi, lo * 1.01))
            else:
                norm = matplotlib.colors.Normalize(vmin=lo, vmax=max(hi, lo + 1e-9))
            image = ax.imshow(grid, origin="lower", cmap=cmap, norm=norm, aspect="auto")
            outline = [matplotlib.patheffects.withStroke(linewidth=1.5, foreground="black")]
            for (i, j), text in np.ndenumerate(note):
                if text:
                    ax.text(
                        j, i, text, ha="center", va="center", fontsize=7, color="white", path_effects=outline
                    )
            ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
            ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys] if y_knob else [""])
            ax.set_xlabel(knobs[0])
            if y_knob:
                ax.set_ylabel(knobs[1])
            ax.grid(False)
            ax.set_title(f"{titles[c]}\n{label}", fontsize=8)
            bar = fig.colorbar(image, ax=ax, shrink=0.8)
            if isinstance(norm, matplotlib.colors.LogNorm):  # label 1, 2, 5, 10, ... not only decades
                bar.ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            bar.ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            bar.ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    suffix = f", target rate {target:g}" if target else ""
    fig.suptitle(f"regime map {map_name}: mean over seeds{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _drawer(fig: Figure):
    """The drawing function of the registered figure ``fig``: a dict of aggregated tables in (only
    ``fig.tables`` are read), the matplotlib figure out; ``fig.draw`` names a function here."""

    def draw(tables: dict) -> plt.Figure:
        return globals()[fig.draw](*(tables[t] for t in fig.tables), **fig.kwargs)

    return draw


# Name -> drawing function of every registered figure (``figure_registry``, where each figure is
# declared with its tables, title and caption).
DRAWERS = {name: _drawer(fig) for name, fig in _REGISTRY.items()}


# Resolution of the figure files; the notebook and the report embed these same files.
FIGURE_DPI = 130
# Colours of a figure file: the Agg canvas's pixels, reduced to one 256-colour palette (median
# cut, no dithering). The figures are flat plot colours plus anti-aliasing, so the picture is the
# same to the eye (mean channel error < 0.1 of 255 on the default study's figures, white stays
# white) at a third of the bytes: the report and the notebook each embed every figure, and the
# report must stay small.
PALETTE_COLOURS = 256


def png_bytes(fig: plt.Figure, dpi: int = FIGURE_DPI) -> bytes:
    """``fig`` as a palette PNG (``PALETTE_COLOURS``) at ``dpi``; the figure is left open (at
    ``dpi``). The pixels are those ``savefig(dpi=dpi)`` renders, taken from the canvas rather
    than through an intermediate RGBA PNG (which costs a third more time to encode and decode)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    palette = rgb.quantize(PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG")  # zlib's default level; optimize=True: 10 % less, 7x the time
    return out.getvalue()


def save(fig: plt.Figure, path: str) -> None:
    """Write ``fig`` to ``path`` (``png_bytes``, written atomically) and close it."""
    from ..io import atomic_write

    try:
        data = png_bytes(fig)
    finally:
        plt.close(fig)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
