"""Tidy tables from result files: one row per run (runs), per run and epoch (history), per run
and neuron (neuron rates). Reads JSON only; knows nothing about models or tensors."""

from __future__ import annotations

import pandas as pd

from ..io import read_json, read_record
from ..records import EXCLUDED_STATUS, usable_runs, validation_status
from . import metric_catalog

RUN_KEYS = ["experiment", "method", "regularizer", "lam", "seed"]
# Per-layer metric lists -> one column per hidden layer (prefix + layer index).
LAYER_LISTS = metric_catalog.layer_lists()
# Metrics summarized over seeds in the summary table (the first one counts the seeds).
SUMMARY_METRICS = metric_catalog.summary_columns()
# Validation means the Pareto flags are computed from (the test split only reports).
PARETO_VAL = ["val_accuracy_mean", "val_hidden_rate_mean", "val_synops_per_sample_mean"]
# Metrics of the E5 plane (every method, trained or converted, on one set of axes).
PLANE_METRICS = metric_catalog.plane_metrics()
# Columns of the per-epoch history written by training; fixed so that a study whose runs all
# diverged before finishing an epoch still yields a readable (empty) table.
HISTORY_FIELDS = [
    "epoch",
    "loss",
    "task_loss",
    "penalty",
    "rate",
    "silent_fraction",
    "saturated_fraction",
    "train_accuracy",
    "val_accuracy",
    "reg_weight",
]


def _flatten(prefix: str, node, out: dict) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(node, list):
        out[prefix] = ",".join(str(v) for v in node)
    else:
        out[prefix] = node


def _add_metric_columns(row: dict, metrics: dict, prefix: str = "") -> None:
    """Scalars as they are, per-layer lists as one column per layer (``LAYER_LISTS``); other
    lists and dicts (per-neuron rates, rasters) have tables of their own. ``prefix`` names the
    split (``val_`` for validation; test metrics carry none)."""
    for k, v in metrics.items():
        if k in LAYER_LISTS:
            for i, x in enumerate(v):
                row[f"{prefix}{LAYER_LISTS[k]}{i}"] = x
        elif not isinstance(v, (list, dict)):
            row[f"{prefix}{k}"] = v


# What the tables read of each record, and what each record is (for the message when a file is
# not one): a file without these keys stops before any table is built or written.
RUN_RECORD_KEYS = ("spec", "status", "reason", "config_hash", "metrics", "history", "provenance")
RUN_RECORD = "a run record (metrics.json) that spikesparse train writes"
CONVERSION_RECORD_KEYS = ("spec", "chosen_alpha", "rows", "ann", "config_hash", "provenance")
CONVERSION_RECORD = "a conversion record (conversion.json) that spikesparse convert writes"


def load_records(paths: list[str], keys: tuple[str, ...] = (), what: str = "a JSON record") -> list[dict]:
    """The JSON records in ``paths``; with ``keys``, each must be an object holding them: a file
    that is empty, truncated or another kind of record raises ``InputFileError`` naming it."""
    if not keys:
        return [read_json(p, what) for p in paths]
    return [read_record(p, keys, what) for p in paths]


def run_keys(record: dict) -> dict:
    spec = record["spec"]
    return {
        "experiment": spec["experiment"],
        "study": spec.get("study", ""),
        "method": spec["method"],
        "regularizer": spec["regularizer"]["name"],
        "lam": spec["regularizer"]["lam"],
        "seed": spec["seed"],
    }


def runs_table(records: list[dict]) -> pd.DataFrame:
    """One row per run: keys, status, provenance, scalar metrics and the resolved config (cfg.*)."""
    rows = []
    for rec in records:
        row = run_keys(rec)
        val_status, val_reason = validation_status(rec)
        row.update(
            dataset=rec["spec"]["dataset"]["name"],
            status=rec["status"],
            reason=rec["reason"],
            val_status=val_status,
            val_reason=val_reason,
            config_hash=rec["config_hash"],
            git_commit=rec["provenance"]["git_commit"],
        )
        # Wall times stay in metrics.json: the table must be bit-identical across reruns.
        _add_metric_columns(row, rec["metrics"])
        _add_metric_columns(row, rec.get("val_metrics", {}), prefix="val_")
        history = rec.get("history") or [{}]
        row["train_accuracy"] = history[-1].get("train_accuracy", float("nan"))
        row["family"] = method_family(rec["spec"])
        _flatten(
            "cfg",
            {k: v for k, v in rec["spec"].items() if k not in ("experiment", "study", "method", "seed")},
            row,
        )
        rows.append(row)
    return pd.DataFrame(rows).sort_values(RUN_KEYS, kind="mergesort").reset_index(drop=True)


def history_table(records: list[dict]) -> pd.DataFrame:
    """One row per run and epoch: the training trajectory of loss, penalty and sparsity."""
    rows = []
    for rec in records:
        keys = {**run_keys(rec), "status": rec["status"]}
        for h in rec["history"]:
            rows.append({**keys, **h})
    frame = pd.DataFrame(rows, columns=[*RUN_KEYS, "study", "status", *HISTORY_FIELDS])
    return frame.sort_values([*RUN_KEYS, "epoch"], kind="mergesort").reset_index(drop=True)


