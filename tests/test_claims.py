"""Claims rules on hand-made tables: every verdict of every rule, validation-only selection, and
the registry's invariants."""

import numpy as np
import pandas as pd
import pytest

from spikesparse.study.analysis import claims as C
from spikesparse.study.analysis.claims import core, seed000, seed002, seed003

SEEDS = range(5)


def runs_frame(rows):
    base = {
        "status": "ok",
        "val_status": "ok",
        "chance_accuracy": 0.1,
        "config_hash": "abc",
        "cfg.regularizer.target_rate": 0.05,
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def setting(experiment, study, family, method, lam, **per_seed):
    """One row per seed; each keyword is a scalar (same for every seed) or a per-seed list.
    ``x`` without a ``val_x`` twin gets the same value on validation."""
    for key in list(per_seed):
        if not key.startswith("val_") and f"val_{key}" not in per_seed:
            per_seed[f"val_{key}"] = per_seed[key]
    rows = []
    for i in SEEDS:
        row = {"experiment": experiment, "study": study, "family": family, "method": method, "lam": lam}
        row["seed"] = i
        for key, value in per_seed.items():
            row[key] = value[i] if isinstance(value, list) else value
        rows.append(row)
    return rows


# --- 002 ----------------------------------------------------------------------------------------


def e2(reductions, accuracy=0.9, val_accuracy=None, base_accuracy=0.9):
    base = setting("e2_x", "e2", "baseline", "baseline", 0.0, accuracy=base_accuracy, spikes_per_sample=100.0)
    spikes = [100 * (1 - r) for r in reductions]
    sweep = setting(
        "e2_x",
        "e2",
        "spike_count",
        "spike_count",
        1.0,
        accuracy=accuracy,
        val_accuracy=accuracy if val_accuracy is None else val_accuracy,
        spikes_per_sample=spikes,
    )
    return runs_frame(base + sweep)


def row_for(claims, claim_id, experiment=None):
    sel = claims[claims["claim_id"] == claim_id]
    if experiment is not None:
        sel = sel[sel["experiment"] == experiment]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def table(runs, conversion=None):
    return C.claims_table(runs, pd.DataFrame() if conversion is None else conversion)


@pytest.mark.parametrize(
    "reductions, verdict",
    [
        ([0.70, 0.72, 0.71, 0.69, 0.70], "held"),
        ([0.30, 0.32, 0.31, 0.29, 0.30], "not held"),
        ([0.45, 0.75, 0.55, 0.70, 0.62], "inconclusive"),
        ([0.60, 0.61, 0.62, 0.63, 0.64], "held"),  # boundary: the interval's low end at 0.60 exactly
    ],
)
def test_002_verdict_reads_the_paired_interval(reductions, verdict):
    row = row_for(table(e2(reductions)), "002-iso")
    assert row["verdict"] == verdict
    assert row["estimate"] == pytest.approx(np.mean(reductions))
    assert row["n_seeds"] == 5


def test_002_paired_interval_uses_each_seeds_own_baseline():
    base = setting(
        "e2_x", "e2", "baseline", "baseline", 0.0, accuracy=0.9, spikes_per_sample=[50, 100, 150, 200, 250]
    )
    sweep = setting(
        "e2_x", "e2", "spike_count", "spike_count", 1.0, accuracy=0.9, spikes_per_sample=[15, 30, 45, 60, 75]
    )
    row = row_for(table(runs_frame(base + sweep)), "002-iso")
    # every seed cut its own baseline by exactly 70 %: zero spread, although the raw counts vary 5x
    assert row["estimate"] == pytest.approx(0.7) and row["ci_high"] - row["ci_low"] == pytest.approx(
        0.0, abs=1e-12
    )


def test_002_setting_is_chosen_on_validation_and_its_accuracy_judged_on_test_too():
    # validation says the setting loses 5 points: not iso-accurate, whatever the test split says
    runs = e2([0.7] * 5, accuracy=0.9, val_accuracy=0.85)
    iso = row_for(table(runs), "002-iso")
    assert iso["verdict"] == "not held" and "every spike-count setting loses" in iso["reason"]
    # validation within half a point: chosen; but 20 points lost on test refute "iso-accuracy"
    runs = e2([0.7] * 5, accuracy=0.7, val_accuracy=0.898)
    iso = row_for(table(runs), "002-iso")
    assert iso["selection"].startswith("spike_count")
    assert iso["verdict"] == "not held" and "test accuracy change: the whole interval is <" in iso["reason"]


def test_002_judges_the_annealed_loss_never_its_constant_lambda_ablation():
    """methods.md: the spike-count loss is annealed; constant lambda is the schedule's ablation.
    Here the ablation cuts more spikes on validation and test, and the claim still reads the
    annealed runs; their unusable runs alone are counted."""
    runs = e2([0.3] * 5)
    runs["cfg.regularizer.schedule"] = runs["family"].map({"spike_count": "ramp"})
    ablation = runs[runs["family"] == "spike_count"].assign(
        method="spike_count_constant",
        spikes_per_sample=10.0,
        val_spikes_per_sample=10.0,
        **{"cfg.regularizer.schedule": "constant"},
    )
    ablation.loc[ablation["seed"] == 0, ["status", "val_status"]] = "silent"
    row = row_for(table(pd.concat([runs, ablation], ignore_index=True)), "002-iso")
    assert row["selection"].startswith("spike_count,") and "constant" not in row["selection"]
    assert row["verdict"] == "not held" and row["n_excluded"] == 0
    assert row["estimate"] == pytest.approx(0.3)


def test_002_untestable_when_the_baseline_does_not_learn_and_not_run_without_a_sweep():
    runs = e2([0.7] * 5, base_accuracy=0.12)
    row = row_for(table(runs), "002-iso")
    assert row["verdict"] == "untestable" and "chance" in row["reason"]
    only_base = runs_frame(
        setting("e2_x", "e2", "baseline", "baseline", 0.0, accuracy=0.9, spikes_per_sample=1.0)
    )
    assert row_for(table(only_base), "002-iso")["verdict"] == "not run"


def test_a_baseline_at_chance_on_average_does_not_learn_however_spread_its_seeds():
    """Mean validation accuracy 0.19, chance 0.1, margin 0.1: the baseline does not learn. Its
    interval's top (0.40) clears the margin only through the spread of its seeds, which another
    CPU's rounding changes; the gate reads the mean."""
    runs = e2([0.7] * 5)
    runs.loc[runs["family"] == "baseline", "val_accuracy"] = [0.05, 0.40, 0.10, 0.35, 0.05]
    row = row_for(table(runs), "002-iso")
    assert row["verdict"] == "untestable" and "chance" in row["reason"]


def test_excluded_runs_are_counted_not_used():
    runs = e2([0.7] * 5)
    runs.loc[(runs["family"] == "spike_count") & (runs["seed"] == 0), "val_status"] = "layer_silent"
    row = row_for(table(runs), "002-iso")
    assert row["n_excluded"] == 1 and row["n_seeds"] == 4


def test_runs_are_admitted_on_validation_not_on_test():
    """A layer silent on the test split only does not exclude a run; one silent on validation does."""
    runs = e2([0.7] * 5)
    seed0 = (runs["family"] == "spike_count") & (runs["seed"] == 0)
    runs.loc[seed0, "status"] = "layer_silent"
    assert row_for(table(runs), "002-iso")["n_excluded"] == 0
    runs.loc[seed0, ["status", "val_status"]] = ["ok", "silent"]
    assert row_for(table(runs), "002-iso")["n_excluded"] == 1


def test_a_setting_that_silences_most_seeds_is_no_operating_point():
    """One accurate seed out of five does not make a lambda choosable when the other four went
    silent on validation (at chance): the 002 sweep has nothing left to choose."""
    runs = e2([0.9] * 5)
    sweep = runs["family"] == "spike_count"
    silent = sweep & (runs["seed"] > 0)
    runs.loc[silent, ["val_status", "status", "val_accuracy", "accuracy"]] = ["silent", "silent", 0.1, 0.1]
    row = row_for(table(runs), "002-iso")
    assert row["verdict"] == "not held" and "operating point" in row["reason"]


@pytest.mark.parametrize(
    "val_accuracy, verdict",
    [
        ([0.85, 0.86, 0.85, 0.84, 0.85], "not held"),  # every seed 4-6 points below: a clear miss
        ([0.89, 0.875, 0.895, 0.88, 0.89], "inconclusive"),  # mean drop 1.4 points, interval reaches 0.5
    ],
)
def test_a_missed_accuracy_condition_is_not_held_only_when_clear(val_accuracy, verdict):
    row = row_for(table(e2([0.9] * 5, val_accuracy=val_accuracy)), "002-iso")
    assert row["verdict"] == verdict, row["reason"]
    assert "spike-count setting" in row["reason"]


def two_settings(drops_points, strong=0.75, weak=0.30):
    """E2 with two spike-count settings: lambda 0.1 surely within the iso condition (no drop,
    ``weak`` reduction) and lambda 1 with per-seed validation drops ``drops_points`` and a
    ``strong`` reduction."""
    base = setting("e2_x", "e2", "baseline", "baseline", 0.0, accuracy=0.9, spikes_per_sample=100.0)
    low = setting(
        "e2_x", "e2", "spike_count", "spike_count", 0.1, accuracy=0.9, spikes_per_sample=100 * (1 - weak)
    )
    high = setting(
        "e2_x",
        "e2",
        "spike_count",
        "spike_count",
        1.0,
        accuracy=0.9,
        val_accuracy=[0.9 - d / 100 for d in drops_points],
        spikes_per_sample=100 * (1 - strong),
    )
    return runs_frame(base + low + high)


@pytest.mark.parametrize(
    "drops",
    [
        [0.0, 0.6, 0.1, 0.5, 0.3],  # mean 0.3 points: lambda 1 qualifies here (held at 75 %)
        [0.3, 0.9, 0.4, 0.8, 0.6],  # mean 0.6: it does not (lambda 0.1 chosen, not held at 30 %)
    ],
)
def test_a_choice_that_machine_noise_could_move_gives_inconclusive_on_either_side(drops):
    """Two runs of the same study on two CPUs differ like two draws of the seeds: lambda 1's
    mean validation drop lands on either side of the half-point iso condition. Judged at the
    point choice alone the verdict flips between held and not held; judged over every plausible
    choice it is inconclusive on both sides, and says why."""
    row = row_for(table(two_settings(drops)), "002-iso")
    assert row["verdict"] == "inconclusive", row["reason"]
    assert "not stable within noise" in row["reason"]
    assert "spike_count, lambda=0.1" in row["reason"] and "spike_count, lambda=1" in row["reason"]


def test_a_choice_that_is_surely_within_the_condition_keeps_its_verdict():
    # lambda 1's drops all within 0.1 point: surely iso-accurate, the only plausible choice
    row = row_for(table(two_settings([0.05, 0.1, 0.0, 0.05, 0.1])), "002-iso")
    assert row["verdict"] == "held" and row["estimate"] == pytest.approx(0.75)
    # an uncertain lambda 1 whose verdict equals lambda 0.1's changes nothing: both not held
    row = row_for(table(two_settings([0.0, 0.6, 0.1, 0.5, 0.3], strong=0.40)), "002-iso")
    assert row["verdict"] == "not held", row["reason"]


def test_plausible_choices_put_the_point_choice_first():
    runs = two_settings([0.3, 0.9, 0.4, 0.8, 0.6])
    base, sweep = runs[runs["family"] == "baseline"], runs[runs["family"] == "spike_count"]
    score = core.val_reduction("spikes_per_sample")
    point, alternatives, none_plausible = core.plausible_choices(sweep, base, 0.005, score)
    assert [c.lam for c in [point, *alternatives]] == [0.1, 1.0] and not none_plausible
    assert core.choose(sweep, base, 0.005, score).lam == point.lam == 0.1
    # without the surely eligible lambda 0.1, choosing nothing is plausible too
    only_high = sweep[sweep["lam"] == 1.0]
    point, alternatives, none_plausible = core.plausible_choices(only_high, base, 0.005, score)
    assert point is None and [c.lam for c in alternatives] == [1.0] and none_plausible


# --- 000 ----------------------------------------------------------------------------------------


def e1(base_rate, hl2_rates, hl2_acc=0.97, hard_rates=None, soft_rates=None, base_acc=0.97):
    rows = setting(
        "e1",
        "e1",
        "baseline",
        "baseline",
        0.0,
        accuracy=base_acc,
        hidden_rate=base_rate,
        active_fraction=min(1.0, 3 * base_rate),
    )
    for lam, rate in hl2_rates.items():
        rows += setting(
            "e1",
            "e1",
            "homeostatic_l2",
            "homeostatic_l2",
            lam,
            accuracy=hl2_acc,
            hidden_rate=rate,
            active_fraction=[min(1.0, 3 * r) for r in rate] if isinstance(rate, list) else min(1, 3 * rate),
        )
    for method, rate in (hard_rates or {}).items():
        rows += setting(
            "e1",
            "e1",
            "hard_constraint",
            method,
            0.0,
            accuracy=base_acc,
            hidden_rate=rate,
            active_fraction=0.5,
        )
    for method, (family, rate) in (soft_rates or {}).items():
        rows += setting(
            "e1", "e1", family, method, 1.0, accuracy=base_acc, hidden_rate=rate, active_fraction=0.5
        )
    return runs_frame(rows)


def test_000_overshoot_untestable_where_the_baseline_fires_at_the_target():
    row = row_for(table(e1(0.05, {1.0: 0.05})), "000-overshoot-rate")
    assert row["verdict"] == "untestable" and "nothing to overshoot" in row["reason"]


@pytest.mark.parametrize(
    "settled, verdict",
    [
        ([0.40, 0.42, 0.41, 0.39, 0.40], "held"),
        ([0.06, 0.05, 0.07, 0.06, 0.05], "not held"),
        ([0.10, 0.30, 0.15, 0.28, 0.20], "inconclusive"),
    ],
)
def test_000_overshoot_verdicts_on_a_dense_baseline(settled, verdict):
    runs = e1(0.45, {1.0: settled, 100.0: 0.30}, hl2_acc=0.97)
    # lambda=100 loses accuracy on validation and is never chosen
    runs.loc[runs["lam"] == 100.0, "val_accuracy"] = 0.80
    row = row_for(table(runs), "000-overshoot-rate")
    assert row["verdict"] == verdict
    assert row["estimate"] == pytest.approx(np.mean(settled))
    assert "lambda=1" in row["selection"]


def test_000_overshoot_chooses_the_setting_closest_to_target_on_validation():
    runs = e1(0.45, {1.0: 0.40, 10.0: 0.25})
    row = row_for(table(runs), "000-overshoot-rate")
    assert "lambda=10" in row["selection"] and row["estimate"] == pytest.approx(0.25)


def test_000_overshoot_not_held_when_accuracy_is_lost():
    runs = e1(0.45, {1.0: 0.40}, hl2_acc=0.80)
    runs.loc[runs["family"] == "homeostatic_l2", "val_accuracy"] = 0.97  # validation looked fine
    row = row_for(table(runs), "000-overshoot-rate")
    assert row["verdict"] == "not held" and "accuracy" in row["reason"]


def test_000_overshoot_reports_both_readings():
    claims = table(e1(0.45, {1.0: 0.1}))
    rate, active = row_for(claims, "000-overshoot-rate"), row_for(claims, "000-overshoot-active")
    assert rate["reading"] == "rate" and active["reading"] == "active_fraction"
    assert rate["estimate"] == pytest.approx(0.1) and active["estimate"] == pytest.approx(0.3)
    assert rate["verdict"] == "not held" and active["verdict"] == "held"


def test_000_hard_untestable_where_the_baseline_is_already_sparse():
    row = row_for(table(e1(0.04, {1.0: 0.04}, hard_rates={"hard_budget": 0.03})), "000-hard")
    assert row["verdict"] == "untestable"


def test_000_hard_not_held_when_a_soft_method_reaches_the_target():
    runs = e1(0.45, {1.0: 0.05}, hard_rates={"hard_budget": 0.04})
    row = row_for(table(runs), "000-hard")
    assert row["verdict"] == "not held" and "homeostatic_l2" in row["reason"]


def test_000_hard_held_when_only_a_hard_constraint_reaches_it():
    runs = e1(
        0.45, {1.0: 0.30}, hard_rates={"hard_budget": 0.04}, soft_rates={"spike_count": ("spike_count", 0.2)}
    )
    row = row_for(table(runs), "000-hard")
    assert row["verdict"] == "held" and "hard_budget" in row["reason"]


def test_000_hard_caps_are_not_the_verdict_accuracy_is():
    runs = e1(0.45, {1.0: 0.30}, hard_rates={"hard_budget": 0.04})
    runs.loc[runs["family"] == "hard_constraint", ["accuracy", "val_accuracy"]] = (
        0.60  # the cap costs accuracy
    )
    row = row_for(table(runs), "000-hard")
    assert row["verdict"] == "inconclusive" and "neither" in row["reason"]


def test_000_hard_inconclusive_when_a_soft_interval_straddles_the_target():
    runs = e1(0.45, {1.0: [0.03, 0.09, 0.05, 0.08, 0.04]}, hard_rates={"hard_budget": 0.04})
    assert row_for(table(runs), "000-hard")["verdict"] == "inconclusive"


def test_one_row_per_e1_regime():
    runs = pd.concat([e1(0.45, {1.0: 0.3}), e1(0.04, {1.0: 0.04}).assign(experiment="e1_sparse")])
    claims = table(runs)
    assert set(claims.loc[claims["claim_id"] == "000-hard", "experiment"]) == {"e1", "e1_sparse"}


# --- 003 ----------------------------------------------------------------------------------------


def conversion(gains_val, gains_test, base=0.8, chance=0.1):
    rows = []
    for split, gains in (("val", gains_val), ("test", gains_test)):
        for seed, g in enumerate(gains):
            for t in (8, 32):
                extra = 0.0 if t == 8 else g  # only T=32 gains
                for alpha, acc, chosen in ((0.0, base, False), (1.0, base + extra, True)):
                    rows.append(
                        {
                            "experiment": "e4_x",
                            "seed": seed,
                            "normalization": "max",
                            "time_steps": t,
                            "split": split,
                            "alpha": alpha,
                            "accuracy": acc,
                            "l4_selected": chosen,
                            "chance_accuracy": chance,
                            "config_hash": "h",
                            "ann_accuracy": 0.9,
                        }
                    )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "gains, verdict",
    [
        ([0.02, 0.03, 0.025, 0.02, 0.03], "held"),
        ([-0.02, -0.03, -0.025, -0.02, -0.01], "not held"),
        ([0.02, -0.03, 0.04, -0.01, 0.0], "inconclusive"),
    ],
)
def test_003_verdicts_at_the_validation_chosen_cell(gains, verdict):
    conv = conversion([0.02] * 5, gains)
    row = row_for(table(pd.DataFrame(), conv), "003")
    assert row["verdict"] == verdict
    assert "T=32" in row["selection"]  # validation gains only at T=32
    assert row["estimate"] == pytest.approx(np.mean(gains))


