"""The claims table: each seed paper's headline claim, checked against this study's runs.

Every verdict comes from a rule written here (``held`` / ``partly`` / ``not held``, or ``not run``
when the config has no experiment for the claim), and every number from the result tables, never
from constants. The tolerance constants below are the rules' only free choices; the README
repeats them. Iso-accuracy means a mean test accuracy within one standard error (over seeds) of
the unregularized baseline's mean. A claim whose baseline never learned (mean accuracy within
``SWITCH_OFF_MARGIN`` of chance) is ``inconclusive``: no sparsity claim can be judged on a net
that does not do the task.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .stats import mean_interval

OVERSHOOT_FACTOR = 2.0  # 000: "far above the target" = mean rate >= 2 x target
SPIKE_CLAIM_HELD = 0.60  # 002: held when the reduction is >= 60 % (paper 70.1 / 73.3 %, 10-13 points slack)
SPIKE_CLAIM_PARTLY = 0.30  # 002: partly when >= 30 % (large, but well short of the paper)
FIRST_SPIKE_REDUCTION = 0.20  # 001: two-phase keeps spikes "under control" = >= 20 % fewer at iso-accuracy
SWITCH_OFF_SILENT = 0.5  # 001: a net is switched off when >= half its hidden neurons are silent ...
SWITCH_OFF_MARGIN = 0.1  # ... or its accuracy is within 10 points of chance
L4_GAIN_HELD = 0.02  # 003: held when the best mean gain is >= 2 points (paper: up to 2.5) and its CI > 0
ONE_PERCENT = 0.01  # 002: "-1 % accuracy" read as one percentage point

COLUMNS = [
    "claim_id",
    "seed_paper",
    "experiment",
    "claim",
    "paper_value",
    "paper_source",
    "our_value",
    "estimate",
    "ci_low",
    "ci_high",
    "n_seeds",
    "config_hash",
    "verdict",
    "rule",
]


def _hash(hashes) -> str:
    joined = ",".join(sorted(set(map(str, hashes))))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _pct(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{100 * x:.1f} %"


def _ci_text(s: dict, pct: bool = True) -> str:
    f = _pct if pct else (lambda v: f"{v:.3f}")
    return f"{f(s['mean'])} [{f(s['ci_low'])}, {f(s['ci_high'])}]"


@dataclass(frozen=True)
class Claim:
    """What a seed paper claims and the rule we judge it by; ``row`` adds our figure."""

    claim_id: str
    seed_paper: str
    claim: str
    paper_value: str
    paper_source: str
    rule: str

    def row(self, experiment: str, our_value: str, stats: dict, hashes, verdict: str) -> dict:
        return {
            "claim_id": self.claim_id,
            "seed_paper": self.seed_paper,
            "experiment": experiment,
            "claim": self.claim,
            "paper_value": self.paper_value,
            "paper_source": self.paper_source,
            "our_value": our_value,
            "estimate": stats["mean"],
            "ci_low": stats["ci_low"],
            "ci_high": stats["ci_high"],
            "n_seeds": stats["n"],
            "config_hash": _hash(hashes),
            "verdict": verdict,
            "rule": self.rule,
        }

    def not_run(self, experiment: str, why: str) -> dict:
        return self.row(experiment, why, mean_interval([]), [], "not run")

    def inconclusive(self, experiment: str, runs: pd.DataFrame) -> dict:
        base = _ok(runs[runs["family"] == "baseline"])
        acc = mean_interval(base["accuracy"])
        text = f"baseline accuracy {_ci_text(acc, False)} is within {SWITCH_OFF_MARGIN:g} of chance"
        return self.row(experiment, text, mean_interval([]), base["config_hash"], "inconclusive")


ISO = "iso-accuracy (mean accuracy >= baseline mean - 1 SE)"
CLAIM_000_OVERSHOOT = Claim(
    "000-overshoot",
    "000",
    "homeostatic L2 toward a 5 % target ends far above its target while accuracy stays high",
    "49.2 % firing at 100 % accuracy (target 5 %)",
    "abstract (seed 000)",
    f"at the lambda with the best mean accuracy: held if mean rate >= {OVERSHOOT_FACTOR:g} x target "
    f"at {ISO}; partly if the rate overshoots but accuracy drops; not held if the rate stays below",
)
CLAIM_000_HARD = Claim(
    "000-hard",
    "000",
    "hard constraints in the neuron reach a firing rate at or below the 5 % target",
    "structural limits give real sparsity (conclusion; no number)",
    "abstract (seed 000)",
    "per hard-constraint method: mean rate <= the homeostatic target; held if every method does, "
    "partly if some do, not held if none; accuracy cost = baseline mean - method mean",
)
CLAIM_001 = Claim(
    "001",
    "001",
    "the first-spike penalty cuts spikes; two-phase training avoids the switch-off single-phase can cause",
    "spike rate kept under control; 2-phase avoids silent-neuron switch-off (no number)",
    "abstract (seed 001)",
    f"A: two-phase reaches >= {FIRST_SPIKE_REDUCTION:.0%} fewer spikes than the baseline at {ISO}; "
    f"B: single-phase is switched off (silent fraction >= {SWITCH_OFF_SILENT:g} or accuracy <= chance + "
    f"{SWITCH_OFF_MARGIN:g}) at some lambda where two-phase is not; held if A and B, partly if one",
)
_SOURCE_002 = "'Findings' summary on the seed's page (the stored abstract is cut before the numbers)"
_RULE_002 = (
    "largest mean spike reduction over spike-count settings with {}: held if >= "
    f"{SPIKE_CLAIM_HELD:.0%}, partly if >= {SPIKE_CLAIM_PARTLY:.0%}, else not held"
)
CLAIM_002_ISO = Claim(
    "002-iso",
    "002",
    "the spike-count loss cuts spikes ~70 % at iso-accuracy",
    "70.1 % fewer spikes at iso-accuracy (CIFAR-10)",
    _SOURCE_002,
    _RULE_002.format(ISO),
)
CLAIM_002_1PCT = Claim(
    "002-1pct",
    "002",
    "the spike-count loss cuts spikes ~73 % at -1 % accuracy",
    "73.3 % fewer spikes at -1 % accuracy (CIFAR-10)",
    _SOURCE_002,
    _RULE_002.format("mean accuracy >= baseline mean - 1 point"),
)
CLAIM_003 = Claim(
    "003",
    "003",
    "the L4-norm weight adjustment improves converted-SNN accuracy by up to 2.5 %",
    "up to +2.5 % accuracy",
    "third-party summary of the seed (the abstract gives no number): unverified",
    "largest mean paired gain (L4 at the validation-chosen alpha minus alpha = 0) over normalizations "
    f"and T: held if >= {100 * L4_GAIN_HELD:g} points with a 95 % interval above 0, partly if the "
    "interval is above 0, else not held",
)


def _ok(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs with metrics: diverged runs have none; silent or saturated runs are results and stay."""
    return runs[runs["accuracy"].notna()]


