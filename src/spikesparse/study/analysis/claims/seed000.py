"""Seed 000: homeostatic L2 toward a 5 % target lets a rate-coded recurrent net settle far above the
target (49.2 % "firing" at 100 % accuracy), so hard constraints are needed to enforce sparsity.

Judged per E1 regime (each E1 experiment is one regime: the reference task, the dense regime and
every regime-map cell). Two readings of "49.2 % firing" get a row each: ``rate`` (spikes /
(neurons x steps)) and ``active_fraction`` (share of neurons with >= 1 spike on a sample).

- Overshoot is testable only where the unregularized baseline fires at >= 2 x target on validation
  (a net that already fires at the target has nothing to overshoot from).
- "Hard constraints are needed" is testable only where the baseline fires above the target
  (within the tolerance); the caps of a hard constraint are not the verdict: accuracy at the
  matched rate is.
"""

from __future__ import annotations

import pandas as pd

from ..aggregation import DEFAULT_TARGET_RATE, target_rate
from ..stats import mean_interval
from .core import (
    HELD,
    INCONCLUSIVE,
    NOT_HELD,
    Choice,
    Claim,
    Judgement,
    accuracy_verdict,
    combine,
    difference,
    experiments_of,
    interval_text,
    interval_verdict,
    judge_choice,
    n_unusable,
    no_choice,
    not_run,
    paired,
    pct,
    plausible_choices,
    points,
    preconditions,
    register,
    untestable,
    usable,
)

TESTABLE_FACTOR = 2.0  # overshoot is testable where the baseline fires at >= 2 x target (validation)
OVERSHOOT_FACTOR = 4.0  # "settles well above target": the rate interval >= 4 x target (seed: ~10 x)
OVERSHOOT_MAX_DROP = 0.01  # ... at accuracy within 1 point of the baseline
HARD_MAX_DROP = 0.02  # hard-constraint claim: accuracy within 2 points of the baseline
TARGET_TOLERANCE = 1.2  # "reaches the target": rate interval <= 1.2 x target
# The active reading compares a share of neurons with the target, a rate per step, as the
# abstract's sentence does. The two are different units: a neuron firing at exactly 5 % of T = 100
# steps, independently, is silent on a sample with probability 0.95^100 < 1 %. So this reading can
# hold while the rate sits at its target; the rate row says whether the target was missed.
ACTIVE_READING_NOTE = (
    "; read it beside the rate row: an active fraction and a rate target are different units (a "
    "neuron firing at random at the 5 % target over E1's 100 steps fires on almost every sample), "
    "so this reading can hold while the rate is on target"
)
READINGS = {"rate": "hidden_rate", "active_fraction": "active_fraction"}
SOFT_FAMILIES = ("homeostatic_l2", "spike_count", "first_spike")


def _target(exp: pd.DataFrame) -> float:
    target = target_rate(exp)
    return DEFAULT_TARGET_RATE if target is None else target


def _closest_to_target(target: float, column: str):
    def score(grp: pd.DataFrame, base: pd.DataFrame) -> float:
        return -abs(float(grp[f"val_{column}"].mean()) - target)

    return score


def _lowest(column: str):
    def score(grp: pd.DataFrame, base: pd.DataFrame) -> float:
        return -float(grp[f"val_{column}"].mean())

    return score


def _guard(exp: pd.DataFrame, family: str) -> Judgement | None:
    return preconditions(exp[exp["family"] == "baseline"], exp[exp["family"] == family], family)


# --- overshoot ----------------------------------------------------------------------------------


def _overshoot(exp: pd.DataFrame, reading: str) -> Judgement:
    column = READINGS[reading]
    guard = _guard(exp, "homeostatic_l2")
    if guard is not None:
        return Judgement(guard.verdict, guard.reason, reading=reading)
    target = _target(exp)
    base_all = exp[exp["family"] == "baseline"]
    base = usable(base_all)
    hl2 = exp[exp["family"] == "homeostatic_l2"]
    excluded = n_unusable(hl2) + n_unusable(base_all)
    base_val = float(base[f"val_{column}"].mean())
    if base_val < TESTABLE_FACTOR * target:
        return untestable(
            f"the baseline's validation {reading} is {pct(base_val)}, below {TESTABLE_FACTOR:g} x the "
            f"{pct(target)} target: nothing to overshoot from",
            reading=reading,
            n_excluded=excluded,
        )
    base_test = mean_interval(base[column])

    def at(pick: Choice) -> Judgement:
        settled = mean_interval(pick.runs[column])
        acc = mean_interval(paired(pick.runs, base, difference, "accuracy"))
        v_rate, why_rate = interval_verdict(settled, OVERSHOOT_FACTOR * target, f"test {reading}")
        v_acc, why_acc = accuracy_verdict(acc, OVERSHOOT_MAX_DROP)
        return Judgement(
            combine(v_rate, v_acc),
            f"{why_rate}; {why_acc}",
            our_value=(
                f"{reading} {interval_text(settled)} vs target {pct(target)} "
                f"({settled['mean'] / target:.1f} x); baseline {interval_text(base_test)}; "
                f"accuracy change {interval_text(acc, points)}"
            ),
            stats=settled,
            selection=_selection_text(pick),
            n_excluded=excluded,
            hashes=tuple(pick.runs["config_hash"]) + tuple(base["config_hash"]),
            reading=reading,
        )

    return judge_choice(
        hl2,
        base,
        OVERSHOOT_MAX_DROP,
        _closest_to_target(target, "hidden_rate"),
        at,
        lambda: no_choice(
            hl2, base, OVERSHOOT_MAX_DROP, "homeostatic setting", reading=reading, n_excluded=excluded
        ),
    )


