"""Claims verdict rules on synthetic tables: every verdict is exercised."""

import numpy as np
import pandas as pd
import pytest

from spikesparse import claims as C


def runs_frame(rows):
    base = {"status": "ok", "chance_accuracy": 0.1, "silent_fraction": 0.0, "config_hash": "abc"}
    return pd.DataFrame([{**base, **r} for r in rows])


def sweep_rows(experiment, study, family, method, lam, accs, spikes, **extra):
    return [
        {
            "experiment": experiment,
            "study": study,
            "family": family,
            "method": method,
            "lam": lam,
            "seed": i,
            "accuracy": a,
            "spikes_per_sample": s,
            **extra,
        }
        for i, (a, s) in enumerate(zip(accs, spikes, strict=True))
    ]


def e2(reduction_accs, reduction_spikes):
    rows = sweep_rows("e2_x", "e2", "baseline", "baseline", 0.0, [0.90, 0.92, 0.91], [100, 100, 100])
    for lam, (accs, spk) in zip((1.0, 10.0), zip(reduction_accs, reduction_spikes, strict=True), strict=True):
        rows += sweep_rows("e2_x", "e2", "spike_count", "spike_count", lam, accs, spk)
    return runs_frame(rows)


def test_iso_accuracy_reduction_on_a_synthetic_sweep():
    runs = e2([[0.91, 0.91, 0.91], [0.85, 0.86, 0.84]], [[40, 40, 40], [10, 10, 10]])
    base = runs[runs["family"] == "baseline"]
    sweep = runs[runs["family"] == "spike_count"]
    iso = C.spike_reduction(sweep, base)
    # baseline mean .91, SE .00577: lambda=1 (mean .91) qualifies, lambda=10 (.85) does not
    assert iso["lam"] == 1.0 and iso["reduction"]["mean"] == pytest.approx(0.6)
    loose = C.spike_reduction(sweep, base, max_drop=0.07)
    assert loose["lam"] == 10.0 and loose["reduction"]["mean"] == pytest.approx(0.9)
    assert C.spike_reduction(sweep, base, max_drop=-0.5) is None


@pytest.mark.parametrize(
    "reduction, verdict",
    [(70, "held"), (50, "partly"), (10, "not held")],
)
def test_002_verdicts(reduction, verdict):
    runs = e2([[0.91, 0.915, 0.905], [0.5, 0.5, 0.5]], [[100 - reduction] * 3, [1, 1, 1]])
    row = C.claim_002(runs, "e2_x", at_one_percent=False)
    assert row["verdict"] == verdict
    assert row["estimate"] == pytest.approx(reduction / 100)


def test_002_inconclusive_when_the_baseline_did_not_learn():
    runs = e2([[0.1, 0.1, 0.1], [0.1, 0.1, 0.1]], [[1, 1, 1], [1, 1, 1]])
    runs.loc[runs["family"] == "baseline", "accuracy"] = 0.12
    assert C.claim_002(runs, "e2_x", at_one_percent=True)["verdict"] == "inconclusive"


def e1(hl2_rate, hl2_acc, hard_rates):
    rows = sweep_rows("e1", "e1", "baseline", "baseline", 0.0, [0.88, 0.9, 0.89], [1, 1, 1], hidden_rate=0.2)
    rows += sweep_rows(
        "e1", "e1", "homeostatic_l2", "homeostatic_l2", 1.0, hl2_acc, [1, 1, 1], hidden_rate=hl2_rate
    )
    for i, r in enumerate(hard_rates):
        rows += sweep_rows("e1", "e1", "hard_constraint", f"hard_{i}", 0.0, [0.8] * 3, [1] * 3, hidden_rate=r)
    frame = runs_frame(rows)
    frame["cfg.regularizer.target_rate"] = np.where(frame["family"] == "homeostatic_l2", 0.05, np.nan)
    return frame


