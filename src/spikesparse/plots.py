"""Figures, drawn from the tidy tables only (never from models or training code)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(context="paper", style="whitegrid")


def _method_label(frame: pd.DataFrame) -> pd.Series:
    return frame["method"].astype(str)


def accuracy_vs_rate(runs: pd.DataFrame, experiment: str = "e1") -> plt.Figure:
    """Mean accuracy against mean hidden firing rate per (method, lambda); error bars = SD over
    seeds; marker size grows with lambda. Runs whose status is not ``ok`` are drawn as grey
    crosses and left out of the means."""
    df = runs[runs["experiment"] == experiment].copy()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ok = df[df["status"] == "ok"]
    if not ok.empty:
        summary = (
            ok.groupby(["method", "lam"])
            .agg(
                acc=("accuracy", "mean"),
                acc_sd=("accuracy", "std"),
                rate=("hidden_rate", "mean"),
                rate_sd=("hidden_rate", "std"),
            )
            .reset_index()
        )
        summary[["acc_sd", "rate_sd"]] = summary[["acc_sd", "rate_sd"]].fillna(0.0)
        lam_pos = summary["lam"][summary["lam"] > 0]
        lmin = lam_pos.min() if not lam_pos.empty else 1.0
        summary["size"] = np.where(
            summary["lam"] > 0, 40 + 30 * np.log10(summary["lam"].clip(lower=lmin) / lmin), 30
        )
        palette = dict(zip(sorted(summary["method"].unique()), sns.color_palette("tab10"), strict=False))
        for method, grp in summary.groupby("method"):
            ax.errorbar(
                grp["rate"],
                grp["acc"],
                xerr=grp["rate_sd"],
                yerr=grp["acc_sd"],
                fmt="none",
                ecolor=palette[method],
                alpha=0.6,
                lw=1,
            )
            ax.scatter(
                grp["rate"],
                grp["acc"],
                s=grp["size"],
                color=palette[method],
                label=method,
                edgecolor="black",
                linewidth=0.4,
                zorder=3,
            )
    bad = df[df["status"] != "ok"]
    if not bad.empty:
        ax.scatter(
            bad["hidden_rate"].fillna(0),
            bad["accuracy"].fillna(0),
            marker="x",
            color="grey",
            label=f"not ok ({len(bad)} runs)",
            zorder=2,
        )
    target = df.get("cfg.regularizer.target_rate")
    if target is not None and target.notna().any():
        ax.axvline(
            float(target.dropna().iloc[0]),
            ls="--",
            color="black",
            lw=0.8,
            label="homeostatic target",
        )
    ax.set_xlabel("hidden firing rate (spikes / neuron / step)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{experiment}: accuracy vs firing rate (marker size ~ log lambda)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def rate_trajectories(history: pd.DataFrame, runs: pd.DataFrame, experiment: str = "e1") -> plt.Figure:
    """Hidden firing rate per epoch, one line per method (mean over seeds and lambdas, band =
    95 % CI), with the homeostatic target drawn; one panel per method shows each lambda."""
    df = history[history["experiment"] == experiment].copy()
    methods = sorted(df["method"].unique())
    if not methods:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.text(0.5, 0.5, f"{experiment}: no run completed an epoch", ha="center", va="center")
        ax.set_axis_off()
        return fig
    fig, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 3.4), squeeze=False, sharey=True)
    target = runs.loc[runs["experiment"] == experiment].get("cfg.regularizer.target_rate")
    target = float(target.dropna().iloc[0]) if target is not None and target.notna().any() else None
    for ax, method in zip(axes[0], methods, strict=True):
        sub = df[df["method"] == method].copy()
        sub["lambda"] = sub["lam"].map(lambda v: f"{v:g}")
        sns.lineplot(
            data=sub,
            x="epoch",
            y="rate",
            hue="lambda",
            ax=ax,
            errorbar=("ci", 95),
            palette="viridis",
        )
        if target is not None:
            ax.axhline(target, ls="--", color="red", lw=1, label=f"target {target:g}")
        ax.set_title(method)
        ax.set_ylabel("hidden firing rate")
        ax.legend(fontsize=7, title="lambda", title_fontsize=7)
    fig.tight_layout()
    return fig


FIGURES = {
    "e1_accuracy_vs_rate": lambda runs, history: accuracy_vs_rate(runs, "e1"),
    "e1_rate_trajectories": lambda runs, history: rate_trajectories(history, runs, "e1"),
}


def save(fig: plt.Figure, path: str) -> None:
    from .io import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"))
    plt.close(fig)
