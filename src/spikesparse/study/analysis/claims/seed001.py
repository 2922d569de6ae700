"""Seed 001: in deep time-encoded SNNs (a) the spike rate grows with depth and width without an
accuracy gain; (b) a plain spike penalty can switch the network off; (c) penalizing only the
spikes after each neuron's first keeps the rate under control; (d) two-phase training avoids the
switch-off where single-phase training causes it.

The E3 study sweeps depth x width (baseline at every size) and trains the arms (plain spike-count
penalty, first-spike single-phase, two-phase variants) at the smallest and the largest size.

*Switched off* means: at least one hidden layer is entirely silent on the split
(``any_layer_silent`` / ``val_any_layer_silent``): nothing reaches the readout past that layer.
Switch-off shares count every run that did not diverge (``usable`` drops switched-off runs, which
is right for effects and wrong for counting them). Shares get Wilson 95 % score intervals; a
difference of two shares is taken over runs paired by seed (the same seed's two runs share data
split and initialization) with Newcombe's score interval for paired proportions
(``stats.paired_newcombe``), good coverage at the 3-5 seeds per cell we have.
"""

from __future__ import annotations

import pandas as pd

from ...records import switched_off
from ..stats import mean_interval, paired_newcombe, wilson
from .core import (
    HELD,
    INCONCLUSIVE,
    NOT_HELD,
    ONE_POINT,
    Choice,
    Claim,
    Judgement,
    accuracy_verdict,
    aligned,
    baseline_at_chance,
    combine,
    difference,
    diverged,
    experiments_of,
    interval_text,
    interval_verdict,
    judge_choice,
    n_unusable,
    near_chance,
    no_choice,
    not_run,
    paired,
    pct,
    points,
    preconditions,
    reduction,
    register,
    side,
    sweep_guard,
    untestable,
    usable,
    val_reduction,
)

RATE_REDUCTION_MIN = 0.20  # (c) "rate under control": >= 20 % lower hidden rate than the same seed's baseline
# (b), (d): a difference of switch-off shares is not held where even its interval's top is < 60 %
# of the runs. With the same share on both sides the top is 43.4 % at the default study's 5 seeds
# (0/5 against 0/5, or 5/5 against 5/5) and 56 % at 3, so the rule can fail there; a bar of 0 could
# fail only where the other arm switched off more, which no equal pair can show.
SWITCH_OFF_EXCESS = 0.6
_SOURCE = "abstract (seed 001)"


# --- helpers ------------------------------------------------------------------------------------


def layer_sizes(runs: pd.DataFrame) -> tuple[int, int]:
    """(depth, width) of an experiment's hidden layers from ``cfg.model.hidden`` ("64,64")."""
    if "cfg.model.hidden" not in runs or runs["cfg.model.hidden"].dropna().empty:
        raise ValueError("runs lack cfg.model.hidden: cannot tell the network's size")
    text = str(runs["cfg.model.hidden"].dropna().iloc[0]).strip("[] ")
    sizes = [int(float(s)) for s in text.replace(" ", "").split(",") if s]
    if not sizes:
        raise ValueError(f"cfg.model.hidden {text!r} names no layer")
    return len(sizes), max(sizes)


def size_tag(depth: int, width: int) -> str:
    return f"d{depth}w{width}"


