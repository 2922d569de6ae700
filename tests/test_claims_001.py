"""Seed 001 rules (claims 001a-001d) on hand-made E3 tables: every verdict of every rule, the
switch-off count per hidden layer, and selection on validation only."""

import math

import pandas as pd
import pytest

from spikesparse.study import records
from spikesparse.study.analysis import stats
from spikesparse.study.analysis.claims import core, seed001

SMALL, LARGE = "e3_d2_w64", "e3_d6_w128"
HIDDEN = {SMALL: "64,64", LARGE: "128,128,128,128,128,128", "e3_d4_w64": "64,64,64,64"}


def rows(experiment, family, method, lam=0.0, seeds=range(5), two_phase=None, **per_seed):
    """One row per seed; a keyword is a scalar or a per-seed list; ``x`` without ``val_x`` gets the
    same value on validation."""
    for key in list(per_seed):
        if not key.startswith("val_") and f"val_{key}" not in per_seed:
            per_seed[f"val_{key}"] = per_seed[key]
    out = []
    for i, seed in enumerate(seeds):
        row = {
            "experiment": experiment,
            "study": "e3",
            "family": family,
            "method": method,
            "lam": lam,
            "seed": seed,
            "status": "ok",
            "val_status": "ok",
            "chance_accuracy": 0.1,
            "config_hash": f"{experiment}-{method}-{lam}",
            "cfg.model.hidden": HIDDEN[experiment],
            "cfg.regularizer.two_phase": two_phase,
            "accuracy": 0.9,
            "hidden_rate": 0.1,
            "any_layer_silent": 0,
        }
        for key, value in per_seed.items():
            row[key] = value[i] if isinstance(value, list) else value
        out.append(row)
    return out


def frame(*parts):
    runs = pd.DataFrame([r for p in parts for r in p])
    for col in ("val_accuracy", "val_hidden_rate", "val_any_layer_silent"):
        test = runs[col.removeprefix("val_")]
        runs[col] = runs[col].fillna(test) if col in runs else test
    return runs


def only(results):
    assert len(results) == 1, results
    return results[0]


# --- helpers ------------------------------------------------------------------------------------


def test_wilson_interval_known_values():
    lo, hi = stats.wilson(0, 5)
    assert lo == 0.0 and hi == pytest.approx(0.4345, abs=1e-3)
    lo, hi = stats.wilson(3, 3)
    assert lo == pytest.approx(0.4385, abs=1e-3) and hi == 1.0
    assert all(math.isnan(x) for x in stats.wilson(0, 0))


def test_newcombe_difference_clears_zero_only_with_a_clear_gap():
    assert stats.newcombe(3, 3, 0, 5)["ci_low"] > 0
    assert stats.newcombe(1, 3, 0, 5)["ci_low"] < 0
    d = stats.newcombe(2, 4, 1, 4)
    assert d["mean"] == pytest.approx(0.25) and d["ci_low"] < 0.25 < d["ci_high"]


def test_switched_off_reads_the_per_layer_flag_and_falls_back_on_status():
    runs = frame(
        rows(SMALL, "baseline", "baseline", any_layer_silent=[1, 0, 0, 0, 0], val_any_layer_silent=0)
    )
    assert records.switched_off(runs).tolist() == [True, False, False, False, False]
    assert not records.switched_off(runs, "val").any()
    legacy = runs.drop(columns=["any_layer_silent"]).assign(
        status=["layer_silent", "ok", "silent", "ok", "ok"]
    )
    assert records.switched_off(legacy).tolist() == [True, False, True, False, False]
    # the status comes from the test split: it never stands in for the validation flag
    assert not records.switched_off(legacy.drop(columns=["val_any_layer_silent"]), "val").any()
    with pytest.raises(ValueError, match="split"):
        records.switched_off(runs, "train")


def test_layer_sizes_and_a_clear_error():
    assert seed001.layer_sizes(frame(rows(LARGE, "baseline", "baseline"))) == (6, 128)
    with pytest.raises(ValueError, match="cfg.model.hidden"):
        seed001.layer_sizes(pd.DataFrame({"x": [1]}))


# --- 001a ---------------------------------------------------------------------------------------


def sizes(large_rate, large_acc, small_rate=0.1, small_acc=0.9):
    return frame(
        rows(SMALL, "baseline", "baseline", hidden_rate=small_rate, accuracy=small_acc),
        rows("e3_d4_w64", "baseline", "baseline"),
        rows(LARGE, "baseline", "baseline", hidden_rate=large_rate, accuracy=large_acc),
    )


