"""Summary over seeds: means over usable runs only, every excluded run counted, no setting lost."""

import numpy as np
import pandas as pd

from spikesparse.study.analysis.aggregation import plane_table, summary_table


def _runs(statuses, accs):
    keys = {
        "study": "e1",
        "experiment": "e1",
        "dataset": "anomaly",
        "family": "baseline",
        "method": "baseline",
        "regularizer": "none",
        "lam": 0.0,
    }
    rows = []
    for seed, (status, acc) in enumerate(zip(statuses, accs, strict=True)):
        rows.append(
            {
                **keys,
                "seed": seed,
                "status": status,
                "val_status": status,
                "accuracy": acc,
                "val_accuracy": acc,
                "hidden_rate": 0.1,
                "val_hidden_rate": 0.1,
                "synops_per_sample": 5.0,
                "val_synops_per_sample": 5.0,
            }
        )
    return pd.DataFrame(rows)


def test_means_use_usable_runs_and_count_the_rest():
    s = summary_table(_runs(["ok", "saturated", "layer_silent", "diverged"], [0.9, 0.8, 0.1, np.nan]))
    row = s.iloc[0]
    assert abs(row["accuracy_mean"] - 0.85) < 1e-12 and row["n_seeds"] == 2 and row["n_runs"] == 4
    assert (row["n_layer_silent"], row["n_diverged"], row["n_silent"], row["n_not_ok"]) == (1, 1, 0, 3)


def test_a_setting_whose_every_run_diverged_keeps_its_row():
    s = summary_table(_runs(["diverged", "diverged"], [np.nan, np.nan]))
    assert len(s) == 1 and s.iloc[0]["n_diverged"] == 2 and s.iloc[0]["n_seeds"] == 0
    assert np.isnan(s.iloc[0]["accuracy_mean"])
    plane = plane_table(s, pd.DataFrame())
    assert not plane["pareto_rate"].any()  # nothing to put on a front


def test_runs_are_admitted_by_their_validation_status():
    """A run silent on test but fine on validation enters the means; the reverse is excluded."""
    runs = _runs(["ok", "ok", "ok"], [0.9, 0.8, 0.7])
    runs.loc[0, "status"] = "silent"  # test split only: still usable
    runs.loc[2, "val_status"] = "layer_silent"  # validation: excluded and counted
    row = summary_table(runs).iloc[0]
    assert row["n_seeds"] == 2 and abs(row["accuracy_mean"] - 0.85) < 1e-12
    assert row["n_layer_silent"] == 1 and row["n_silent"] == 0


def test_validation_status_applies_the_status_rule_to_validation():
    from spikesparse.study.records import validation_status

    val = {"hidden_rate": 0.1, "layer_silent_fractions": [0.2, 1.0], "saturated_fraction": 0.0}
    record = {"status": "ok", "reason": "", "val_metrics": val}
    assert validation_status(record) == (
        "layer_silent",
        "hidden layer(s) [1] silent on the whole validation set",
    )
    assert validation_status({**record, "val_metrics": {}})[0] == "unvalidated"
    assert validation_status({**record, "status": "diverged", "reason": "nan"}) == ("diverged", "nan")
