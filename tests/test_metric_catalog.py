"""The metric catalog is the one declaration of every run metric: an evaluation produces exactly
its metrics, the runs table carries each (test and ``val_``, per-layer columns included), the
summary and the plane summarize the flagged ones, and docs/study/methods.md's metric table is
generated from it. A metric added to the catalog without its computation (or computed without a catalog entry)
fails here."""

import numpy as np
import pytest
import torch

from spikesparse.models import SpikingNet
from spikesparse.neurons import LIFParams
from spikesparse.study import evaluation
from spikesparse.study.analysis import aggregation, metric_catalog
from spikesparse.study.analysis.metric_catalog import METRICS, Metric
from spikesparse.study.metric_config import MetricConfig
from spikesparse.study.split_counts import SplitCounts

CFG = MetricConfig(saturation_rate=0.9, e_ac_pj=0.9, e_mac_pj=4.6, eval_seed=1)
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
    return evaluation.evaluate_run(
        net, data, {"dataset": {"name": "digits"}, "encoding": {"name": "rate", "n_steps": 5}}, CFG
    )


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
        Metric("x", "d", "u", "up", "x", compute=len)
    with pytest.raises(ValueError, match="layer_key"):
        Metric("x", "d", "u", "none", "x", layer_key="layer_x", compute=len)
    with pytest.raises(ValueError, match="split"):
        Metric("x", "d", "u", "none", "x", summary=("train_set",), compute=len)
    with pytest.raises(ValueError, match="compute"):
        Metric("x", "d", "u", "none", "x")
    with pytest.raises(ValueError, match="layer_compute"):
        Metric("x", "d", "u", "none", "x", layer_key="layer_x", layer_column="x_layer", compute=len)
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


def test_adding_a_metric_is_one_catalog_entry(evaluated, monkeypatch):
    """A new metric computed from a split's counts needs its catalog entry and nothing else: the
    evaluation computes it, the run record and the runs table (both splits) carry it."""
    new = Metric(
        "spikes_per_neuron",
        "hidden spikes per neuron and sample",
        "spikes",
        "lower",
        "spikes per neuron",
        compute=lambda c: float(c.all_counts.sum()) / (len(c.all_counts) * c.n_samples),
        layer_key="layer_spikes_per_neuron",
        layer_column="spikes_per_neuron_layer",
        layer_compute=lambda c: [float(n.sum()) / (len(n) * c.n_samples) for n in c.counts],
    )
    monkeypatch.setattr(metric_catalog, "METRICS", (*METRICS, new))
    torch.manual_seed(0)
    net = SpikingNet(6, [8, 8], 2, LIFParams(threshold=0.5))
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.abs_()
    x = np.random.default_rng(0).random((10, 6)).astype(np.float32)
    data = {"x_train": x, "x_val": x[:0], "y_val": np.zeros(0, int), "x_test": x, "y_test": np.arange(10) % 2}
    m = evaluation.evaluate_run(
        net, data, {"dataset": {"name": "digits"}, "encoding": {"name": "rate", "n_steps": 5}}, CFG
    )["test"]
    assert m["spikes_per_neuron"] == pytest.approx(m["spikes_per_sample"] / 16)
    per_layer = m["layer_spikes_per_neuron"]
    assert len(per_layer) == 2 and sum(per_layer) / 2 == pytest.approx(m["spikes_per_neuron"])
    runs = aggregation.runs_table([_record(m, m)])
    assert runs.loc[0, "spikes_per_neuron"] == m["spikes_per_neuron"]
    assert "val_spikes_per_neuron" in runs