def baseline_stats(runs: pd.DataFrame) -> dict:
    return mean_interval(_ok(runs[runs["family"] == "baseline"])["accuracy"])


def _iso_floor(acc: dict) -> float:
    return acc["mean"] - (acc["se"] if np.isfinite(acc["se"]) else 0.0)


def spike_reduction(
    sweep: pd.DataFrame,
    baseline: pd.DataFrame,
    max_drop: float | None = None,
    metric: str = "spikes_per_sample",
) -> dict | None:
    """Largest spike reduction of a sweep relative to the baseline under an accuracy condition.

    ``sweep``/``baseline``: runs (one row per seed) with ``method``, ``lam``, ``accuracy`` and
    ``metric``. A setting (method, lambda) qualifies when its mean accuracy is at least the
    baseline mean minus ``max_drop``, or minus one baseline standard error when ``max_drop`` is
    None (iso-accuracy). Among qualifying settings the one with the largest mean reduction
    ``1 - metric / mean(baseline metric)`` wins; its per-seed reductions give the interval.
    Returns None when no setting qualifies or there is no baseline.
    """
    base = _ok(baseline)
    if base.empty:
        return None
    acc = mean_interval(base["accuracy"])
    floor = _iso_floor(acc) if max_drop is None else acc["mean"] - max_drop
    base_metric = float(base[metric].mean())
    best = None
    for (method, lam), grp in _ok(sweep).groupby(["method", "lam"]):
        if grp["accuracy"].mean() < floor:
            continue
        s = mean_interval(1.0 - grp[metric] / base_metric)
        if best is None or s["mean"] > best["reduction"]["mean"]:
            best = {
                "method": method,
                "lam": float(lam),
                "reduction": s,
                "accuracy": mean_interval(grp["accuracy"]),
                "hashes": list(grp["config_hash"]) + list(base["config_hash"]),
            }
    if best is not None:
        best["baseline_accuracy"] = acc
        best["floor"] = floor
    return best


def _near_chance(rows: pd.DataFrame) -> bool:
    """Mean accuracy within ``SWITCH_OFF_MARGIN`` of chance: the net does not do the task."""
    return bool(rows["accuracy"].mean() <= rows["chance_accuracy"].mean() + SWITCH_OFF_MARGIN)


def baseline_learned(runs: pd.DataFrame) -> bool:
    base = _ok(runs[runs["family"] == "baseline"])
    return not base.empty and not _near_chance(base)