def test_003_not_held_when_validation_never_chose_the_adjustment():
    conv = conversion([0.02] * 5, [0.0] * 5)
    conv.loc[conv["alpha"] == 1.0, "alpha"] = 0.0  # the selected row is the unadjusted one
    conv = conv.drop_duplicates(["seed", "time_steps", "split", "l4_selected"])
    row = row_for(table(pd.DataFrame(), conv), "003")
    assert (row["ci_low"], row["ci_high"]) == (0.0, 0.0)
    assert row["verdict"] == "not held" and "alpha = 0" in row["reason"]


def test_003_untestable_when_conversion_is_near_chance():
    row = row_for(table(pd.DataFrame(), conversion([0.0] * 5, [0.0] * 5, base=0.12)), "003")
    assert row["verdict"] == "untestable"


# --- the protocol -------------------------------------------------------------------------------


def _study(rng):
    frames = [
        e1(
            0.45,
            {1.0: list(rng.uniform(0.1, 0.4, 5)), 10.0: list(rng.uniform(0.05, 0.2, 5))},
            hard_rates={"hard_budget": 0.04},
            soft_rates={"spike_count": ("spike_count", 0.1)},
        )
    ]
    for lam in (0.1, 1.0, 10.0):
        sweep = setting(
            "e2_x",
            "e2",
            "spike_count",
            "spike_count",
            lam,
            accuracy=list(rng.uniform(0.85, 0.92, 5)),
            spikes_per_sample=list(rng.uniform(10, 90, 5)),
        )
        frames.append(runs_frame(sweep))
    frames.append(
        runs_frame(
            setting(
                "e2_x",
                "e2",
                "baseline",
                "baseline",
                0.0,
                accuracy=list(rng.uniform(0.88, 0.92, 5)),
                spikes_per_sample=100.0,
            )
        )
    )
    runs = pd.concat(frames, ignore_index=True)
    val = [c for c in runs if c.startswith("val_") and c != "val_status"]
    runs[val] = runs[val] + rng.normal(0, 0.01, size=(len(runs), len(val)))
    return runs