def _selection_text(pick: Choice) -> str:
    return (
        f"{pick.label} (validation: accuracy drop {100 * pick.val_accuracy_drop:.2f} points, "
        f"rate {pct(float(pick.runs['val_hidden_rate'].mean()))})"
    )


# --- hard constraints needed --------------------------------------------------------------------


def _reaches(pick: Choice, base: pd.DataFrame, target: float) -> tuple[str, dict, dict]:
    """'yes' / 'no' / 'unsure': the test rate interval against ``TARGET_TOLERANCE`` x target, and
    the paired test accuracy change against ``HARD_MAX_DROP`` (``core.accuracy_verdict``)."""
    rate = mean_interval(pick.runs["hidden_rate"])
    acc = mean_interval(paired(pick.runs, base, difference, "accuracy"))
    v_rate, _ = interval_verdict(rate, TARGET_TOLERANCE * target, "rate", above=False)
    v_acc, _ = accuracy_verdict(acc, HARD_MAX_DROP)
    return {HELD: "yes", NOT_HELD: "no"}.get(combine(v_rate, v_acc), "unsure"), rate, acc


def _hard(exp: pd.DataFrame) -> Judgement:
    guard = _guard(exp, "hard_constraint")
    if guard is not None:
        return Judgement(guard.verdict, guard.reason, reading="rate")
    target = _target(exp)
    base = usable(exp[exp["family"] == "baseline"])
    base_val = float(base["val_hidden_rate"].mean())
    if base_val <= TARGET_TOLERANCE * target:
        return untestable(
            f"the baseline already fires at {pct(base_val)} on validation (target {pct(target)}): "
            "there is no sparsity to enforce",
            reading="rate",
        )
    outcomes: dict[str, list] = {"soft": [], "hard": []}
    excluded, hashes = n_unusable(exp[exp["family"] == "baseline"]), list(base["config_hash"])
    soft = exp[exp["family"].isin(SOFT_FAMILIES)]
    for kind, frame in (("soft", soft), ("hard", exp[exp["family"] == "hard_constraint"])):
        for method, runs in frame.groupby("method", sort=True):
            excluded += n_unusable(runs)
            pick, alternatives, none_plausible = plausible_choices(
                runs, base, HARD_MAX_DROP, _lowest("hidden_rate")
            )
            if pick is None:
                # No lambda meets the condition here ("no"); one whose drop interval reaches it
                # could be chosen elsewhere: "no" only where it does not reach the target either.
                answers = {_reaches(c, base, target)[0] for c in alternatives} | {"no"}
                label = (
                    f"{method} (a lambda within reach of the accuracy condition)" if alternatives else method
                )
                outcomes[kind].append((label, "no" if answers == {"no"} else "unsure", None, None, ""))
                continue
            reach, rate, acc = _reaches(pick, base, target)
            # Where another plausible choice (plausible_choices) would answer otherwise, the
            # answer rests on machine noise: unsure.
            others = {_reaches(c, base, target)[0] for c in alternatives} | (
                {"no"} if none_plausible else set()
            )
            note = ""
            if others - {reach}:
                reach, note = "unsure", " (not a stable choice: another plausible lambda answers otherwise)"
            outcomes[kind].append((pick.label, reach, rate, acc, note))
            hashes += list(pick.runs["config_hash"])
    if not outcomes["soft"] and not outcomes["hard"]:
        return not_run("needs soft and hard-constraint runs", reading="rate")
    soft_yes = [m for m, r, *_ in outcomes["soft"] if r == "yes"]
    soft_unsure = [m for m, r, *_ in outcomes["soft"] if r == "unsure"]
    hard_yes = [m for m, r, *_ in outcomes["hard"] if r == "yes"]
    limit = f"{pct(TARGET_TOLERANCE * target)} at test accuracy within {100 * HARD_MAX_DROP:g} points"
    if soft_yes:
        verdict, why = NOT_HELD, f"soft method(s) {', '.join(soft_yes)} reach < {limit}"
    elif soft_unsure:
        verdict, why = (
            INCONCLUSIVE,
            (
                f"unclear whether {', '.join(soft_unsure)} reach(es) < {limit}: a rate or accuracy "
                "interval reaches its bound, or the choice on validation is not stable"
            ),
        )
    elif hard_yes:
        verdict, why = HELD, f"no soft method reaches < {limit}; {', '.join(hard_yes)} do(es)"
    else:
        verdict, why = INCONCLUSIVE, f"neither soft nor hard methods reach < {limit}"
    best_soft = min(
        (o for o in outcomes["soft"] if o[2] is not None),
        key=lambda o: o[2]["mean"],
        default=None,
    )
    parts = [
        f"{m}: rate {interval_text(rate)}, accuracy {interval_text(acc, points)}{note}"
        if rate is not None
        else f"{m}: no setting within {100 * HARD_MAX_DROP:g} points on validation"
        for kind in ("soft", "hard")
        for m, _, rate, acc, note in outcomes[kind]
    ]
    return Judgement(
        verdict,
        why,
        our_value="; ".join(parts),
        stats=best_soft[2] if best_soft else mean_interval([]),
        selection="; ".join(m for kind in ("soft", "hard") for m, *_ in outcomes[kind]),
        n_excluded=excluded,
        hashes=tuple(hashes),
        reading="rate",
    )