def neuron_table(records: list[dict]) -> pd.DataFrame:
    """One row per run and hidden neuron: its test-set firing rate (for rate histograms)."""
    rows = []
    for rec in records:
        keys = {**run_keys(rec), "status": rec["status"]}
        for i, r in enumerate(rec["metrics"].get("neuron_rates", [])):
            rows.append({**keys, "neuron": i, "rate": r})
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "study", "status", "neuron", "rate"])


def raster_table(records: list[dict]) -> pd.DataFrame:
    """One row per spike of the first test sample of each run (figure: spike rasters)."""
    rows = []
    for rec in records:
        raster = rec["metrics"].get("raster")
        if not raster:
            continue
        keys = run_keys(rec)
        for layer, step, neuron in zip(raster["layer"], raster["step"], raster["neuron"], strict=True):
            rows.append(
                {**keys, "n_steps": raster["n_steps"], "layer": layer, "step": step, "neuron": neuron}
            )
    columns = [*RUN_KEYS, "study", "n_steps", "layer", "step", "neuron"]
    return pd.DataFrame(rows, columns=columns)


def method_family(spec: dict) -> str:
    """What kind of sparsity method a run is: its regularizer's name, ``hard_constraint`` for an
    unregularized run whose neuron carries a refractory period, spike budget or adaptive
    threshold, and ``baseline`` for an unregularized, unconstrained run."""
    name = spec["regularizer"]["name"]
    if name != "none":
        return name
    neuron = spec["model"]["neuron"]
    constrained = (
        neuron.get("refractory", 0) > 0
        or neuron.get("spike_budget") is not None
        or neuron.get("adapt_kappa", 0.0) > 0
    )
    return "hard_constraint" if constrained else "baseline"


# homeostatic_l2's target when a method leaves it out (``regularizers.HomeostaticL2``'s default;
# a test keeps the two equal: the tables, claims and figures do not import torch).
DEFAULT_TARGET_RATE = 0.05


def target_rate(runs: pd.DataFrame) -> float | None:
    """The homeostatic target rate of these runs: the configured ``target_rate``, else the
    regularizer's default where the table shows homeostatic runs, else None. (A table without the
    ``regularizer`` column gives its configured value, if any.)"""
    homeostatic = runs[runs["regularizer"] == "homeostatic_l2"] if "regularizer" in runs else runs
    col = homeostatic.get("cfg.regularizer.target_rate")
    if col is not None and col.notna().any():
        return float(col.dropna().iloc[0])
    return DEFAULT_TARGET_RATE if "regularizer" in runs and len(homeostatic) else None


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment x method x lambda: mean, SD, SE and 95 % interval over seeds of the
    main metrics. Means are over runs usable on the validation split (``records.usable_runs``: the
    admission of a run never looks at the test split); a silent net, a net with a silent hidden
    layer and a diverged one are results too, so they keep their rows in the runs table and are
    counted here by their validation status (``n_silent``, ``n_layer_silent``, ``n_diverged``;
    ``n_not_ok``: every status but ``ok``, so the usable ``saturated`` runs too)."""
    from .stats import summarize

    keys = ["study", "experiment", "dataset", "family", "method", "regularizer", "lam"]
    counts = ["n_not_ok", *[f"n_{s}" for s in EXCLUDED_STATUS]]
    if runs.empty:
        return pd.DataFrame(columns=[*keys, "n_runs", "n_seeds", *counts])
    usable = usable_runs(runs)
    metrics = [c for c in SUMMARY_METRICS if c in runs]
    frame = summarize(usable, keys, metrics)
    if frame.empty:  # every run excluded (e.g. all diverged): the rows still come, with NaN means
        stats = [f"{m}_{k}" for m in metrics for k in ("mean", "sd", "se", "ci_low", "ci_high")]
        frame = pd.DataFrame(columns=[*keys, "n_runs", "n_seeds", *stats])
    # Settings whose every run was excluded still get a row (NaN means, their counts).
    every = runs[keys].drop_duplicates()
    frame = every.merge(frame, on=keys, how="left").sort_values(keys, kind="mergesort")
    frame["n_seeds"] = frame["n_seeds"].fillna(0).astype(int)
    tally = (
        runs.assign(
            n_not_ok=runs["val_status"] != "ok",
            **{f"n_{s}": runs["val_status"] == s for s in EXCLUDED_STATUS},
        )
        .groupby(keys, dropna=False)[counts]
        .sum()
    )
    frame = frame.drop(columns=["n_runs"]).merge(
        runs.groupby(keys, dropna=False).size().rename("n_runs").reset_index(), on=keys
    )
    frame = frame.merge(tally.reset_index(), on=keys)
    return frame.reset_index(drop=True)


def conversion_table(records: list[dict]) -> pd.DataFrame:
    """One row per conversion experiment x seed x normalization x alpha x T x split, flagged
    ``l4_selected`` where alpha is the one the validation split chose for that normalization and T
    (the baseline is the row with alpha 0)."""
    rows = []
    for rec in records:
        spec = rec["spec"]
        chosen = {(c["normalization"], c["time_steps"]): c["alpha"] for c in rec["chosen_alpha"]}
        for r in rec["rows"]:
            row = {
                "study": "e4",
                "experiment": spec["experiment"],
                "dataset": spec["dataset"]["name"],
                "seed": spec["seed"],
                "ann_accuracy": rec["ann"]["test_accuracy"],
                "ann_val_accuracy": rec["ann"]["val_accuracy"],
                "ann_train_accuracy": rec["ann"].get("train_accuracy", float("nan")),
                "config_hash": rec["config_hash"],
                "git_commit": rec["provenance"]["git_commit"],
            }
            _add_metric_columns(row, r)
            row["l4_selected"] = chosen[(r["normalization"], r["time_steps"])] == r["alpha"]
            rows.append(row)
    columns = ["study", "experiment", "dataset", "seed", "normalization", "alpha", "time_steps", "split"]
    if not rows:
        return pd.DataFrame(columns=[*columns, "accuracy", "l4_selected"])
    return pd.DataFrame(rows).sort_values(columns, kind="mergesort").reset_index(drop=True)


def conversion_variants(conversion: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Rows of ``split`` for the two variants compared in E4: ``baseline`` (alpha 0) and ``l4``
    (alpha chosen on validation), one row per experiment x seed x normalization x T x variant."""
    test = conversion[conversion["split"] == split]
    base = test[test["alpha"] == 0].assign(variant="baseline")
    l4 = test[test["l4_selected"].astype(bool)].assign(variant="l4")
    return pd.concat([base, l4], ignore_index=True)