def three_way(a: bool, b: bool) -> str:
    return "held" if a and b else ("partly" if a or b else "not held")


# --- seed 000 -----------------------------------------------------------------------------------


def claim_000_overshoot(runs: pd.DataFrame, experiment: str) -> dict:
    c = CLAIM_000_OVERSHOOT
    exp = runs[runs["experiment"] == experiment]
    hl2 = _ok(exp[exp["family"] == "homeostatic_l2"])
    if hl2.empty or exp[exp["family"] == "baseline"].empty:
        return c.not_run(experiment, "no homeostatic_l2 or baseline runs")
    if not baseline_learned(exp):
        return c.inconclusive(experiment, exp)
    base = baseline_stats(exp)
    lam = hl2.groupby("lam")["accuracy"].mean().idxmax()
    grp = hl2[hl2["lam"] == lam]
    target = float(grp["cfg.regularizer.target_rate"].iloc[0])
    rate = mean_interval(grp["hidden_rate"])
    acc = mean_interval(grp["accuracy"])
    overshoot = rate["mean"] >= OVERSHOOT_FACTOR * target
    high = acc["mean"] >= _iso_floor(base)
    verdict = "held" if overshoot and high else ("partly" if overshoot else "not held")
    text = (
        f"rate {_ci_text(rate)} at accuracy {_ci_text(acc, False)} (lambda={lam:g}, target "
        f"{_pct(target)}); baseline accuracy {_ci_text(base, False)}"
    )
    return c.row(experiment, text, rate, grp["config_hash"], verdict)


def claim_000_hard(runs: pd.DataFrame, experiment: str) -> dict:
    c = CLAIM_000_HARD
    exp = runs[runs["experiment"] == experiment]
    hard = _ok(exp[exp["family"] == "hard_constraint"])
    if hard.empty or exp[exp["family"] == "baseline"].empty:
        return c.not_run(experiment, "no hard-constraint or baseline runs")
    if not baseline_learned(exp):
        return c.inconclusive(experiment, exp)
    targets = exp.get("cfg.regularizer.target_rate", pd.Series(dtype=float)).dropna()
    target = float(targets.iloc[0]) if not targets.empty else 0.05
    base = baseline_stats(exp)
    parts, met, worst = [], [], None
    for method, grp in hard.groupby("method"):
        rate = mean_interval(grp["hidden_rate"])
        cost = base["mean"] - grp["accuracy"].mean()
        met.append(rate["mean"] <= target)
        parts.append(f"{method}: rate {_ci_text(rate)}, accuracy cost {100 * cost:+.1f} points")
        if worst is None or rate["mean"] > worst["mean"]:
            worst = rate
    verdict = "held" if all(met) else ("partly" if any(met) else "not held")
    text = "; ".join(parts) + f" (target {_pct(target)})"
    return c.row(experiment, text, worst, hard["config_hash"], verdict)


# --- seed 001 -----------------------------------------------------------------------------------


def _switched_off(grp: pd.DataFrame) -> bool:
    return bool(grp["silent_fraction"].mean() >= SWITCH_OFF_SILENT) or _near_chance(grp)


def claim_001(runs: pd.DataFrame, experiment: str) -> dict:
    c = CLAIM_001
    exp = runs[runs["experiment"] == experiment]
    phase = exp.get("cfg.regularizer.two_phase", pd.Series(index=exp.index, dtype=object))
    two = exp[(exp["family"] == "first_spike") & (phase == True)]  # noqa: E712
    single = exp[(exp["family"] == "first_spike") & (phase == False)]  # noqa: E712
    baseline = exp[exp["family"] == "baseline"]
    if two.empty or single.empty or baseline.empty:
        return c.not_run(experiment, "needs baseline, single- and two-phase runs")
    if not baseline_learned(exp):
        return c.inconclusive(experiment, exp)
    best = spike_reduction(two, baseline)
    a = best is not None and best["reduction"]["mean"] >= FIRST_SPIKE_REDUCTION
    single_off = [lam for lam, g in _ok(single).groupby("lam") if _switched_off(g)]
    spared = [
        lam
        for lam in single_off
        if not _ok(two[two["lam"] == lam]).empty and not _switched_off(_ok(two[two["lam"] == lam]))
    ]
    red = best["reduction"] if best else mean_interval([])
    first = (
        f"two-phase: {_ci_text(red)} fewer spikes at iso-accuracy (lambda={best['lam']:g}); "
        if best
        else "two-phase: no lambda at iso-accuracy; "
    )
    silent = _ok(two).groupby("lam")["silent_fraction"].mean()
    text = (
        first
        + f"single-phase switched off at lambda {[float(x) for x in single_off]}, "
        + f"two-phase spared it at {[float(x) for x in spared]}; "
        + f"two-phase's largest silent fraction {silent.max():.2f} (lambda={silent.idxmax():g})"
    )
    hashes = list(two["config_hash"]) + list(single["config_hash"])
    return c.row(experiment, text, red, hashes, three_way(a, bool(spared)))