def test_permuting_the_test_split_changes_no_selection():
    rng = np.random.default_rng(0)
    runs = _study(rng)
    conv = conversion(list(rng.normal(0.01, 0.01, 5)), list(rng.normal(0.01, 0.01, 5)))
    before = table(runs, conv)
    test_cols = ["accuracy", "hidden_rate", "active_fraction", "spikes_per_sample"]
    shuffled = runs.copy()
    shuffled[test_cols] = shuffled[test_cols].to_numpy()[rng.permutation(len(runs))]
    # the run status on the test split too: silence there must not admit or exclude a run
    shuffled["status"] = rng.choice(["ok", "silent", "layer_silent"], size=len(runs))
    conv_shuffled = conv.copy()
    is_test = conv["split"] == "test"
    conv_shuffled.loc[is_test, "accuracy"] = rng.permutation(conv.loc[is_test, "accuracy"].to_numpy())
    after = table(shuffled, conv_shuffled)
    assert list(before["selection"]) == list(after["selection"])
    assert (before["estimate"].fillna(-1) != after["estimate"].fillna(-1)).any()  # the test numbers did move


def test_every_verdict_is_in_the_vocabulary_with_a_reason():
    claims = table(_study(np.random.default_rng(1)), conversion([0.01] * 5, [0.01] * 5))
    assert set(claims["verdict"]) <= set(core.VERDICTS)
    assert claims["reason"].str.len().gt(0).all()
    assert list(claims.columns) == core.COLUMNS


