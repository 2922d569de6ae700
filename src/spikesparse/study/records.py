"""The run record: what one trained run leaves behind (``metrics.json``), written in one place.

A record holds the resolved spec, its hash, the status (``run_status`` below, the one status
rule), the test metrics, the validation metrics (every choice downstream reads these, never
the test ones), the per-epoch history and the provenance of the process. ``train`` writes it
right after training (evaluation runs in the same process: no second start-up, no reload);
``evaluate`` rewrites it from a saved model by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .io import config_hash, provenance
from .metric_config import MetricConfig

if TYPE_CHECKING:  # the record reads a training result; naming it imports no torch
    from .training import TrainResult

# Run statuses whose metrics enter means, fronts and claims; the others are counted per setting.
USABLE_STATUS = ("ok", "saturated")
EXCLUDED_STATUS = ("silent", "layer_silent", "diverged")
# A run without validation metrics (no validation split) cannot be admitted on validation.
UNVALIDATED = "unvalidated"


def run_status(trained: str, reason: str, metrics: dict, split: str = "test") -> tuple[str, str]:
    """The one status rule of a run, from its training outcome and the metrics of one split.

    ``diverged`` (training stopped on a non-finite loss or weight) stays; otherwise, on the split:
    ``silent`` when no hidden neuron spikes, ``layer_silent`` when some hidden layer is entirely
    silent (its downstream layers see no input: the network is switched off there), ``saturated``
    when every hidden neuron fires on >= the saturation rate, else ``ok``. The record's ``status``
    applies it to the test split (what the run did); ``validation_status`` applies it to the
    validation split, and that one decides which runs enter means, fronts and claims, so that no
    run is admitted or excluded by looking at the test split. Non-usable runs keep their rows in
    every table and are counted.
    """
    if trained == "diverged":
        return trained, reason
    if metrics["hidden_rate"] == 0.0:
        return "silent", f"no hidden spike on the whole {split} set"
    silent_layers = [i for i, f in enumerate(metrics["layer_silent_fractions"]) if f == 1.0]
    if silent_layers:
        return "layer_silent", f"hidden layer(s) {silent_layers} silent on the whole {split} set"
    if metrics["saturated_fraction"] == 1.0:
        return "saturated", f"every hidden neuron saturated on the {split} set"
    return "ok", ""


def validation_status(record: dict) -> tuple[str, str]:
    """``run_status`` on a record's validation metrics (``unvalidated`` when it has none)."""
    val = record.get("val_metrics") or {}
    if record["status"] == "diverged":
        return record["status"], record["reason"]
    if "hidden_rate" not in val or val["hidden_rate"] != val["hidden_rate"]:  # missing or NaN
        return UNVALIDATED, "no validation metrics (no validation split)"
    return run_status("ok", "", val, split="validation")


def usable_runs(runs):
    """The rows of a runs table whose metrics enter means, fronts and claims: usable on the
    validation split (``val_status``)."""
    return runs[runs["val_status"].isin(USABLE_STATUS)]


def evaluated_record(
    trained: TrainResult, data: dict, spec: dict, metric_cfg: MetricConfig, start: float
) -> dict:
    """The one path from a trained run to its record (``metrics.json``; the ``train`` and
    ``evaluate`` commands): evaluate ``trained.model`` on validation and test unless training
    diverged, apply the status rule, and record it with the spec, its hash, the metrics block,
    the history and the provenance. ``start``: when the run began (its wall time ends here)."""
    import time

    from .evaluation import evaluate_run, unevaluated_metrics

    if trained.status == "diverged":
        metrics, val_metrics = unevaluated_metrics(), unevaluated_metrics()
        status, reason = trained.status, trained.reason
    else:
        splits = evaluate_run(trained.model.to(trained.device), data, spec, metric_cfg, device=trained.device)
        metrics, val_metrics = splits["test"], splits.get("val", unevaluated_metrics())
        status, reason = run_status(trained.status, trained.reason, metrics)
    return {
        "spec": spec,
        "config_hash": config_hash(spec),
        "metrics_config": MetricConfig.of(metric_cfg).as_dict(),
        "status": status,
        "reason": reason,
        "metrics": metrics,
        "val_metrics": val_metrics,
        "history": trained.history,
        "train_wall_time_s": trained.wall_time_s,
        "provenance": provenance(str(trained.device), time.perf_counter() - start),
    }


def switched_off(runs, split: str = "test"):
    """Per run: whether any hidden layer is entirely silent on ``split`` ("test" or "val").

    Reads ``any_layer_silent`` (``val_any_layer_silent``). Where the flag is missing, a run whose
    status on the same split (``status`` / ``val_status``) says the whole net or a layer went
    silent counts; a test number never stands in for a validation one.
    """
    import pandas as pd

    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")
    col = "any_layer_silent" if split == "test" else "val_any_layer_silent"
    status = "status" if split == "test" else "val_status"
    if status in runs:
        by_status = runs[status].isin(["silent", "layer_silent"])
    else:
        by_status = pd.Series(False, index=runs.index)
    if col not in runs:
        return by_status
    flag = pd.to_numeric(runs[col], errors="coerce")
    return flag.gt(0).where(flag.notna(), by_status).astype(bool)
