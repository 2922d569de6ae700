"""The run record: what one trained run leaves behind (``metrics.json``), written in one place.

A record holds the resolved spec, its hash, the status (``evaluation.run_status``), the test
metrics, the validation metrics (every choice downstream reads these, never the test ones), the
per-epoch history and the provenance of the process. ``train`` writes it right after training
(evaluation runs in the same process: no second start-up, no reload); ``evaluate`` rewrites it
from a saved model by hand.
"""

from __future__ import annotations

from .io import config_hash, provenance


def run_record(
    spec: dict,
    status: str,
    reason: str,
    metrics: dict,
    val_metrics: dict,
    history: list[dict],
    metric_cfg: dict,
    device: str,
    train_wall_time_s: float | None,
    wall_time_s: float,
) -> dict:
    return {
        "spec": spec,
        "config_hash": config_hash(spec),
        "metrics_config": metric_cfg,
        "status": status,
        "reason": reason,
        "metrics": metrics,
        "val_metrics": val_metrics,
        "history": history,
        "train_wall_time_s": train_wall_time_s,
        "provenance": provenance(device, wall_time_s),
    }


def evaluated_record(
    model,
    data: dict,
    spec: dict,
    trained_status: str,
    trained_reason: str,
    history: list[dict],
    metric_cfg: dict,
    device,
    train_wall_time_s,
    start: float,
) -> dict:
    """Evaluate ``model`` on validation and test (unless training diverged) and build its record."""
    import time

    from .evaluation import evaluate_run, run_status, unevaluated_metrics

    if trained_status == "diverged":
        metrics, val_metrics = unevaluated_metrics(), unevaluated_metrics()
        status, reason = trained_status, trained_reason
    else:
        splits = evaluate_run(model.to(device), data, spec, metric_cfg, device=device)
        metrics, val_metrics = splits["test"], splits.get("val", unevaluated_metrics())
        status, reason = run_status(trained_status, trained_reason, metrics)
    return run_record(
        spec,
        status,
        reason,
        metrics,
        val_metrics,
        history,
        metric_cfg,
        str(device),
        train_wall_time_s,
        time.perf_counter() - start,
    )