def test_registry_rejects_a_duplicate_id():
    with pytest.raises(ValueError, match="registered twice"):
        core.register(C.REGISTRY["002-iso"])


def test_interval_verdict_boundaries():
    s = {"mean": 0.6, "ci_low": 0.6, "ci_high": 0.7, "n": 5}
    # Touching the threshold is not clearing it, from either side.
    assert core.interval_verdict(s, 0.6, "x")[0] == "inconclusive"
    assert core.interval_verdict({**s, "ci_low": 0.61}, 0.6, "x")[0] == "held"
    zero = {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 5}
    assert core.interval_verdict(zero, 0.0, "L4 gain")[0] == "inconclusive"
    assert core.interval_verdict(zero, 0.0, "x", above=False)[0] == "inconclusive"
    assert core.interval_verdict({**s, "ci_low": 0.5, "ci_high": 0.6}, 0.6, "x")[0] == "inconclusive"
    assert core.interval_verdict({**s, "ci_low": 0.5, "ci_high": 0.59}, 0.6, "x")[0] == "not held"
    assert core.interval_verdict({**s, "ci_low": 0.5}, 0.6, "x")[0] == "inconclusive"
    assert core.interval_verdict({**s, "n": 1}, 0.6, "x")[0] == "inconclusive"
    assert core.interval_verdict({**s, "ci_low": 0.01, "ci_high": 0.04}, 0.05, "x", above=False)[0] == "held"