@pytest.mark.parametrize(
    "rate, accs, verdict",
    [
        (0.45, [0.89, 0.9, 0.9], "held"),  # overshoot, accuracy high
        (0.45, [0.6, 0.6, 0.6], "partly"),  # overshoot, accuracy lost
        (0.06, [0.89, 0.9, 0.9], "not held"),  # near the target
    ],
)
def test_000_overshoot_verdicts(rate, accs, verdict):
    row = C.claim_000_overshoot(e1(rate, accs, [0.01]), "e1")
    assert row["verdict"] == verdict
    assert row["estimate"] == pytest.approx(rate)


@pytest.mark.parametrize(
    "rates, verdict", [([0.01, 0.04], "held"), ([0.01, 0.2], "partly"), ([0.3, 0.2], "not held")]
)
def test_000_hard_constraint_verdicts(rates, verdict):
    row = C.claim_000_hard(e1(0.3, [0.9] * 3, rates), "e1")
    assert row["verdict"] == verdict
    assert row["estimate"] == pytest.approx(max(rates))
    assert "accuracy cost +9.0 points" in row["our_value"]


def e3(single_silent, two_spikes):
    rows = sweep_rows("e3_x", "e3", "baseline", "baseline", 0.0, [0.9, 0.91, 0.92], [100] * 3)
    rows += sweep_rows(
        "e3_x", "e3", "first_spike", "fs1", 1.0, [0.5] * 3, [5] * 3, silent_fraction=single_silent
    )
    rows += sweep_rows("e3_x", "e3", "first_spike", "fs2", 1.0, [0.91] * 3, [two_spikes] * 3)
    frame = runs_frame(rows)
    frame["cfg.regularizer.two_phase"] = frame["method"].map({"fs1": False, "fs2": True})
    return frame


@pytest.mark.parametrize(
    "single_silent, two_spikes, verdict",
    [(0.8, 50, "held"), (0.0, 50, "partly"), (0.8, 95, "partly"), (0.0, 95, "not held")],
)
def test_001_verdicts(single_silent, two_spikes, verdict):
    frame = e3(single_silent, two_spikes)
    if single_silent == 0.0:  # single-phase keeps its accuracy: not switched off
        frame.loc[frame["method"] == "fs1", "accuracy"] = 0.9
    assert C.claim_001(frame, "e3_x")["verdict"] == verdict


def conversion_frame(gains):
    rows = []
    for seed, gain in enumerate(gains):
        for alpha, acc, chosen in ((0.0, 0.80, False), (0.5, 0.80 + gain, True)):
            rows.append(
                {
                    "experiment": "e4_x",
                    "seed": seed,
                    "normalization": "max",
                    "time_steps": 16,
                    "split": "test",
                    "alpha": alpha,
                    "accuracy": acc,
                    "l4_selected": chosen,
                    "config_hash": "h",
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "gains, verdict",
    [([0.03, 0.025, 0.035], "held"), ([0.005, 0.006, 0.004], "partly"), ([0.01, -0.02, 0.0], "not held")],
)
def test_003_verdicts(gains, verdict):
    row = C.claim_003(conversion_frame(gains), "e4_x")
    assert row["verdict"] == verdict
    assert row["estimate"] == pytest.approx(np.mean(gains))


def test_claims_table_rows_and_not_run():
    runs = pd.concat([e1(0.45, [0.9] * 3, [0.01]), e2([[0.91] * 3, [0.9] * 3], [[40] * 3, [10] * 3])])
    table = C.claims_table(runs, conversion_frame([0.01, 0.02]))
    assert list(table["claim_id"]) == ["000-overshoot", "000-hard", "002-iso", "002-1pct", "003"]
    assert set(table.columns) == set(C.COLUMNS)
    e3_missing = C.claim_001(runs, "e3_none")
    assert e3_missing["verdict"] == "not run"
    md = C.claims_markdown(table)
    assert md.count("\n| ") == len(table) + 1
