"""Seed 002: a spike-count loss with an annealed weight cuts spikes ~70 % at iso-accuracy and ~73 % at
-1 % accuracy (CIFAR-10 in the paper; digits and MNIST-1D here).

The operating point is chosen on validation: among the annealed spike-count settings (lambda; the
constant-lambda runs are the schedule's ablation, shown in the tables and figures but not the method
the claim names, so never a candidate) whose mean paired validation-accuracy drop is within the
condition, the one with the largest mean paired validation spike reduction. The test split then
reports that setting's paired per-seed reduction ``1 - spikes(seed) / baseline spikes(seed)`` and
its paired test accuracy change; the verdict reads both intervals: the reduction against the
threshold and the accuracy change against the condition (``core.accuracy_verdict``), so "at iso-
accuracy" holds on test as well.
"""

from __future__ import annotations

from ..stats import mean_interval
from .core import (
    ONE_POINT,
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
    points,
    preconditions,
    reduction,
    register,
    usable,
    val_reduction,
)

SPIKE_REDUCTION_HELD = 0.60  # the paper's 70.1 / 73.3 % with 10-13 points of slack for our small nets
ISO_TOLERANCE = 0.005  # iso-accuracy: mean paired validation drop <= half a point
_SOURCE = "'Findings' summary on the seed's page (the stored abstract is cut before the numbers)"


def _evaluate(max_drop: float):
    def evaluate(tables) -> list:
        runs = tables["runs"]
        out = []
        for exp in experiments_of(runs, "e2"):
            e = runs[runs["experiment"] == exp]
            out.append((exp, _judge(e, max_drop)))
        return out or [("e2", not_run("the config has no E2 experiment"))]

    return evaluate


def annealed(runs):
    """The spike-count runs of the claim's method: every schedule but the constant-lambda ablation
    (``cfg.regularizer.schedule``; a table without the column has no ablation)."""
    sweep = runs[runs["family"] == "spike_count"]
    if "cfg.regularizer.schedule" not in sweep:
        return sweep
    return sweep[sweep["cfg.regularizer.schedule"] != "constant"]


def _judge(runs, max_drop: float) -> Judgement:
    base = runs[runs["family"] == "baseline"]
    sweep = annealed(runs)
    excluded = n_unusable(sweep) + n_unusable(base)
    guard = preconditions(base, sweep, "spike_count", n_excluded=excluded)
    if guard is not None:
        return guard
    good_base = usable(base)

    def at(pick: Choice) -> Judgement:
        red = mean_interval(paired(pick.runs, good_base, reduction, "spikes_per_sample"))
        acc = mean_interval(paired(pick.runs, good_base, difference, "accuracy"))
        v_red, why_red = interval_verdict(red, SPIKE_REDUCTION_HELD, "test spike reduction")
        v_acc, why_acc = accuracy_verdict(acc, max_drop)
        verdict, why = combine(v_red, v_acc), f"{why_red}; {why_acc}"
        text = (
            f"{interval_text(red)} fewer spikes per sample; test accuracy change {interval_text(acc, points)}"
        )
        return Judgement(
            verdict,
            why,
            our_value=text,
            stats=red,
            selection=f"{pick.label} (validation: drop {100 * pick.val_accuracy_drop:.2f} points, "
            f"reduction {100 * pick.val_score:.1f} %)",
            n_excluded=excluded,
            hashes=tuple(pick.runs["config_hash"]) + tuple(good_base["config_hash"]),
        )

    return judge_choice(
        sweep,
        base,
        max_drop,
        val_reduction("spikes_per_sample"),
        at,
        lambda: no_choice(sweep, base, max_drop, "spike-count setting", n_excluded=excluded),
    )


def _rule(max_drop: float) -> str:
    return (
        "per-seed test reduction 1 - spikes/baseline spikes (same seed) at the validation-chosen "
        f"setting and its paired test accuracy change: held if the reduction's 95 % interval is > "
        f"{SPIKE_REDUCTION_HELD:.0%} and the accuracy change's > -{100 * max_drop:g} point(s), not held "
        "if either lies wholly on the other side (or no setting meets the condition on validation), "
        "inconclusive otherwise; untestable if the baseline is near chance or every baseline run "
        "diverged"
    )


_SELECTION = (
    "on validation: the annealed spike-count lambda (the constant-lambda ablation is no candidate) "
    "with the largest mean paired spike reduction among those with mean paired accuracy drop <= {}"
)

register(
    Claim(
        claim_id="002-iso",
        seed_paper="002",
        claim="the spike-count loss cuts spikes ~70 % at iso-accuracy",
        paper_value="70.1 % fewer spikes at iso-accuracy (CIFAR-10)",
        paper_source=_SOURCE,
        metric="spike reduction (fraction of the same seed's baseline spikes per sample)",
        rule=_rule(ISO_TOLERANCE),
        selection=_SELECTION.format(f"{100 * ISO_TOLERANCE:g} points (iso-accuracy)"),
        evaluate=_evaluate(ISO_TOLERANCE),
    )
)
register(
    Claim(
        claim_id="002-1pct",
        seed_paper="002",
        claim="the spike-count loss cuts spikes ~73 % at -1 % accuracy",
        paper_value="73.3 % fewer spikes at -1 % accuracy (CIFAR-10)",
        paper_source=_SOURCE,
        metric="spike reduction (fraction of the same seed's baseline spikes per sample)",
        rule=_rule(ONE_POINT),
        selection=_SELECTION.format(f"{100 * ONE_POINT:g} point"),
        evaluate=_evaluate(ONE_POINT),
    )
)