def _per_regime(judge):
    def evaluate(tables) -> list:
        runs = tables["runs"]
        rows = [(exp, judge(runs[runs["experiment"] == exp])) for exp in experiments_of(runs, "e1")]
        return rows or [("e1", not_run("the config has no E1 experiment"))]

    return evaluate


_SOURCE = "abstract (seed 000)"
for _reading, _column in READINGS.items():
    register(
        Claim(
            claim_id=f"000-overshoot-{'rate' if _reading == 'rate' else 'active'}",
            seed_paper="000",
            claim="homeostatic L2 toward a 5 % target settles far above the target while accuracy stays high",
            paper_value="49.2 % of neurons firing at 100 % accuracy (target 5 %)",
            paper_source=_SOURCE,
            metric=f"test {_reading} of homeostatic L2 at its validation-chosen setting"
            + (" (share of hidden neurons with >= 1 spike on a sample)" if _reading != "rate" else ""),
            rule=(
                f"testable where the baseline's validation {_reading} is >= {TESTABLE_FACTOR:g} x target; "
                f"held if the test {_reading} interval is > {OVERSHOOT_FACTOR:g} x target (seed: ~10 x) and "
                f"the paired test accuracy change's > -{100 * OVERSHOOT_MAX_DROP:g} point, not held if "
                "either lies wholly on the other side (or no setting meets the condition on validation), "
                "inconclusive otherwise" + ("" if _reading == "rate" else ACTIVE_READING_NOTE)
            ),
            selection=(
                "on validation: the homeostatic setting (scope x lambda) whose rate is closest to the "
                f"target among those with mean paired accuracy drop <= {100 * OVERSHOOT_MAX_DROP:g} point"
            ),
            evaluate=_per_regime(lambda exp, r=_reading: _overshoot(exp, r)),
        )
    )

register(
    Claim(
        claim_id="000-hard",
        seed_paper="000",
        claim="hard constraints are needed to enforce sparsity: soft penalties do not reach the target",
        paper_value="only structural limits give real sparsity (conclusion; no number)",
        paper_source=_SOURCE,
        metric="test rate of the lowest-rate soft method (each method at its validation-chosen lambda)",
        rule=(
            f"testable where the baseline fires above {TARGET_TOLERANCE:g} x target on validation; "
            "a method reaches the target when its test rate interval is < "
            f"{TARGET_TOLERANCE:g} x target and its paired test accuracy change's > -{100 * HARD_MAX_DROP:g} "
            "points (unsure where either interval reaches its bound); held if no soft method "
            "(homeostatic L2 either scope, spike-count, first-spike) reaches it while a hard "
            "constraint does, not held if a soft method does, inconclusive "
            "otherwise"
        ),
        selection=(
            "per method on validation: the lambda with the lowest rate among those with mean paired "
            f"accuracy drop <= {100 * HARD_MAX_DROP:g} points (the row lists each method's choice)"
        ),
        evaluate=_per_regime(_hard),
    )
)