def test_markdown_has_one_line_per_claim():
    claims = table(e2([0.7] * 5))
    md = C.claims_markdown(claims)
    assert md.count("\n| ") == len(claims) + 1
    assert seed002.SPIKE_REDUCTION_HELD and seed000.OVERSHOOT_FACTOR and seed003.L4_GAIN_THRESHOLD == 0.0


def test_near_chance_on_validation_reads_the_validation_chance():
    """A validation check reads no test column: the test split's chance level cannot move it."""
    runs = pd.DataFrame(
        {
            "val_accuracy": [0.5, 0.52],
            "accuracy": [0.5, 0.5],
            "val_chance_accuracy": 0.1,
            "chance_accuracy": 0.45,
        }
    )
    assert not core.near_chance(runs)  # 0.51 against validation chance 0.1 + 0.1
    assert core.near_chance(runs, "accuracy")  # the test split against its own chance 0.45 + 0.1
    assert core.near_chance(runs.drop(columns="val_chance_accuracy"))  # older tables: the test chance


def test_every_registered_claim_has_a_row_even_without_its_experiment():
    """A study with E2 runs only: 002's claims are judged, every other claim says `not run` and
    why, so the table shows what the config left out instead of dropping those claims."""
    claims = table(e2([0.7] * 5))
    assert set(claims["claim_id"]) == set(C.REGISTRY)
    others = claims[~claims["claim_id"].str.startswith("002")]
    assert (others["verdict"] == core.NOT_RUN).all()
    reasons = dict(zip(others["claim_id"], others["reason"], strict=True))
    assert "no E1 experiment" in reasons["000-hard"] and "no conversion (E4)" in reasons["003"]
