"""The machinery every claim shares: the registry, the verdict vocabulary, paired statistics and
validation-only selection.

The judging protocol (``shared/methods.md``) in code:

- *Testable first*: a claim's rule names the condition under which it could fail; where the data
  do not meet it the verdict is ``untestable`` with the reason.
- *Selection on validation only*: every choice (lambda, method variant, operating point, best
  cell) reads ``val_*`` columns; the test split only reports the chosen setting. A test permutes the
  test labels and checks that no selection moves. A verdict reached at a chosen setting stands
  only where every choice another machine's rounding could make (``plausible_choices``: settings
  whose accuracy-drop interval reaches the condition) gives it too; else it is ``inconclusive``
  (``judge_choice``).
- *Paired statistics*: an effect is computed per seed against the same seed's baseline, then
  summarized by a two-sided 95 % t-interval over seeds (``stats.mean_interval``).
- *Verdicts from intervals*: ``held`` where the interval clears the threshold, ``not held`` where it
  lies on the wrong side, ``inconclusive`` where it straddles (a verdict that sits on its threshold
  cannot flip between held and not held on machine noise).
- Runs that diverged, went silent or have a silent hidden layer are excluded from effects and
  counted (``n_excluded``); near-chance baselines make a claim ``untestable``.

A claim is one ``Claim`` registered with ``register``; its ``evaluate`` function turns the result
tables into rows. Adding a claim is one module with one ``register`` call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ...records import usable_runs
from ..stats import mean_interval

HELD, NOT_HELD, INCONCLUSIVE, UNTESTABLE, NOT_RUN = (
    "held",
    "not held",
    "inconclusive",
    "untestable",
    "not run",
)
VERDICTS = (HELD, NOT_HELD, INCONCLUSIVE, UNTESTABLE, NOT_RUN)

# A baseline (or a setting) whose validation accuracy lies within this margin of chance does not
# do the task: no sparsity claim can be judged on it.
NEAR_CHANCE_MARGIN = 0.10
ONE_POINT = 0.01  # "within / not worse by one percentage point" of accuracy (001, 002)
COLUMNS = [
    "claim_id",
    "seed_paper",
    "experiment",
    "reading",
    "claim",
    "paper_value",
    "paper_source",
    "metric",
    "our_value",
    "estimate",
    "ci_low",
    "ci_high",
    "n_seeds",
    "n_excluded",
    "selection",
    "config_hash",
    "rule",
    "verdict",
    "reason",
]


@dataclass(frozen=True)
class Judgement:
    """One claim's outcome on one experiment (or group of experiments)."""

    verdict: str
    reason: str
    our_value: str = ""
    stats: dict = field(default_factory=lambda: mean_interval([]))
    selection: str = ""
    n_excluded: int = 0
    hashes: tuple = ()
    reading: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; known: {VERDICTS}")


@dataclass(frozen=True)
class Claim:
    """What a seed paper claims, how we measure it, and the rule that judges it.

    ``evaluate(tables)`` returns ``(experiment, Judgement)`` pairs; ``tables`` holds the aggregated
    ``runs`` and ``conversion`` frames. ``rule`` and ``selection`` are the words printed in the
    table, with the thresholds the code uses interpolated into them.
    """

    claim_id: str
    seed_paper: str
    claim: str
    paper_value: str
    paper_source: str
    metric: str
    rule: str
    selection: str
    evaluate: Callable[[dict[str, pd.DataFrame]], list[tuple[str, Judgement]]]

    def row(self, experiment: str, j: Judgement) -> dict:
        s = j.stats
        return {
            "claim_id": self.claim_id,
            "seed_paper": self.seed_paper,
            "experiment": experiment,
            "reading": j.reading,
            "claim": self.claim,
            "paper_value": self.paper_value,
            "paper_source": self.paper_source,
            "metric": self.metric,
            "our_value": j.our_value,
            "estimate": s["mean"],
            "ci_low": s["ci_low"],
            "ci_high": s["ci_high"],
            "n_seeds": s["n"],
            "n_excluded": j.n_excluded,
            "selection": j.selection or self.selection,
            "config_hash": config_digest(j.hashes),
            "rule": self.rule,
            "verdict": j.verdict,
            "reason": j.reason,
        }


REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add a claim to the table; ids are unique so a claim is defined in exactly one place."""
    if claim.claim_id in REGISTRY:
        raise ValueError(f"claim {claim.claim_id!r} is registered twice")
    REGISTRY[claim.claim_id] = claim
    return claim


def config_digest(hashes: Iterable) -> str:
    joined = ",".join(sorted({str(h) for h in hashes if isinstance(h, str) and h}))
    return hashlib.sha256(joined.encode()).hexdigest()[:16] if joined else ""


# --- run selection ------------------------------------------------------------------------------


def experiments_of(runs: pd.DataFrame, study: str) -> list[str]:
    """Experiments of a study, sorted (one claim row each for per-experiment claims)."""
    if runs.empty or "study" not in runs:
        return []
    return sorted(runs.loc[runs["study"] == study, "experiment"].unique())


def usable(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs whose metrics enter effects and choices: usable on the validation split (not
    diverged, not silent, no silent hidden layer there: ``records.usable_runs``).

    Why validation only: which runs a choice sees is itself a selection. A run with a missing
    test metric stays in (its test effect drops out of the interval, ``mean_interval`` skips
    non-finite values); requiring a test accuracy here once let a NaN on test move 002's lambda."""
    return usable_runs(runs)


def n_unusable(runs: pd.DataFrame) -> int:
    return int(len(runs) - len(usable(runs)))


def diverged(runs: pd.DataFrame) -> pd.Series:
    """Per run: whether training diverged. Read from ``val_status`` (divergence is a training
    outcome, so both splits say it; the validation column keeps every test column out of
    testability)."""
    return runs["val_status"] == "diverged"


def sweep_guard(
    baseline: pd.DataFrame, treated: pd.DataFrame, what: str, baseline_name: str = "baseline", **kw
) -> Judgement | None:
    """The one rule for missing and diverged sweeps, before any claim looks at its numbers:

    - no baseline or no treated run in the config: ``not run`` (nothing was trained);
    - every baseline run diverged: ``untestable`` (there is nothing to compare with; the
      baseline is ``baseline_name``, e.g. single-phase training for a two-phase claim);
    - every treated run diverged: ``not held`` (the method, as configured, gives no working
      network at any setting: it cannot deliver the claimed effect).

    Returns None where the claim can go on."""
    if baseline.empty or treated.empty:
        return not_run(f"needs {baseline_name} and {what} runs", **kw)
    if diverged(baseline).all():
        return untestable(
            f"every {baseline_name} run diverged ({len(baseline)}): nothing to compare with", **kw
        )
    if diverged(treated).all():
        return Judgement(
            NOT_HELD,
            f"every {what} run diverged ({len(treated)}): no setting gives a working network",
            **kw,
        )
    return None


def baseline_at_chance(baseline: pd.DataFrame, name: str = "baseline", **kw) -> Judgement | None:
    """The one near-chance rule for a claim's baseline: ``untestable`` when its usable runs do not
    learn the task (``near_chance`` on validation), since a change to a net that never learned
    says nothing about the claim; None where the claim can go on."""
    if near_chance(usable(baseline)):
        return untestable(
            f"the {name} does not learn (validation accuracy within {NEAR_CHANCE_MARGIN:g} of chance)", **kw
        )
    return None


def preconditions(baseline: pd.DataFrame, treated: pd.DataFrame, what: str, **kw) -> Judgement | None:
    """What every claim checks before its numbers, in this order: the sweep rule
    (``sweep_guard``: runs missing or all diverged), then the baseline learns the task
    (``baseline_at_chance``). ``kw`` (e.g. ``n_excluded``) goes to the sweep rule's judgements.
    None where the claim can go on."""
    guard = sweep_guard(baseline, treated, what, **kw)
    return guard if guard is not None else baseline_at_chance(baseline)