# --- seed 002 -----------------------------------------------------------------------------------


def claim_002(runs: pd.DataFrame, experiment: str, at_one_percent: bool) -> dict:
    c = CLAIM_002_1PCT if at_one_percent else CLAIM_002_ISO
    exp = runs[runs["experiment"] == experiment]
    sweep = exp[exp["family"] == "spike_count"]
    baseline = exp[exp["family"] == "baseline"]
    if sweep.empty or baseline.empty:
        return c.not_run(experiment, "needs baseline and spike_count runs")
    if not baseline_learned(exp):
        return c.inconclusive(experiment, exp)
    best = spike_reduction(sweep, baseline, ONE_PERCENT if at_one_percent else None)
    if best is None:
        nothing = "no setting meets the accuracy condition"
        return c.row(experiment, nothing, mean_interval([]), sweep["config_hash"], "not held")
    r = best["reduction"]
    if r["mean"] >= SPIKE_CLAIM_HELD:
        verdict = "held"
    else:
        verdict = "partly" if r["mean"] >= SPIKE_CLAIM_PARTLY else "not held"
    text = (
        f"{_ci_text(r)} fewer spikes per sample ({best['method']}, lambda={best['lam']:g}; accuracy "
        f"{_ci_text(best['accuracy'], False)} vs baseline {_ci_text(best['baseline_accuracy'], False)})"
    )
    return c.row(experiment, text, r, best["hashes"], verdict)


# --- seed 003 -----------------------------------------------------------------------------------


def l4_gains(conversion: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """Paired per-seed test-accuracy gain of the L4 variant (alpha chosen on validation) over
    its alpha = 0 baseline, per normalization and T."""
    test = conversion[(conversion["experiment"] == experiment) & (conversion["split"] == "test")]
    keys = ["seed", "normalization", "time_steps"]
    base = test[test["alpha"] == 0].set_index(keys)["accuracy"]
    l4 = test[test["l4_selected"].astype(bool)].set_index(keys)[["accuracy", "alpha", "config_hash"]]
    out = l4.join(base.rename("baseline_accuracy"), how="inner").reset_index()
    out["gain"] = out["accuracy"] - out["baseline_accuracy"]
    return out


def claim_003(conversion: pd.DataFrame, experiment: str) -> dict:
    c = CLAIM_003
    gains = l4_gains(conversion, experiment) if not conversion.empty else pd.DataFrame()
    if gains.empty:
        return c.not_run(experiment, "no conversion runs")
    best_key, best = None, None
    for key, grp in gains.groupby(["normalization", "time_steps"]):
        s = mean_interval(grp["gain"])
        if best is None or s["mean"] > best["mean"]:
            best_key, best = key, s
    positive = np.isfinite(best["ci_low"]) and best["ci_low"] > 0
    verdict = "held" if positive and best["mean"] >= L4_GAIN_HELD else ("partly" if positive else "not held")
    norm, t = best_key
    text = (
        f"best gain {100 * best['mean']:+.2f} points "
        f"[{100 * best['ci_low']:+.2f}, {100 * best['ci_high']:+.2f}] "
        f"with {norm} normalization at T={t}"
    )
    return c.row(experiment, text, best, gains["config_hash"], verdict)


def claims_table(runs: pd.DataFrame, conversion: pd.DataFrame) -> pd.DataFrame:
    """Every claim for every experiment of the study that tests it (by the experiment's study)."""
    rows = []
    studies = runs.groupby("experiment")["study"].first().to_dict() if not runs.empty else {}
    for exp, study in sorted(studies.items()):
        if study == "e1":
            rows += [claim_000_overshoot(runs, exp), claim_000_hard(runs, exp)]
        elif study == "e3":
            rows.append(claim_001(runs, exp))
        elif study == "e2":
            rows += [claim_002(runs, exp, False), claim_002(runs, exp, True)]
    if not conversion.empty:
        for exp in sorted(conversion["experiment"].unique()):
            rows.append(claim_003(conversion, exp))
    return pd.DataFrame(rows, columns=COLUMNS)


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims table as Markdown (README and report), one row per claim and experiment."""
    cols = ["claim_id", "experiment", "claim", "paper_value", "paper_source", "our_value", "verdict"]
    lines = [
        "# Claims of the seed papers, checked on this study's data",
        "",
        "Methods are our reconstruction from the seed abstracts; verdicts come from the rules in "
        "`spikesparse.claims` (column `rule` of claims.csv).",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for _, r in claims.iterrows():
        lines.append("| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |")
    return "\n".join(lines) + "\n"
