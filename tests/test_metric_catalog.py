"""The metric catalog is the one declaration of every run metric: an evaluation produces exactly
its metrics, the runs table carries each (test and ``val_``, per-layer columns included), the
summary and the plane summarize the flagged ones, and the README's metric table is generated from
it. A metric added to the catalog without its computation (or computed without a catalog entry)
fails here."""

import numpy as np
import pytest
import torch

from spikesparse import aggregation, evaluation, metric_catalog
from spikesparse.metric_catalog import METRICS, Metric
from spikesparse.models import SpikingNet
from spikesparse.neurons import LIFParams

CFG = {"eval_seed": 1, "saturation_rate": 0.9, "e_ac_pj": 0.9, "e_mac_pj": 4.6}
# Keys of an evaluation that are not metrics: split sizes, and the per-run details of the test split.
NOT_METRICS = {"n_samples", "n_steps", "neuron_rates", "raster"}


@pytest.fixture(scope="module")
def evaluated() -> dict:
    """Validation and test metrics of a tiny two-layer net on a binary task (so F1 and AUROC exist)."""
    torch.manual_seed(0)
    net = SpikingNet(6, [8, 8], 2, LIFParams(threshold=0.5))
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.abs_()
    rng = np.random.default_rng(0)
    data = {
        "x_train": rng.random((4, 6)).astype(np.float32),
        "x_val": rng.random((8, 6)).astype(np.float32),
        "y_val": np.arange(8) % 2,
        "x_test": rng.random((10, 6)).astype(np.float32),
        "y_test": np.arange(10) % 2,
    }
    return evaluation.evaluate_run(net, data, {"encoding": {"name": "rate", "n_steps": 5}}, CFG)


def _record(metrics: dict, val: dict, seed: int = 0, status: str = "ok") -> dict:
    spec = {
        "experiment": "e2_x",
        "study": "e2",
        "method": "baseline",
        "seed": seed,
        "dataset": {"name": "digits"},
        "regularizer": {"name": "none", "lam": 0.0},
        "model": {"neuron": {}},
    }
    return {
        "spec": spec,
        "status": status,
        "reason": "",
        "config_hash": "h",
        "provenance": {"git_commit": "c"},
        "metrics": metrics,
        "val_metrics": val,
        "history": [{"epoch": 1, "train_accuracy": 0.5}],
    }


def test_an_evaluation_produces_exactly_the_catalog_metrics(evaluated):
    for split in ("val", "test"):
        m = evaluated[split]
        scalars = {k for k, v in m.items() if not isinstance(v, (list, dict))} - NOT_METRICS
        assert scalars == set(metric_catalog.names()), split
        lists = {k for k, v in m.items() if isinstance(v, list)} - NOT_METRICS
        assert lists == set(metric_catalog.layer_lists()), split
    assert set(evaluation.unevaluated_metrics()) == set(metric_catalog.names())


def test_every_catalog_metric_reaches_the_runs_table_and_the_summary(evaluated):
    records = [_record(evaluated["test"], evaluated["val"], seed) for seed in (0, 1)]
    records.append(_record(evaluation.unevaluated_metrics(), evaluation.unevaluated_metrics(), 2, "diverged"))
    runs = aggregation.runs_table(records)
    for m in METRICS:
        assert m.column("test") in runs and m.column("val") in runs, m.name
        if m.layer_column:
            assert {f"{m.layer_column}0", f"{m.layer_column}1"} <= set(runs), m.name
    assert runs.loc[runs["status"] == "ok", "active_fraction"].between(0, 1).all()
    summary = aggregation.summary_table(runs)
    for col in metric_catalog.summary_columns():
        assert f"{col}_mean" in summary and f"{col}_ci_high" in summary, col
    assert summary.iloc[0]["n_seeds"] == 2  # the diverged run is counted, not averaged
    plane = aggregation.plane_table(summary, aggregation.conversion_table([]))
    for name in metric_catalog.plane_metrics():
        assert f"{name}_mean" in plane, name


def test_the_tables_read_their_metric_lists_from_the_catalog():
    assert evaluation.SCALAR_METRICS == metric_catalog.names()
    assert aggregation.LAYER_LISTS == metric_catalog.layer_lists()
    assert aggregation.SUMMARY_METRICS == metric_catalog.summary_columns()
    assert aggregation.PLANE_METRICS == metric_catalog.plane_metrics()
    assert aggregation.SUMMARY_METRICS[0] == "accuracy"  # the first summary column counts the seeds
    assert {c.removesuffix("_mean") for c in aggregation.PARETO_VAL} <= set(aggregation.SUMMARY_METRICS)


def test_every_entry_is_complete_and_checked():
    for m in METRICS:
        assert m.definition and m.unit and m.label and m.better in metric_catalog.BETTER, m.name
    with pytest.raises(ValueError, match="better"):
        Metric("x", "d", "u", "up", "x")
    with pytest.raises(ValueError, match="layer_key"):
        Metric("x", "d", "u", "none", "x", layer_key="layer_x")
    with pytest.raises(ValueError, match="split"):
        Metric("x", "d", "u", "none", "x", summary=("train_set",))
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        metric_catalog.get("nope")
    named = {m.name: m.neurobench for m in METRICS if m.neurobench}
    assert named["activation_sparsity"] == "Activation sparsity"
    assert named["effective_macs_per_sample"] == "Effective MACs"


def test_axis_labels_and_the_markdown_table():
    assert metric_catalog.axis_label("accuracy") == "test accuracy"
    assert metric_catalog.axis_label("hidden_rate") == "test hidden firing rate (spikes / neuron / step)"
    assert metric_catalog.axis_label("synops_per_sample_mean").endswith("(ops), mean over seeds")
    table = metric_catalog.markdown_table().splitlines()
    assert len(table) == 2 + len(METRICS)
    assert all(row.count("|") == 7 for row in table)  # no stray pipe inside a cell
    assert "| `active_fraction` |" in "\n".join(table) and "`active_layer<i>`" in "\n".join(table)
