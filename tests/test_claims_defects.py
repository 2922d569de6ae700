"""Judging defects, one test each (each fails on the rules before
the fix): the accuracy condition on test, refuting where every plausible choice refutes, choices
that read no test column, diverged sweeps, thresholds robust to rounding, paired share intervals,
and the smaller ones (rule words, exclusions counted, tie order)."""

import numpy as np
import pytest

from spikesparse.study.analysis import stats
from spikesparse.study.analysis.claims import core, seed001
from tests.test_claims import e1, e2, row_for, runs_frame, setting, table
from tests.test_claims_001 import LARGE, frame, only, rows

# --- 1. the accuracy condition is judged on test, one rule for every claim -------------------------


def test_002_iso_straddling_test_accuracy_is_inconclusive():
    # validation: no drop; test: per-seed changes -0.8 .. +1.8 points against the half-point tolerance
    runs = e2([0.75] * 5, accuracy=[0.892, 0.918, 0.90, 0.905, 0.91], val_accuracy=0.9)
    row = row_for(table(runs), "002-iso")
    assert row["verdict"] == "inconclusive", row["reason"]
    assert "test accuracy change: the interval reaches -0.005" in row["reason"]


def test_000_overshoot_straddling_test_accuracy_is_inconclusive():
    # settles at 6 x target, but the test accuracy change interval reaches the 1-point tolerance
    runs = e1(0.45, {1.0: 0.30}, hl2_acc=[0.95, 0.99, 0.96, 0.985, 0.975])
    runs.loc[runs["family"] == "homeostatic_l2", "val_accuracy"] = 0.97
    row = row_for(table(runs), "000-overshoot-rate")
    assert row["verdict"] == "inconclusive", row["reason"]
    assert "test accuracy change" in row["reason"]


def test_one_accuracy_rule_surely_within_straddles_surely_worse():
    within = {"mean": 0.0, "ci_low": -0.004, "ci_high": 0.004, "n": 5}
    straddles = {"mean": -0.01, "ci_low": -0.02, "ci_high": 0.0, "n": 5}
    worse = {"mean": -0.05, "ci_low": -0.06, "ci_high": -0.04, "n": 5}
    assert core.accuracy_verdict(within, 0.005)[0] == "held"
    assert core.accuracy_verdict(straddles, 0.005)[0] == "inconclusive"
    assert core.accuracy_verdict(worse, 0.005)[0] == "not held"


def test_000_hard_a_soft_method_whose_test_accuracy_straddles_is_unsure():
    # the soft method reaches the rate; its test accuracy interval reaches the 2-point bound
    runs = e1(
        0.45, {1.0: 0.30}, hard_rates={"hard_budget": 0.04}, soft_rates={"spike_count": ("spike_count", 0.04)}
    )
    soft = runs.index[runs["family"] == "spike_count"]
    runs.loc[soft, "accuracy"] = [0.93, 0.97, 0.94, 0.975, 0.96]
    row = row_for(table(runs), "000-hard")
    assert row["verdict"] == "inconclusive", row["reason"]


# --- 2. refute where every plausible choice refutes -------------------------------------------------


@pytest.mark.parametrize(
    "spikes, verdict",
    [
        (70.0, "not held"),  # judged there anyway: 30 % fewer spikes, far below 60 %: every choice refutes
        (20.0, "inconclusive"),  # 80 % fewer there: the plausible choices disagree
    ],
)
def test_no_choice_is_refuted_only_where_every_setting_within_reach_refutes(spikes, verdict):
    # lambda 1's mean validation drop (0.6 points) misses the half point; its interval reaches it
    runs = e2([1 - spikes / 100] * 5, val_accuracy=[0.897, 0.891, 0.896, 0.892, 0.894])
    row = row_for(table(runs), "002-iso")
    assert row["verdict"] == verdict, row["reason"]
    if verdict == "not held":
        assert "give not held too" in row["reason"]


# --- 3. no test column reaches a choice -------------------------------------------------------------


def test_a_nan_test_accuracy_does_not_move_the_choice():
    base = setting("e2_x", "e2", "baseline", "baseline", 0.0, accuracy=0.9, spikes_per_sample=100.0)
    low = setting(
        "e2_x", "e2", "spike_count", "spike_count", 1.0, accuracy=0.9, spikes_per_sample=[30, 35, 32, 31, 30]
    )
    high = setting(
        "e2_x", "e2", "spike_count", "spike_count", 3.0, accuracy=0.9, spikes_per_sample=[50, 52, 51, 50, 49]
    )
    runs = runs_frame(base + low + high)
    before = row_for(table(runs), "002-iso")
    runs.loc[(runs["lam"] == 1.0) & (runs["seed"] == 0), "accuracy"] = np.nan
    after = row_for(table(runs), "002-iso")
    assert before["selection"] == after["selection"] and "lambda=1 " in after["selection"]


def test_001b_lambda_and_exclusions_read_no_test_status():
    base = rows(LARGE, "baseline", "baseline")
    sweep = rows(LARGE, "spike_count", "spike_count", lam=0.1, any_layer_silent=1) + rows(
        LARGE, "spike_count", "spike_count", lam=1.0, any_layer_silent=1
    )
    runs = frame(base, sweep)
    before = only(seed001.evaluate_plain({"runs": runs}))[1]
    # a run marked diverged on test only (validation fine) changes neither the lambda nor the count
    runs.loc[runs.index[-1], "status"] = "diverged"
    after = only(seed001.evaluate_plain({"runs": runs}))[1]
    assert (before.selection, before.n_excluded) == (after.selection, after.n_excluded)