def near_chance(runs: pd.DataFrame, column: str = "val_accuracy") -> bool:
    """Whether a set of runs fails the task: its mean accuracy over seeds lies within
    ``NEAR_CHANCE_MARGIN`` of chance.

    Why the mean and not the upper end of the interval: with two or three seeds the interval's
    ends are set by the t quantile (12.7 at two seeds), so a baseline at chance whose two seeds
    differed by three points counted as learning, and another CPU's rounding moved that end
    across the margin: the quick config's regime-map cell was judged on one machine and
    untestable on the other (tests/workflow/test_replication_noise.py on an Intel Xeon)."""
    if runs.empty:
        return True
    # Chance on the same split as the accuracy: a validation check reads no test column (tables
    # written before the validation chance was recorded fall back to the test split's).
    chance = "chance_accuracy"
    if column.startswith("val_") and "val_chance_accuracy" in runs.columns:
        chance = "val_chance_accuracy"
    return bool(runs[column].mean() <= runs[chance].mean() + NEAR_CHANCE_MARGIN)


# --- paired statistics --------------------------------------------------------------------------


def aligned(treated: pd.DataFrame, baseline: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """``column`` of both sides as floats over the seeds both have (the first run per seed),
    indexed by seed in order: the pairing every paired statistic uses."""
    # Only the two columns: the runs table has ~160, and copying it on every call was half of
    # the claims job's time.
    t = treated[["seed", column]].drop_duplicates("seed").set_index("seed")[column]
    b = baseline[["seed", column]].drop_duplicates("seed").set_index("seed")[column]
    common = t.index.intersection(b.index).sort_values()
    return t.loc[common].astype(float), b.loc[common].astype(float)


def paired(
    treated: pd.DataFrame,
    baseline: pd.DataFrame,
    effect: Callable[[pd.Series, pd.Series], pd.Series],
    column: str,
) -> pd.Series:
    """Per-seed effect ``effect(treated[column], baseline[column])`` over the seeds both have;
    indexed by seed. Seeds missing on either side drop out (and so out of n)."""
    return effect(*aligned(treated, baseline, column))


def reduction(t: pd.Series, b: pd.Series) -> pd.Series:
    """Relative reduction ``1 - treated / baseline`` (a seed whose baseline is 0 gives NaN)."""
    return 1.0 - t / b.where(b != 0)


def difference(t: pd.Series, b: pd.Series) -> pd.Series:
    return t - b


# Two numbers closer than this (relative to the threshold's scale) are the same number: a result
# on its threshold computed as 0.6000000000000001 on one machine and 0.6 on another must read the
# same, so a bound within it of the threshold counts as on the threshold (``side``).
ROUNDING_TOLERANCE = 1e-9


def side(x: float, threshold: float) -> int:
    """+1 above ``threshold``, -1 below, 0 on it within ``ROUNDING_TOLERANCE`` (relative to
    ``max(1, |threshold|)``): the sign every verdict reads, robust to the last bits."""
    tol = ROUNDING_TOLERANCE * max(1.0, abs(threshold))
    return 0 if abs(x - threshold) <= tol else (1 if x > threshold else -1)


def interval_verdict(stats: dict, threshold: float, what: str, above: bool = True) -> tuple[str, str]:
    """``held`` where the 95 % interval lies strictly on the claimed side of ``threshold``,
    ``not held`` where it lies strictly on the other side, ``inconclusive`` where it straddles,
    touches the threshold or cannot be formed (fewer than two seeds).

    Why a bound on the threshold is inconclusive: "on the threshold" must read the same on every
    machine, and a zero-width interval exactly on it (every seed reducing spikes by exactly 60 %)
    lands on either side of it by rounding alone (``side``)."""
    lo, hi, n = stats["ci_low"], stats["ci_high"], stats["n"]
    if n < 2 or not (np.isfinite(lo) and np.isfinite(hi)):
        return INCONCLUSIVE, f"{what}: no interval from {n} seed(s)"
    claimed, other = (">", "<") if above else ("<", ">")
    near, far = (lo, hi) if above else (hi, lo)
    sign = 1 if above else -1
    if side(near, threshold) == sign:
        return HELD, f"{what}: the whole interval is {claimed} {threshold:g}"
    if side(far, threshold) == -sign:
        return NOT_HELD, f"{what}: the whole interval is {other} {threshold:g}"
    return INCONCLUSIVE, f"{what}: the interval reaches {threshold:g}"


def accuracy_verdict(change: dict, tolerance: float) -> tuple[str, str]:
    """The one accuracy condition of every claim with an accuracy clause ("at iso-accuracy",
    "while accuracy stays high", "within one point"), judged on the test split like the effect:
    the 95 % interval of the paired per-seed test accuracy change (treated minus baseline)
    against ``-tolerance``.

    - surely within (the whole interval above ``-tolerance``): ``held``;
    - surely worse (the whole interval below ``-tolerance``): ``not held``;
    - straddles (or touches, or no interval): ``inconclusive``.

    Why on test as well as on validation: validation chooses the setting (within the tolerance
    on its mean), but the claim is about the accuracy the chosen setting delivers; a setting 8
    points worse on test than its baseline does not cut spikes "at iso-accuracy", whatever its
    validation said."""
    return interval_verdict(change, -tolerance, "test accuracy change")


def combine(*verdicts: str) -> str:
    """A claim with several clauses: ``not held`` if any clause is, ``held`` if all are,
    ``inconclusive`` otherwise."""
    if NOT_HELD in verdicts:
        return NOT_HELD
    return HELD if all(v == HELD for v in verdicts) else INCONCLUSIVE


# --- validation-only choices --------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """A setting chosen on validation: its runs and the validation numbers that chose it."""

    method: str
    lam: float
    runs: pd.DataFrame
    val_score: float
    val_accuracy_drop: float

    @property
    def label(self) -> str:
        return setting_label(self.method, self.lam)


def setting_label(method: str, lam: float) -> str:
    """How a row names a setting: the method, with its lambda where it has one."""
    return f"{method}, lambda={float(lam):g}" if lam else str(method)


def _val_accuracy_drop(every: pd.DataFrame, baseline: pd.DataFrame) -> pd.Series:
    """Per-seed validation-accuracy drop of a setting against the baseline's usable runs, over
    every run of the setting with a validation accuracy (a run silent on validation included:
    its accuracy is what that setting delivers for that seed)."""
    with_acc = every[every["val_accuracy"].notna()]
    return paired(with_acc, usable_runs(baseline), lambda t, b: b - t, "val_accuracy")


def _settings(sweep: pd.DataFrame):
    """``((method, lam), runs)`` of every setting of a sweep in tie-break order: the smaller
    lambda first, then the method name (a choice takes the first of equal scores)."""
    groups = {key: every for key, every in sweep.groupby(["method", "lam"], sort=False)}
    for key in sorted(groups, key=lambda k: (float(k[1]), str(k[0]))):
        yield key, groups[key]


def _operating_point(every: pd.DataFrame) -> bool:
    """Whether a setting can be chosen at all: most of its runs are usable on validation (a
    setting that silences most seeds is no operating point, even if one seed survives) and
    it is not near chance there."""
    grp = usable_runs(every)
    return 2 * len(grp) > len(every) and not near_chance(every[every["val_accuracy"].notna()])


def choose(
    sweep: pd.DataFrame,
    baseline: pd.DataFrame,
    max_val_drop: float,
    score: Callable[[pd.DataFrame, pd.DataFrame], float],
) -> Choice | None:
    """The (method, lambda) of ``sweep`` with the highest validation ``score`` among those whose
    mean paired validation-accuracy drop against ``baseline`` is at most ``max_val_drop``.

    Only ``val_*`` columns are read (the test split never takes part); ties go to the smaller
    lambda, then the method name, so the choice is deterministic. A setting qualifies only as an
    operating point (``_operating_point``: most runs usable on validation, not near chance); its
    accuracy drop counts every run with a validation accuracy, its score and its effects the
    usable runs. Returns None when no setting qualifies (``no_choice`` then gives the verdict).
    """
    best = None
    for (method, lam), every in _settings(sweep):
        if not _operating_point(every):
            continue
        drop = float(_val_accuracy_drop(every, baseline).mean())
        if not np.isfinite(drop) or side(drop, max_val_drop) > 0:
            continue
        grp = usable(every)
        s = float(score(grp, usable(baseline)))
        if not np.isfinite(s):
            continue
        if best is None or s > best.val_score:
            best = Choice(str(method), float(lam), grp, s, drop)
    return best


def plausible_choices(
    sweep: pd.DataFrame,
    baseline: pd.DataFrame,
    max_val_drop: float,
    score: Callable[[pd.DataFrame, pd.DataFrame], float],
) -> tuple[Choice | None, list[Choice], bool]:
    """``choose``'s choice, the other choices it could make on another machine, and whether it
    could make none there.

    Why: ``choose`` compares each setting's *mean* validation-accuracy drop with the threshold.
    Another CPU rounds differently, training amplifies the last bits into another trajectory, and
    a run's numbers then move about as much as between seeds. A setting whose drop interval
    reaches across the threshold may qualify there and not here; the choice jumps, and with it
    the verdict (seen: E3 2 x 64's first-spike lambda, 0.001 on one CPU and 0.1 on another, one
    reduction 1 %, the other 55 %).

    A setting is *surely* eligible when its whole 95 % interval of paired drops is strictly within
    the threshold (``side``), *possibly* eligible when the interval reaches it (the mean alone
    where no interval can be formed). Plausible: the best-scoring surely eligible setting and every possibly
    eligible one that scores higher (scores as in ``choose``); the alternatives are those of them
    that are not ``choose``'s own choice. No choice is plausible where no setting is surely
    eligible."""
    point = choose(sweep, baseline, max_val_drop, score)
    surely, possibly = [], []
    for (method, lam), every in _settings(sweep):
        if not _operating_point(every):
            continue
        s = mean_interval(_val_accuracy_drop(every, baseline))
        lo, hi = s["ci_low"], s["ci_high"]
        if not (np.isfinite(lo) and np.isfinite(hi)):
            lo = hi = s["mean"]
        if not np.isfinite(lo) or side(lo, max_val_drop) > 0:
            continue
        grp = usable(every)
        sc = float(score(grp, usable(baseline)))
        if np.isfinite(sc):
            (surely if side(hi, max_val_drop) < 0 else possibly).append(
                Choice(str(method), float(lam), grp, sc, s["mean"])
            )
    best = None
    for c in surely:  # first of equal scores, as in choose
        if best is None or c.val_score > best.val_score:
            best = c
    taken = set() if point is None else {(point.method, point.lam)}
    alternatives = []
    for c in ([best] if best is not None else []) + [
        c for c in possibly if best is None or c.val_score > best.val_score
    ]:
        if (c.method, c.lam) not in taken:
            taken.add((c.method, c.lam))
            alternatives.append(c)
    return point, alternatives, best is None


def judge_choice(
    sweep: pd.DataFrame,
    baseline: pd.DataFrame,
    max_val_drop: float,
    score: Callable[[pd.DataFrame, pd.DataFrame], float],
    judge: Callable[[Choice], Judgement],
    none: Callable[[], Judgement],
) -> Judgement:
    """``judge`` at ``choose``'s choice (``none()`` where there is none), kept where every
    plausible choice (``plausible_choices``, no choice included where it is plausible) gives the
    same verdict; otherwise ``inconclusive``, naming the choice that disagrees: the verdict rests
    on which setting validation happens to pick, which machine noise decides.

    Where no setting is chosen but some are within reach of the accuracy condition, each of them
    is judged as if chosen: where every one refutes as well, the claim is refuted whichever way
    the condition falls (``not held``), not left ``inconclusive``."""
    point, alternatives, none_plausible = plausible_choices(sweep, baseline, max_val_drop, score)
    main = judge(point) if point is not None else none()
    others = [(c, judge(c)) for c in alternatives]
    if point is not None and none_plausible:
        others.append((None, none()))
    disagree = [(c, j) for c, j in others if j.verdict != main.verdict]
    if not disagree:
        if point is None and others:
            labels = ", ".join(c.label for c, _ in others)
            return replace(
                main,
                reason=f"{main.reason}; the settings within reach of it ({labels}) give {main.verdict} too",
            )
        return main
    c, j = disagree[0]
    here = point.label if point is not None else "no setting"
    there = (
        f"{c.label} (validation drop {100 * c.val_accuracy_drop:.2f} points, within reach of the "
        f"{100 * max_val_drop:g}-point condition)"
        if c is not None
        else "no setting (none is surely within the condition)"
    )
    return replace(
        main,
        verdict=INCONCLUSIVE,
        reason=(
            f"the choice on validation is not stable within noise: {here} gives {main.verdict}, "
            f"{there} gives {j.verdict}; at {here}: {main.reason}"
        ),
    )


def no_choice(sweep: pd.DataFrame, baseline: pd.DataFrame, max_val_drop: float, what: str, **kw) -> Judgement:
    """The verdict where ``choose`` found no setting of ``sweep`` (``what`` names them):
    ``not held``, since no setting meets the claim's accuracy condition on validation.

    The reason names the closest setting. Where its drop interval reaches the threshold, another
    machine could choose it: ``judge_choice`` then judges it too, and the verdict stays ``not
    held`` only where it refutes as well."""
    closest = None
    for (method, lam), every in _settings(sweep):
        if not _operating_point(every):
            continue
        s = mean_interval(_val_accuracy_drop(every, baseline))
        low = s["ci_low"] if np.isfinite(s["ci_low"]) else s["mean"]
        if np.isfinite(low) and (closest is None or low < closest[0]):
            closest = (low, setting_label(method, lam), s)
    limit = f"{100 * max_val_drop:g} point(s)"
    if closest is None:
        return Judgement(
            NOT_HELD,
            f"no {what} is an operating point on validation (most runs unusable or near chance)",
            **kw,
        )
    low, label, s = closest
    text = interval_text(s, points)
    if side(low, max_val_drop) > 0:
        return Judgement(
            NOT_HELD,
            f"every {what} loses more than {limit} of validation accuracy; the closest, {label}, "
            f"drops {text}",
            **kw,
        )
    return Judgement(
        NOT_HELD,
        f"no {what} keeps the mean validation-accuracy drop within {limit}; the closest, {label}, "
        f"drops {text}, which reaches it",
        **kw,
    )


def val_reduction(column: str) -> Callable[[pd.DataFrame, pd.DataFrame], float]:
    """Score for ``choose``: mean paired validation reduction of ``val_<column>``."""

    def score(grp: pd.DataFrame, base: pd.DataFrame) -> float:
        return float(paired(grp, base, reduction, f"val_{column}").mean())

    return score


# --- words --------------------------------------------------------------------------------------


def pct(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{100 * x:.1f} %"


def points(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{100 * x:+.2f} points"


def interval_text(s: dict, fmt: Callable[[float], str] = pct) -> str:
    return f"{fmt(s['mean'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}] (n={s['n']})"


def not_run(why: str, **kw) -> Judgement:
    return Judgement(NOT_RUN, why, **kw)


def untestable(why: str, **kw) -> Judgement:
    return Judgement(UNTESTABLE, why, **kw)
