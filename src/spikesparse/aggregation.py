"""Tidy tables from result files: one row per run (runs), per run and epoch (history), per run
and neuron (neuron rates). Reads JSON only; knows nothing about models or tensors."""

from __future__ import annotations

import pandas as pd

from .io import read_json

RUN_KEYS = ["experiment", "method", "regularizer", "lam", "seed"]
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


def load_records(paths: list[str]) -> list[dict]:
    return [read_json(p) for p in paths]


def run_keys(record: dict) -> dict:
    spec = record["spec"]
    return {
        "experiment": spec["experiment"],
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
        row.update(
            status=rec["status"],
            reason=rec["reason"],
            config_hash=rec["config_hash"],
            git_commit=rec["provenance"]["git_commit"],
        )
        # Wall times stay in metrics.json: the table must be bit-identical across reruns.
        for k, v in rec["metrics"].items():
            if k == "layer_rates":
                for i, r in enumerate(v):
                    row[f"rate_layer{i}"] = r
            elif not isinstance(v, list):
                row[k] = v
        _flatten(
            "cfg",
            {k: v for k, v in rec["spec"].items() if k not in ("experiment", "method", "seed")},
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
    frame = pd.DataFrame(rows, columns=[*RUN_KEYS, "status", *HISTORY_FIELDS])
    return frame.sort_values([*RUN_KEYS, "epoch"], kind="mergesort").reset_index(drop=True)


def neuron_table(records: list[dict]) -> pd.DataFrame:
    """One row per run and hidden neuron: its test-set firing rate (for rate histograms)."""
    rows = []
    for rec in records:
        keys = {**run_keys(rec), "status": rec["status"]}
        for i, r in enumerate(rec["metrics"].get("neuron_rates", [])):
            rows.append({**keys, "neuron": i, "rate": r})
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "status", "neuron", "rate"])