# --- 4. diverged sweeps: one rule -------------------------------------------------------------------


def test_every_treated_run_diverged_is_not_held_every_baseline_run_diverged_is_untestable():
    runs = e2([0.7] * 5)
    sweep = runs["family"] == "spike_count"
    all_treated = runs.copy()
    all_treated.loc[sweep, ["status", "val_status"]] = "diverged"
    row = row_for(table(all_treated), "002-iso")
    assert row["verdict"] == "not held" and "every spike_count run diverged" in row["reason"]
    all_base = runs.copy()
    all_base.loc[~sweep, ["status", "val_status"]] = "diverged"
    row = row_for(table(all_base), "002-iso")
    assert row["verdict"] == "untestable" and "every baseline run diverged" in row["reason"]


def test_001b_every_penalty_run_diverged_is_not_held_not_not_run():
    runs = frame(rows(LARGE, "baseline", "baseline"), rows(LARGE, "spike_count", "spike_count", lam=0.1))
    runs.loc[runs["family"] == "spike_count", ["status", "val_status"]] = "diverged"
    j = only(seed001.evaluate_plain({"runs": runs}))[1]
    assert j.verdict == "not held" and "diverged" in j.reason


# --- 5. thresholds robust to rounding ---------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 3.0, 7.0, 0.1])
def test_an_exact_60_percent_reduction_is_inconclusive_at_every_scale(scale):
    base = setting("e2_x", "e2", "baseline", "baseline", 0.0, accuracy=0.9, spikes_per_sample=100.0 * scale)
    sweep = setting(
        "e2_x", "e2", "spike_count", "spike_count", 1.0, accuracy=0.9, spikes_per_sample=40.0 * scale
    )
    row = row_for(table(runs_frame(base + sweep)), "002-iso")
    assert row["verdict"] == "inconclusive", (scale, row["estimate"], row["reason"])


def test_side_treats_the_last_bits_as_the_threshold():
    assert core.side(0.6000000000000001, 0.6) == 0 and core.side(1 - 0.4, 0.6) == 0
    assert core.side(0.6001, 0.6) == 1 and core.side(0.5999, 0.6) == -1


# --- 6. paired share intervals ----------------------------------------------------------------------


def test_paired_newcombe_matches_the_published_worked_example():
    # Fagerland, Lydersen & Laake's chapter 8 table [[59, 6], [16, 80]] (the R package
    # contingencytables prints -0.0621, 95 % CI -0.1186 to -0.0046 for Newcombe's square-and-add)
    a, b, c, d = 59, 6, 16, 80
    first = [1] * a + [1] * b + [0] * c + [0] * d
    second = [1] * a + [0] * b + [1] * c + [0] * d
    s = stats.paired_newcombe(first, second)
    assert (round(s["mean"], 4), round(s["ci_low"], 4), round(s["ci_high"], 4)) == (-0.0621, -0.1186, -0.0046)


def test_paired_newcombe_is_narrower_than_unpaired_when_pairs_agree():
    first = [1, 1, 1, 0, 0, 0, 0, 0]
    second = [1, 1, 0, 0, 0, 0, 0, 0]
    paired = stats.paired_newcombe(first, second)
    unpaired = stats.newcombe(3, 8, 2, 8)
    assert paired["mean"] == pytest.approx(unpaired["mean"])
    assert paired["ci_high"] - paired["ci_low"] < unpaired["ci_high"] - unpaired["ci_low"]


def test_001d_judges_one_lambda_paired_by_seed_not_lambda_x_seed_pooled():
    single = rows(LARGE, "first_spike", "fs_single", lam=0.1, two_phase=False, any_layer_silent=1) + rows(
        LARGE, "first_spike", "fs_single", lam=1.0, two_phase=False, any_layer_silent=[1, 1, 0, 0, 0]
    )
    two = rows(LARGE, "first_spike", "fs_two", lam=0.1, two_phase=True) + rows(
        LARGE, "first_spike", "fs_two", lam=1.0, two_phase=True
    )
    runs = frame(rows(LARGE, "baseline", "baseline"), single, two)
    j = only(seed001.evaluate_two_phase({"runs": runs}))[1]
    assert j.stats["n"] == 5  # five seeds, not ten (lambda x seed) runs
    assert "lambda=0.1" in j.selection


# --- smaller ----------------------------------------------------------------------------------------


def test_rule_words_say_strict_where_the_code_is_strict():
    claims = table(e2([0.7] * 5))
    for rule in claims["rule"]:
        assert "interval is >=" not in rule and "is <=" not in rule, rule


def test_000_overshoot_counts_baseline_exclusions_as_002_does():
    runs = e1(0.45, {1.0: 0.30})
    runs.loc[runs.index[0], "val_status"] = "silent"  # one baseline run excluded on validation
    assert row_for(table(runs), "000-overshoot-rate")["n_excluded"] == 1


def test_choose_breaks_ties_by_the_smaller_lambda_then_the_method():
    base = setting("e2_x", "e2", "baseline", "baseline", 0.0, accuracy=0.9, spikes_per_sample=100.0)
    a = setting("e2_x", "e2", "spike_count", "a_method", 3.0, accuracy=0.9, spikes_per_sample=30.0)
    b = setting("e2_x", "e2", "spike_count", "b_method", 1.0, accuracy=0.9, spikes_per_sample=30.0)
    runs = runs_frame(base + a + b)
    sweep = runs[runs["family"] == "spike_count"]
    pick = core.choose(
        sweep, runs[runs["family"] == "baseline"], 0.005, core.val_reduction("spikes_per_sample")
    )
    assert (pick.method, pick.lam) == ("b_method", 1.0)