def test_metric_values_follow_their_definitions_on_a_hand_made_count():
    """Each compute reads the counts as its definition says (checked on numbers worked by hand)."""
    w = {"fc0": torch.ones(2, 3), "readout": torch.tensor([[1.0, 0.0]])}
    c = SplitCounts(
        n_samples=2,
        n_steps=4,
        pred=np.array([1, 1]),
        score=np.array([0.9, 0.2]),
        y=np.array([1, 0]),
        n_classes=2,
        counts=[torch.tensor([6.0, 0.0], dtype=torch.float64)],
        fed_back=[torch.tensor([5.0, 0.0], dtype=torch.float64)],
        in_counts=torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
        in_events=torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
        nonzero_in=torch.zeros(3, dtype=torch.float64),
        active=[2.0],
        zero_acts=10.0,
        all_acts=16,
        mem_updates=12.0,
        weights=w,
        recurrent=False,
        static_input=True,
        metric_cfg=CFG,
    )
    got = evaluation.catalog_metrics(c)
    assert got["accuracy"] == 0.5 and got["chance_accuracy"] == 0.5 and got["synaptic_efficiency"] == 0.0
    assert got["f1"] == pytest.approx(2 / 3) and got["auroc"] == 1.0
    assert got["hidden_rate"] == 6 / (2 * 4 * 2) and got["layer_rates"] == [6 / (2 * 4 * 2)]
    assert got["spikes_per_sample"] == 3.0 and got["input_spikes_per_sample"] == 3.0
    # SynOps: 6 input spikes x fan-out 2, then 6 hidden spikes x fan-out 1; per sample.
    assert got["synops_per_sample"] == (6 * 2 + 6 * 1) / 2
    # Effective ACs skip the zero readout weight of hidden neuron 1 (which never fired anyway).
    assert got["effective_acs_per_sample"] == (6 * 2 + 6 * 1) / 2
    assert got["dense_ops_per_sample"] == 4 * (3 * 2 + 2 * 1) and got["ann_macs_per_sample"] == 8
    assert got["silent_fraction"] == 0.5 and got["any_layer_silent"] == 0
    assert got["active_fraction"] == 2 / (2 * 2) and got["activation_sparsity"] == 10 / 16
    assert got["membrane_updates_per_sample"] == 6.0 and got["effective_macs_per_sample"] == 0.0
    assert got["energy_pj_per_sample"] == pytest.approx(9 * 0.9)


def test_e4_rows_are_the_catalogs_converted_metrics_and_the_plane_needs_them():
    """E4's rows come from the catalog (one home): a converted row carries exactly the metrics
    marked ``converted`` (with their per-layer lists), every plane metric is one, and a plane
    metric missing from the conversion table stops the plane instead of being dropped."""
    import pandas as pd
    import torch

    from spikesparse.study import conversion_jobs as S
    from spikesparse.study.analysis import aggregation, metric_catalog
    from spikesparse.study.data import make_digits_dataset

    converted = [m for m in metric_catalog.METRICS if m.converted]
    assert set(metric_catalog.plane_metrics()) <= {m.name for m in converted}
    with pytest.raises(ValueError, match="plane metric must also be converted"):
        metric_catalog.Metric("x", "d", "u", "higher", "x", plane=True, compute=lambda c: 0.0)

    data = make_digits_dataset(n_samples=200, seed=0)
    torch.manual_seed(0)
    net, _ = S.train_ann({"hidden": [8], "epochs": 1, "lr": 0.01, "batch_size": 32}, data, seed=0)
    spec = {
        "seed": 0,
        "calibration_samples": 50,
        "normalizations": ["max"],
        "percentile": 99.9,
        "alphas": [0.0],
        "time_steps": [4],
    }
    (row, *_) = S.sweep(net, data, spec, CFG)
    expected = {"normalization", "alpha", "time_steps", "split"}
    expected |= {m.name for m in converted} | {m.layer_key for m in converted if m.layer_key}
    assert set(row) == expected

    rows = [
        {
            "study": "e4",
            "experiment": "e4",
            "dataset": "digits",
            "seed": 0,
            "split": s,
            **{k: v for k, v in row.items() if k != "split"},
        }
        for s in ("val", "test")
    ]
    conversion = pd.DataFrame(rows).drop(columns=["synaptic_efficiency"])
    summary = pd.DataFrame(columns=["study", "experiment", "dataset", "family", "method", "lam", "n_seeds"])
    with pytest.raises(ValueError, match="no column 'synaptic_efficiency'"):
        aggregation.plane_table(summary, conversion)