def not_diverged(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs whose switch-off can be counted: all but the diverged ones (which have no metrics),
    told by ``core.diverged`` (validation status: the set never depends on a test column)."""
    return runs[~diverged(runs)]


def _is_true(col: pd.Series) -> pd.Series:
    return col.astype(str).str.strip().str.lower().isin(["true", "1", "1.0"])


def single_phase(runs: pd.DataFrame) -> pd.DataFrame:
    fs = runs[runs["family"] == "first_spike"]
    return fs[~_is_true(fs.get("cfg.regularizer.two_phase", pd.Series(False, index=fs.index)))]


def two_phase(runs: pd.DataFrame) -> pd.DataFrame:
    fs = runs[runs["family"] == "first_spike"]
    return fs[_is_true(fs.get("cfg.regularizer.two_phase", pd.Series(False, index=fs.index)))]


def _variant_text(runs: pd.DataFrame) -> str:
    """A two-phase variant in words, from its resolved config."""
    first = runs.iloc[0]

    def cfg(key, default=""):
        value = first.get(f"cfg.regularizer.{key}", default)
        if isinstance(value, float) and not pd.isna(value):
            return f"{value:g}"  # a CSV round trip turns 10 into 10.0
        return default if pd.isna(value) else value

    switch = cfg("switch", "epoch")
    when = (
        f"switch at epoch {cfg('switch_epoch', 0)}"
        if switch == "epoch"
        else f"switch at a validation plateau (patience {cfg('patience')}, silent < {cfg('silent_epsilon')})"
    )
    after = cfg("after_switch", "at_once")
    how = f"lambda ramped over {cfg('ramp_epochs')} epochs" if after == "ramp" else "full lambda at once"
    return f"{first['method']}: {when}, {how}, wake-up {float(cfg('wake_up', 0.0)):g}"


def _arm_experiments(runs: pd.DataFrame, family: str) -> list[str]:
    return [
        e for e in experiments_of(runs, "e3") if (runs.loc[runs["experiment"] == e, "family"] == family).any()
    ]


def _share_text(flags: pd.Series) -> str:
    k, n = int(flags.sum()), len(flags)
    lo, hi = wilson(k, n)
    return f"{k}/{n} [{pct(lo)}, {pct(hi)}]"


def _paired_flags(first: pd.DataFrame, second: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Test switch-off flags of two sets of runs over the seeds both have, aligned by seed
    (``core.aligned``)."""

    def flags(runs: pd.DataFrame) -> pd.DataFrame:
        return runs[["seed"]].assign(off=switched_off(runs))

    return aligned(flags(first), flags(second), "off")


def _most_switched_off(runs: pd.DataFrame, lams) -> tuple[float, float] | None:
    """Among ``lams``, the lambda at which ``runs`` switched off most often on validation (ties:
    the smaller) and that share; None where ``runs`` has none of ``lams``."""
    share = switched_off(runs, "val").groupby(runs["lam"]).mean()
    share = share[share.index.isin(lams)]
    if share.empty:
        return None
    lam = float(share[share == share.max()].index.min())
    return lam, float(share[lam])


# --- (a) rate vs size ---------------------------------------------------------------------------


def evaluate_size(tables) -> list:
    runs = tables["runs"]
    sizes = {}
    for exp in experiments_of(runs, "e3"):
        base = runs[(runs["experiment"] == exp) & (runs["family"] == "baseline")]
        if not base.empty:
            depth, width = layer_sizes(base)
            sizes[exp] = (depth * width, depth, width)
    if len(sizes) < 2:
        return [("e3", not_run("needs baseline runs at two or more network sizes"))]
    small = min(sizes, key=lambda e: (sizes[e], e))
    large = max(sizes, key=lambda e: (sizes[e], e))
    label = f"e3 ({size_tag(*sizes[small][1:])}..{size_tag(*sizes[large][1:])})"
    return [(label, _judge_size(runs, small, large))]


def _judge_size(runs: pd.DataFrame, small: str, large: str) -> Judgement:
    b_s = runs[(runs["experiment"] == small) & (runs["family"] == "baseline")]
    b_l = runs[(runs["experiment"] == large) & (runs["family"] == "baseline")]
    excluded = n_unusable(b_s) + n_unusable(b_l)
    for name, b in ((small, b_s), (large, b_l)):
        if diverged(b).all():
            return untestable(f"every {name} baseline run diverged ({len(b)})", n_excluded=excluded)
        chance = baseline_at_chance(b, f"{name} baseline", n_excluded=excluded)
        if chance is not None:
            return chance
    growth = mean_interval(
        paired(usable(b_l), usable(b_s), lambda t, b: t / b.where(b != 0) - 1, "hidden_rate")
    )
    gain = mean_interval(paired(usable(b_l), usable(b_s), difference, "accuracy"))
    v_rate, why_rate = interval_verdict(growth, 0.0, "relative hidden-rate growth")
    v_acc, why_acc = interval_verdict(gain, ONE_POINT, "test accuracy gain", above=False)
    text = (
        f"{large} vs {small} (same seed): hidden rate {interval_text(growth)} higher; "
        f"test accuracy {interval_text(gain, points)}"
    )
    return Judgement(
        combine(v_rate, v_acc),
        f"{why_rate}; {why_acc}",
        our_value=text,
        stats=growth,
        n_excluded=excluded,
        hashes=tuple(b_s["config_hash"]) + tuple(b_l["config_hash"]),
    )


def switch_off_verdict(diff: dict, what: str) -> tuple[str, str]:
    """The one rule for a difference of switch-off shares ((b) and (d); ``diff`` from
    ``stats.paired_newcombe``): held where its whole interval is > 0, not held where even the
    interval's top is < ``SWITCH_OFF_EXCESS``, inconclusive otherwise (or with no paired seed)."""
    lo, hi = diff["ci_low"], diff["ci_high"]
    if diff["n"] == 0:
        return INCONCLUSIVE, f"{what}: no seed has a run in both arms"
    if side(lo, 0.0) > 0:
        return HELD, f"{what}: the whole interval is > 0"
    if side(hi, SWITCH_OFF_EXCESS) < 0:
        return NOT_HELD, f"{what}: the interval's top {pct(hi)} is below {pct(SWITCH_OFF_EXCESS)}"
    return INCONCLUSIVE, f"{what}: the interval reaches 0"


# --- (b) the plain penalty switches the network off ----------------------------------------------


def evaluate_plain(tables) -> list:
    runs = tables["runs"]
    out = [
        (exp, _judge_plain(runs[runs["experiment"] == exp])) for exp in _arm_experiments(runs, "spike_count")
    ]
    return out or [("e3", not_run("no E3 experiment trains the plain spike-count penalty"))]


def _judge_plain(runs: pd.DataFrame) -> Judgement:
    all_base = runs[runs["family"] == "baseline"]
    all_sweep = runs[runs["family"] == "spike_count"]
    excluded = int(diverged(all_base).sum() + diverged(all_sweep).sum())
    # (the chance rule reads usable runs, which exclude the diverged ones)
    guard = preconditions(all_base, all_sweep, "spike_count", n_excluded=excluded)
    if guard is not None:
        return guard
    base, sweep = not_diverged(all_base), not_diverged(all_sweep)
    lam, val_share = _most_switched_off(sweep, sweep["lam"].unique())
    picked = sweep[sweep["lam"] == lam]
    off, base_off = _paired_flags(picked, base)
    diff = paired_newcombe(off, base_off)
    lo, hi = diff["ci_low"], diff["ci_high"]
    verdict, why = switch_off_verdict(diff, "switch-off share penalty minus baseline")
    text = (
        f"test: {_share_text(off)} runs switched off (Wilson 95 %) vs baseline {_share_text(base_off)}; "
        f"difference {pct(diff['mean'])} [{pct(lo)}, {pct(hi)}] (paired by seed, Newcombe)"
    )
    return Judgement(
        verdict,
        f"{why} (n={diff['n']} seeds with both runs)",
        our_value=text,
        stats=diff,
        selection=f"spike_count, lambda={lam:g} (validation switch-off share {pct(val_share)})",
        n_excluded=excluded,
        hashes=tuple(picked["config_hash"]) + tuple(base["config_hash"]),
    )


# --- (c) the first-spike penalty keeps the rate under control -------------------------------------


def evaluate_first_spike(tables) -> list:
    runs = tables["runs"]
    exps = [
        e
        for e in _arm_experiments(runs, "first_spike")
        if not single_phase(runs[runs["experiment"] == e]).empty
    ]
    out = [(exp, _judge_first_spike(runs[runs["experiment"] == exp])) for exp in exps]
    return out or [("e3", not_run("no E3 experiment trains the single-phase first-spike penalty"))]


def _judge_first_spike(runs: pd.DataFrame) -> Judgement:
    base = runs[runs["family"] == "baseline"]
    single = single_phase(runs)
    excluded = n_unusable(base) + n_unusable(single)
    guard = preconditions(base, single, "single-phase first-spike", n_excluded=excluded)
    if guard is not None:
        return guard
    good = usable(base)

    def at(pick: Choice) -> Judgement:
        red = mean_interval(paired(pick.runs, good, reduction, "hidden_rate"))
        acc = mean_interval(paired(pick.runs, good, difference, "accuracy"))
        v_red, why_red = interval_verdict(red, RATE_REDUCTION_MIN, "test hidden-rate reduction")
        v_acc, why_acc = accuracy_verdict(acc, ONE_POINT)
        return Judgement(
            combine(v_red, v_acc),
            f"{why_red}; {why_acc}",
            our_value=f"{interval_text(red)} lower hidden rate; test accuracy {interval_text(acc, points)}",
            stats=red,
            selection=f"{pick.label} (validation: drop {100 * pick.val_accuracy_drop:.2f} points, "
            f"rate reduction {pct(pick.val_score)})",
            n_excluded=excluded,
            hashes=tuple(pick.runs["config_hash"]) + tuple(good["config_hash"]),
        )

    return judge_choice(
        single,
        base,
        ONE_POINT,
        val_reduction("hidden_rate"),
        at,
        lambda: no_choice(single, base, ONE_POINT, "first-spike lambda", n_excluded=excluded),
    )


# --- (d) two-phase avoids the switch-off ---------------------------------------------------------


def evaluate_two_phase(tables) -> list:
    runs = tables["runs"]
    out = []
    for exp in _arm_experiments(runs, "first_spike"):
        e = runs[runs["experiment"] == exp]
        for _, variant in two_phase(e).groupby("method", sort=True):
            out.append((exp, _judge_two_phase(e, variant)))
    return out or [("e3", not_run("no E3 experiment trains two-phase first-spike runs"))]


def _judge_two_phase(runs: pd.DataFrame, variant: pd.DataFrame) -> Judgement:
    reading = _variant_text(variant)
    all_single = single_phase(runs)
    excluded = int(diverged(all_single).sum() + diverged(variant).sum())
    guard = sweep_guard(
        all_single, variant, "two-phase", baseline_name="single-phase", reading=reading, n_excluded=excluded
    )
    if guard is not None:
        return guard
    single, two = not_diverged(all_single), not_diverged(variant)
    base = runs[runs["family"] == "baseline"]
    chance = None if base.empty else baseline_at_chance(base, reading=reading)
    if chance is not None:
        return chance
    shared = sorted(set(single["lam"]) & set(two["lam"]))
    most = _most_switched_off(single, shared)
    if most is None or not most[1] > 0:
        return untestable(
            f"single-phase switched off in no seed at any shared lambda {[float(x) for x in shared]} "
            f"on validation (n={len(single)} runs): nothing for two-phase to avoid",
            reading=reading,
            n_excluded=excluded,
        )
    lam, val_share = most
    s, t = single[single["lam"] == lam], two[two["lam"] == lam]
    off_single, off_two = _paired_flags(s, t)
    diff = paired_newcombe(off_single, off_two)  # single minus two-phase: > 0 where two-phase avoids it
    v_off, why_off = switch_off_verdict(diff, "switch-off share single minus two-phase (paired Newcombe)")
    acc = mean_interval(paired(t, s, difference, "accuracy"))
    v_acc, why_acc = accuracy_verdict(acc, ONE_POINT)
    text = (
        f"at lambda {lam:g}: single-phase switched off {_share_text(off_single)}, "
        f"two-phase {_share_text(off_two)} (test, Wilson 95 %); difference {pct(diff['mean'])} "
        f"[{pct(diff['ci_low'])}, {pct(diff['ci_high'])}] (paired by seed); two- minus single-phase "
        f"accuracy {interval_text(acc, points)}"
    )
    # A net with no silent layer that still sits at chance has not shown that it escaped the
    # switch-off: that caps the verdict at inconclusive (it never turns a straddling interval into
    # "not held", so one seed going silent on another CPU cannot flip the verdict).
    dead = near_chance(t, "accuracy")
    v_learn = INCONCLUSIVE if dead else HELD
    why_learn = "; but two-phase does not learn (test accuracy within 0.1 of chance)" if dead else ""
    return Judgement(
        combine(v_off, v_acc, v_learn),
        f"{why_off}; {why_acc}{why_learn} (n={diff['n']} seeds with both runs)",
        our_value=text,
        stats=diff,
        selection=f"lambda={lam:g}: of the shared lambdas, the one where single-phase switched off "
        f"most often on validation ({pct(val_share)})",
        n_excluded=excluded,
        hashes=tuple(s["config_hash"]) + tuple(t["config_hash"]),
        reading=reading,
    )


register(
    Claim(
        claim_id="001a",
        seed_paper="001",
        claim="deeper and larger time-encoded SNNs fire more without gaining accuracy",
        paper_value="spike rate grows with depth and size, accuracy does not (no number)",
        paper_source=_SOURCE,
        metric="relative growth of the hidden rate (spikes per neuron per step), largest vs smallest size",
        rule=(
            "baseline only, paired by seed, largest vs smallest size (hidden neurons): held if the 95 % "
            "interval of the rate growth is > 0 and that of the test accuracy gain < "
            f"{100 * ONE_POINT:g} point; not held if either lies wholly on the wrong side; untestable "
            "if either baseline is near chance"
        ),
        selection="none (baselines; sizes fixed by the config)",
        evaluate=evaluate_size,
    )
)
register(
    Claim(
        claim_id="001b",
        seed_paper="001",
        claim="a plain spike penalty can switch the network off (a hidden layer goes silent)",
        paper_value="plain penalties can drive deep SNNs to silent neurons (no number)",
        paper_source=_SOURCE,
        metric=(
            "share of runs with an entirely silent hidden layer (test), penalty minus baseline, "
            "paired by seed"
        ),
        rule=(
            "switch-off share of the plain spike-count penalty at the chosen lambda minus the baseline's "
            "over seeds with both runs (not diverged), Newcombe's 95 % interval for paired shares: held "
            f"if > 0, not held if its top < {SWITCH_OFF_EXCESS:g}, inconclusive otherwise"
        ),
        selection="on validation: the lambda with the highest switch-off share (ties: the smaller)",
        evaluate=evaluate_plain,
    )
)
register(
    Claim(
        claim_id="001c",
        seed_paper="001",
        claim="the first-spike penalty (single-phase) keeps the rate under control at near-baseline accuracy",
        paper_value="spike rate kept under control (no number)",
        paper_source=_SOURCE,
        metric="hidden-rate reduction (fraction of the same seed's baseline rate)",
        rule=(
            "per-seed test rate reduction at the chosen lambda: held if its 95 % interval is > "
            f"{RATE_REDUCTION_MIN:.0%} and that of the paired test accuracy change > -{100 * ONE_POINT:g} "
            "point; not held if either lies wholly below, or no lambda meets the validation condition; "
            "inconclusive otherwise"
        ),
        selection=(
            "on validation: the single-phase lambda with the largest mean paired rate reduction among "
            f"those with mean paired accuracy drop <= {100 * ONE_POINT:g} point"
        ),
        evaluate=evaluate_first_spike,
    )
)
register(
    Claim(
        claim_id="001d",
        seed_paper="001",
        claim="two-phase training avoids the switch-off that single-phase training causes",
        paper_value="2-phase training avoids silent-neuron switch-off (no number)",
        paper_source=_SOURCE,
        metric="switch-off share (test), single- minus two-phase at one lambda, paired by seed",
        rule=(
            "at the chosen lambda (untestable where single-phase switched off in no seed on validation "
            "at any shared lambda): held if Newcombe's 95 % interval for the paired (by seed) "
            "single- minus two-phase switch-off share lies > 0 and that of the paired test accuracy "
            f"change (two- minus single-phase) > -{100 * ONE_POINT:g} point; not held if the share's "
            f"interval top is < {SWITCH_OFF_EXCESS:g} (as in 001b) or the accuracy change's interval "
            f"lies wholly below -{100 * ONE_POINT:g} point; inconclusive otherwise, and at most "
            "inconclusive where two-phase's test accuracy is near chance (no silent layer, but no "
            "learning either)"
        ),
        selection=(
            "on validation: of the lambdas both arms share, the one where single-phase switched off "
            "in most seeds (ties: the smaller), if it did in any"
        ),
        evaluate=evaluate_two_phase,
    )
)


__all__ = [
    "evaluate_first_spike",
    "evaluate_plain",
    "evaluate_size",
    "evaluate_two_phase",
    "layer_sizes",
]