@pytest.mark.parametrize(
    "large_rate, large_acc, verdict",
    [
        ([0.15, 0.16, 0.14, 0.15, 0.15], 0.9, "held"),  # +50 % rate, same accuracy
        ([0.05, 0.06, 0.05, 0.04, 0.05], 0.9, "not held"),  # the rate falls
        ([0.15, 0.16, 0.14, 0.15, 0.15], [0.95, 0.96, 0.95, 0.94, 0.95], "not held"),  # real accuracy gain
        ([0.08, 0.13, 0.09, 0.12, 0.10], 0.9, "inconclusive"),  # growth straddles 0
    ],
)
def test_001a_pairs_largest_with_smallest_size(large_rate, large_acc, verdict):
    label, j = only(seed001.evaluate_size({"runs": sizes(large_rate, large_acc)}))
    assert label == "e3 (d2w64..d6w128)"
    assert j.verdict == verdict, j.reason
    assert j.stats["n"] == 5


def test_001a_untestable_near_chance_and_not_run_with_one_size():
    _, j = only(seed001.evaluate_size({"runs": sizes(0.15, 0.12)}))
    assert j.verdict == "untestable" and LARGE in j.reason
    _, j = only(seed001.evaluate_size({"runs": frame(rows(SMALL, "baseline", "baseline"))}))
    assert j.verdict == "not run"


# --- 001b ---------------------------------------------------------------------------------------


def plain(off_by_lam, base_off=0, val_off_by_lam=None, seeds=range(3)):
    parts = [rows(SMALL, "baseline", "baseline", any_layer_silent=[1] * base_off + [0] * (5 - base_off))]
    for lam, off in off_by_lam.items():
        val = (val_off_by_lam or off_by_lam)[lam]
        parts.append(
            rows(
                SMALL,
                "spike_count",
                "spike_count",
                lam,
                seeds,
                any_layer_silent=off,
                val_any_layer_silent=val,
            )
        )
    return frame(*parts)


def test_001b_held_where_the_penalty_switches_every_run_off():
    label, j = only(seed001.evaluate_plain({"runs": plain({0.16: [0, 0, 0], 1.6: [1, 1, 1]})}))
    assert label == SMALL and j.verdict == "held", j.reason
    assert "lambda=1.6" in j.selection and "3/3" in j.our_value and "Wilson" in j.our_value


def test_001b_inconclusive_with_one_switch_off_and_not_held_with_none_over_many_runs():
    _, j = only(seed001.evaluate_plain({"runs": plain({1.6: [1, 0, 0]})}))
    assert j.verdict == "inconclusive"
    # no switch-off in 3 penalty runs: the Newcombe top (~0.56) is below 0.6, so the rule can fail
    _, j = only(seed001.evaluate_plain({"runs": plain({0.16: [0, 0, 0], 1.6: [0, 0, 0]})}))
    assert j.verdict == "not held", j.reason


def test_001b_picks_lambda_on_validation_not_test():
    # test says lambda 0.16 switches off, validation says 1.6: the choice follows validation
    runs = plain({0.16: [1, 1, 1], 1.6: [0, 0, 0]}, val_off_by_lam={0.16: [0, 0, 0], 1.6: [1, 1, 0]})
    _, j = only(seed001.evaluate_plain({"runs": runs}))
    assert "lambda=1.6" in j.selection and j.verdict != "held"


def test_001b_untestable_on_a_baseline_at_chance():
    runs = plain({1.6: [1, 1, 1]})
    runs.loc[runs["family"] == "baseline", ["accuracy", "val_accuracy"]] = 0.1
    assert only(seed001.evaluate_plain({"runs": runs}))[1].verdict == "untestable"


# --- 001c ---------------------------------------------------------------------------------------


def single(rate, acc=0.9, val_acc=None, lam=0.1):
    return rows(
        SMALL,
        "first_spike",
        "first_spike_single",
        lam,
        two_phase=False,
        hidden_rate=rate,
        accuracy=acc,
        val_accuracy=acc if val_acc is None else val_acc,
    )


@pytest.mark.parametrize(
    "rate, acc, verdict",
    [
        ([0.05, 0.05, 0.06, 0.05, 0.04], 0.9, "held"),  # 50 % lower rate, same accuracy
        ([0.095, 0.09, 0.095, 0.09, 0.095], 0.9, "not held"),  # only ~7 % lower
        ([0.05, 0.05, 0.06, 0.05, 0.04], [0.885, 0.90, 0.87, 0.905, 0.89], "inconclusive"),
    ],
)
def test_001c_reduction_at_accuracy_within_one_point(rate, acc, verdict):
    runs = frame(rows(SMALL, "baseline", "baseline"), single(rate, acc, val_acc=0.9))
    _, j = only(seed001.evaluate_first_spike({"runs": runs}))
    assert j.verdict == verdict, j.reason


def test_001c_not_held_when_no_lambda_keeps_validation_accuracy():
    runs = frame(rows(SMALL, "baseline", "baseline"), single(0.05, acc=0.9, val_acc=0.85))
    _, j = only(seed001.evaluate_first_spike({"runs": runs}))
    assert j.verdict == "not held" and "validation" in j.reason


# --- 001d ---------------------------------------------------------------------------------------