def l4_gains(conversion: pd.DataFrame, experiment: str, split: str = "test") -> pd.DataFrame:
    """Paired per-seed accuracy gain of the L4 variant (alpha chosen on validation) over its
    alpha = 0 baseline on ``split``, one row per seed x normalization x T."""
    rows = conversion[(conversion["experiment"] == experiment) & (conversion["split"] == split)]
    keys = ["seed", "normalization", "time_steps"]
    base = rows[rows["alpha"] == 0].set_index(keys)["accuracy"]
    l4 = rows[rows["l4_selected"].astype(bool)].set_index(keys)[["accuracy", "alpha", "config_hash"]]
    out = l4.join(base.rename("baseline_accuracy"), how="inner").reset_index()
    out["gain"] = out["accuracy"] - out["baseline_accuracy"]
    return out


def _converted_settings(conversion: pd.DataFrame, split: str) -> pd.DataFrame:
    """Conversion rows of ``split`` labelled as plane settings (method = normalization and
    variant, setting = T)."""
    variants = conversion_variants(conversion, split)
    return variants.assign(
        family="conversion",
        method="convert_"
        + variants["normalization"]
        + variants["variant"].map({"baseline": "", "l4": "_l4"}),
        setting="T=" + variants["time_steps"].astype(str),
    )


def plane_table(summary: pd.DataFrame, conversion: pd.DataFrame) -> pd.DataFrame:
    """The E5 plane: one row per setting of every method (trained: method x lambda; converted:
    normalization x variant x T), summarized over seeds, with the Pareto flags per dataset
    (accuracy up, firing rate or SynOps per sample down). The flags are computed from the
    validation means, so a "selected" point is never chosen by test numbers."""
    from .stats import pareto_mask, summarize

    keep = ["study", "experiment", "dataset", "family", "method", "setting", "n_seeds"]
    keep += [f"{m}_{s}" for m in PLANE_METRICS for s in ("mean", "ci_low", "ci_high")] + PARETO_VAL
    trained = summary.assign(setting=summary["lam"].map(lambda v: f"lambda={v:g}"))
    parts = [trained[[c for c in keep if c in trained]]]
    if not conversion.empty:
        by = ["study", "experiment", "dataset", "family", "method", "setting"]
        missing = [m for m in PLANE_METRICS if m not in conversion]
        if missing:  # every plane metric is a converted one (metric_catalog), so rows must carry it
            raise ValueError(f"plane: the conversion table has no column {missing[0]!r} (a plane metric)")
        metrics = list(PLANE_METRICS)
        conv, val = (summarize(_converted_settings(conversion, s), by, metrics) for s in ("test", "val"))
        val = val[by + ["accuracy_mean", "hidden_rate_mean", "synops_per_sample_mean"]]
        conv = conv.merge(val.rename(columns={c: f"val_{c}" for c in val if c not in by}), on=by, how="left")
        parts.append(conv[[c for c in keep if c in conv]])
    plane = pd.concat(parts, ignore_index=True)
    plane["pareto_rate"] = False
    plane["pareto_synops"] = False
    for _, idx in plane.groupby("dataset").groups.items():
        sub = plane.loc[idx]
        acc = sub["val_accuracy_mean"]
        plane.loc[idx, "pareto_rate"] = pareto_mask(sub["val_hidden_rate_mean"], acc)
        plane.loc[idx, "pareto_synops"] = pareto_mask(sub["val_synops_per_sample_mean"], acc)
    return plane.sort_values(
        ["dataset", "study", "experiment", "method", "setting"], kind="mergesort"
    ).reset_index(drop=True)