def phases(single_off, two_off, two_acc=0.9, single_val_off=None, lam=0.1):
    return frame(
        rows(LARGE, "baseline", "baseline"),
        rows(
            LARGE,
            "first_spike",
            "first_spike_single",
            lam,
            range(3),
            two_phase=False,
            any_layer_silent=single_off,
            val_any_layer_silent=single_off if single_val_off is None else single_val_off,
            accuracy=[0.1 if o else 0.9 for o in single_off],
        ),
        rows(
            LARGE,
            "first_spike",
            "first_spike_two_phase_ramp",
            lam,
            range(3),
            two_phase=True,
            any_layer_silent=two_off,
            accuracy=two_acc,
            **{"cfg.regularizer.switch": "epoch", "cfg.regularizer.switch_epoch": 10},
            **{"cfg.regularizer.after_switch": "ramp", "cfg.regularizer.ramp_epochs": 10},
            **{"cfg.regularizer.wake_up": 0.0},
        ),
    )


def test_001d_held_where_two_phase_spares_every_run():
    label, j = only(seed001.evaluate_two_phase({"runs": phases([1, 1, 1], [0, 0, 0])}))
    assert label == LARGE and j.verdict == "held", j.reason
    assert "ramped over 10 epochs" in j.reading and "n=3" in j.reason


def test_001d_not_held_where_two_phase_loses_accuracy():
    _, j = only(seed001.evaluate_two_phase({"runs": phases([1, 1, 1], [0, 0, 0], two_acc=0.05)}))
    assert j.verdict == "not held"


def test_001d_capped_at_inconclusive_where_two_phase_keeps_its_layers_but_sits_at_chance():
    # it avoided the silent layers but learned nothing: not evidence for the claim, and not a
    # verdict that one seed going silent on another CPU could flip to "not held"
    _, j = only(seed001.evaluate_two_phase({"runs": phases([1, 1, 1], [0, 0, 0], two_acc=0.12)}))
    assert j.verdict == "inconclusive" and "does not learn" in j.reason


def test_001d_not_held_when_two_phase_switches_off_in_the_same_seeds():
    # the paired interval of 1/3 against the same 1/3 is [-47 %, 47 %]: its top is below 60 %
    _, j = only(seed001.evaluate_two_phase({"runs": phases([1, 0, 0], [1, 0, 0], two_acc=[0.1, 0.9, 0.9])}))
    assert j.verdict == "not held" and "top 47.1 %" in j.reason


def test_001d_inconclusive_when_two_phase_spares_one_seed_of_two():
    _, j = only(seed001.evaluate_two_phase({"runs": phases([1, 1, 0], [1, 0, 0], two_acc=[0.1, 0.9, 0.9])}))
    assert j.verdict == "inconclusive", j.reason


def test_001d_not_held_when_two_phase_switches_off_in_every_seed_as_single_phase_does():
    """Two-phase avoided nothing: the same rule as 001b's makes that "not held" (the interval's top,
    56 % at 3 seeds, is below 60 %); a bar of 0 had left it inconclusive, a rule that could not fail
    where both arms fail alike."""
    _, j = only(seed001.evaluate_two_phase({"runs": phases([1, 1, 1], [1, 1, 1], two_acc=0.1)}))
    assert j.verdict == "not held", j.reason
    assert "is below 60.0 %" in j.reason


@pytest.mark.parametrize(
    "off, base_off, verdict",
    [
        ([1, 1, 1], [0, 0, 0], "held"),
        ([0, 0, 0], [0, 0, 0], "not held"),
        ([1, 1, 1], [1, 1, 1], "not held"),
        ([1, 0, 0], [0, 0, 0], "inconclusive"),
        ([], [], "inconclusive"),
    ],
)
def test_one_switch_off_rule_for_001b_and_001d(off, base_off, verdict):
    diff = stats.paired_newcombe(pd.Series(off, dtype=bool), pd.Series(base_off, dtype=bool))
    assert seed001.switch_off_verdict(diff, "share")[0] == verdict


def test_001d_untestable_where_single_phase_never_switches_off_on_validation():
    # switched off on test only: validation decides testability, so the row stays untestable
    runs = phases([1, 1, 1], [0, 0, 0], single_val_off=[0, 0, 0])
    _, j = only(seed001.evaluate_two_phase({"runs": runs}))
    assert j.verdict == "untestable" and "single-phase switched off in no seed" in j.reason


def test_001_rows_in_the_claims_table_have_reasons_and_known_verdicts():
    from spikesparse.study.analysis import claims as C

    runs = pd.concat([sizes([0.15] * 5, 0.9), phases([1, 1, 1], [0, 0, 0])], ignore_index=True)
    table = C.claims_table(runs, pd.DataFrame())
    ours = table[table["claim_id"].str.startswith("001")]
    assert set(ours["claim_id"]) == {"001a", "001b", "001c", "001d"}
    assert ours["verdict"].isin(core.VERDICTS).all() and (ours["reason"].str.len() > 0).all()
