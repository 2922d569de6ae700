"""Replication check: this study's tables against a reference set (``reference/``, shipped with
the repository), so that whoever reruns the study learns whether they reproduced it.

Why a check and not a byte comparison: on one machine (same CPU model, instruction set, BLAS,
threads and versions) the tables are bit-identical, but another CPU rounds its sums differently
and training amplifies the difference, so a faithful replication elsewhere gives *other* numbers
that should agree within the seed-to-seed noise the intervals measure. The check says which of
the three it is:

- ``reproduced``: every compared number and verdict is identical;
- ``reproduced within noise``: no verdict reversed and no estimate differs beyond noise;
- ``differs``: the rows that do not, listed.

"Beyond noise" is a two-sample test per compared value (the difference of the two estimates
against its standard error, each side's taken from its 95 % interval), Holm-corrected over every
value compared, at a 5 % family-wise level. Why not "each estimate inside the other side's
interval": that fails for about 1 value in 20 of a faithful replication, so a study of a few
hundred values would always "differ" on another CPU, whatever it reproduced. Verdicts: ``held``
against ``not held`` (or any change of testability) differs; a move between a decision and
``inconclusive`` is the verdict's interval crossing its threshold's edge, which machine noise can
do, and counts as within noise when the numbers agree (it is listed by name). A claim whose
chosen setting differs between the sides (a choice on validation that noise moved) is judged on
its verdict alone: its numbers describe other settings, which the summary compares one by one.
A value with fewer than two seeds on a side has no interval and is ``not judged`` (named).

Identical machines with different numbers are a determinism bug, called out as such. Rows present
on one side only (a claim added since) are listed and not compared; so are values whose runs were
trained from another config than the reference's (``config_hash``: the claims' own column, and for
the summary the runs behind each setting): another config gives other numbers by design, not by
noise. A claim's own hash digests the runs it picked, so a choice that noise moved changes it too:
where the runs tables show the claim's experiment trained from the same configs on both sides, the
claim is compared (on its verdicts) instead. A study none of whose values share the reference's
config ends ``not compared: no reference for this config`` (``config/quick.yaml`` against the full
study's reference).
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import MissingInputError
from ..io import (
    MACHINE_KEYS,
    git_commit,
    machine_info,
    read_json,
    utc_timestamp,
    write_csv,
    write_json,
    write_text,
)
from .claims.core import HELD, INCONCLUSIVE, NOT_HELD, config_digest
from .stats import difference_test, finite_number, holm

# Tables a reference holds (a release's README reports them); model files are never copied.
# runs.csv keeps every run's metrics, so the published runs can be judged again by new rules
# without retraining (``spikesparse rejudge``).
RUNS_FILE = "runs.csv"
REFERENCE_TABLES = ("claims.csv", "summary.csv", "conversion.csv", "plane.csv", RUNS_FILE)
MACHINE_FILE = "machine.json"
REFERENCE_README = "README.md"
REPRODUCED = "reproduced"
WITHIN_NOISE = "reproduced within noise"
DIFFERS = "differs"
NO_REFERENCE = "no reference"
NOT_COMPARED = "not compared"
# Row statuses besides DIFFERS.
IDENTICAL = "identical"
NOISE = "within noise"
NOT_JUDGED = "not judged"
CONFIG_DIFFERS = "not compared: config differs"
# Family-wise error of the whole check: a faithful replication is called "differs" by chance in at
# most this share of reruns (Holm over every compared value).
FAMILY_ALPHA = 0.05

CLAIM_KEYS = ["claim_id", "experiment"]
# One claim can be read several ways on one experiment (e.g. two switch rules): the reading is
# part of the key where both tables have it.
OPTIONAL_CLAIM_KEYS = ["reading"]
SUMMARY_KEYS = ["experiment", "method", "lam"]
SUMMARY_QUANTITIES = ["accuracy", "hidden_rate"]
COLUMNS = [
    "table",
    "key",
    "quantity",
    "ref_estimate",
    "ref_ci_low",
    "ref_ci_high",
    "our_estimate",
    "our_ci_low",
    "our_ci_high",
    "ours_in_ref_ci",
    "ref_in_our_ci",
    "intervals_overlap",
    "ref_verdict",
    "our_verdict",
    "verdicts_agree",
    "identical",
    "z",
    "p",
    "p_holm",
    "status",
    "note",
]


@dataclass
class Replication:
    """The comparison: one row per compared quantity (``COLUMNS``), the outcome line and the two
    machines."""

    rows: pd.DataFrame
    outcome: str
    determinism_bug: bool = False
    ours_machine: dict = field(default_factory=dict)
    ref_machine: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The outcome's first word group: one of the three results, ``no reference`` or ``not
        compared`` (no value shares the reference's config)."""
        for word in (WITHIN_NOISE, REPRODUCED, DIFFERS, NO_REFERENCE, NOT_COMPARED):
            if self.outcome.startswith(word):
                return word
        raise ValueError(f"outcome line {self.outcome!r} starts with no known result")


def _same(a, b) -> bool:
    """Equal numbers, both NaN, or equal strings: what "identical" means for one cell."""
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if pd.isna(a) and pd.isna(b):
        return True
    return a == b


def _inside(x, lo, hi) -> bool | None:
    """Whether ``x`` lies in ``[lo, hi]``; None when there is no interval (one seed)."""
    if not (finite_number(lo) and finite_number(hi)):
        return None
    return bool(finite_number(x) and lo <= x <= hi)


def _overlap(a_lo, a_hi, b_lo, b_hi) -> bool | None:
    if not all(finite_number(v) for v in (a_lo, a_hi, b_lo, b_hi)):
        return None
    return bool(a_lo <= b_hi and b_lo <= a_hi)


def chosen_setting(selection) -> str | None:
    """The setting a claim's validation choice picked, from its ``selection`` text without the
    parenthesized remarks (validation figures and stability notes, which noise moves)."""
    if not isinstance(selection, str):
        return None
    text, previous = selection, None
    while text != previous:
        previous, text = text, re.sub(r"\s*\([^()]*\)", "", text)
    return text.strip()


def verdict_change(ref_verdict, our_verdict) -> str | None:
    """None when the verdicts agree; ``"edge"`` for a move between a decision and inconclusive
    (an interval reaching its threshold on one side only); ``"reversed"`` for held against not
    held; ``"other"`` for any other change (testability, a claim not run)."""
    if _same(ref_verdict, our_verdict):
        return None
    pair = {ref_verdict, our_verdict}
    if pair == {HELD, NOT_HELD}:
        return "reversed"
    if INCONCLUSIVE in pair and pair & {HELD, NOT_HELD}:
        return "edge"
    return "other"


def compare_row(table: str, key: str, quantity: str, ref: dict, ours: dict, note: str = "") -> dict:
    """One compared quantity: each side's estimate and interval, each estimate inside the other
    side's interval, the verdicts, and the difference test (``z``, ``p``). ``ref`` and ``ours``
    hold ``estimate``, ``ci_low``, ``ci_high`` and optionally ``se`` and ``n`` (the summary) or
    ``verdict`` and ``selection`` (claims). The status is provisional: ``judge_rows`` decides
    which differences go beyond noise, once every row's p is known."""
    ours_in_ref = _inside(ours["estimate"], ref["ci_low"], ref["ci_high"])
    ref_in_ours = _inside(ref["estimate"], ours["ci_low"], ours["ci_high"])
    has_verdict = "verdict" in ref or "verdict" in ours
    change = verdict_change(ref.get("verdict"), ours.get("verdict")) if has_verdict else None
    agree = change is None if has_verdict else None
    identical = all(_same(ref[k], ours[k]) for k in ("estimate", "ci_low", "ci_high")) and agree is not False
    notes = [note] if note else []
    test = None
    settings = chosen_setting(ref.get("selection")), chosen_setting(ours.get("selection"))
    other_setting = None not in settings and settings[0] != settings[1]
    if identical:
        status = IDENTICAL
    elif change in ("reversed", "other"):
        status = DIFFERS
        notes.append("verdict reversed" if change == "reversed" else "verdicts differ")
    elif other_setting:
        # Numbers of two different settings: only the verdicts can be compared.
        status = NOISE
        notes.append(f"another chosen setting ({settings[0]} / {settings[1]}): judged on the verdicts")
    elif finite_number(ref["estimate"]) != finite_number(ours["estimate"]):
        # Every run excluded (diverged, silent) on one side: a difference where the other side's
        # estimate rests on two or more seeds, a coin toss where it rests on one.
        other = ours if finite_number(ours["estimate"]) else ref
        judged = finite_number(other["ci_low"]) and finite_number(other["ci_high"])
        status = DIFFERS if judged else NOT_JUDGED
        notes.append("no estimate on one side" + ("" if judged else ", one seed on the other"))
    elif not (finite_number(ref["estimate"]) or finite_number(ours["estimate"])):
        status = NOISE  # no estimate on either side (e.g. no setting chosen): the verdicts decide
    else:
        test = difference_test(ref, ours)
        status = NOISE if test is not None else NOT_JUDGED
        if test is None:
            notes.append("no interval to judge the difference (fewer than two seeds)")
    if change == "edge" and status != DIFFERS:
        notes.append("verdict at its threshold's edge: a decision on one side, inconclusive on the other")
    return {
        "table": table,
        "key": key,
        "quantity": quantity,
        **{f"ref_{k}": ref[k] for k in ("estimate", "ci_low", "ci_high")},
        **{f"our_{k}": ours[k] for k in ("estimate", "ci_low", "ci_high")},
        "ours_in_ref_ci": ours_in_ref,
        "ref_in_our_ci": ref_in_ours,
        "intervals_overlap": _overlap(ref["ci_low"], ref["ci_high"], ours["ci_low"], ours["ci_high"]),
        "ref_verdict": ref.get("verdict"),
        "our_verdict": ours.get("verdict"),
        "verdicts_agree": agree,
        "identical": identical,
        "z": test[0] if test else None,
        "p": test[1] if test else None,
        "p_holm": None,
        "status": status,
        "note": "; ".join(notes),
    }


def judge_rows(rows: list[dict], alpha: float = FAMILY_ALPHA) -> list[dict]:
    """Holm over every tested row's p: a row whose adjusted p is below ``alpha`` differs beyond
    noise. Rows keep their order; the others keep their provisional status."""
    tested = [i for i, r in enumerate(rows) if r.get("p") is not None and finite_number(r["p"])]
    for i, p_adj in zip(tested, holm([rows[i]["p"] for i in tested]), strict=True):
        rows[i]["p_holm"] = p_adj
        if p_adj < alpha and rows[i]["status"] == NOISE:
            rows[i]["status"] = DIFFERS
            extra = (
                f"the estimates differ beyond noise (z = {rows[i]['z']:.2f}, Holm-adjusted p = {p_adj:.2g})"
            )
            rows[i]["note"] = "; ".join(n for n in (rows[i]["note"], extra) if n)
    return rows


def _config_differs_row(table: str, key: str, quantity: str, ref: dict, ours: dict) -> dict:
    """A value both sides have, from runs of different configs: shown, never judged."""
    row = dict.fromkeys(COLUMNS)
    row.update(
        table=table,
        key=key,
        quantity=quantity,
        **{f"ref_{k}": ref[k] for k in ("estimate", "ci_low", "ci_high")},
        **{f"our_{k}": ours[k] for k in ("estimate", "ci_low", "ci_high")},
        ref_verdict=ref.get("verdict"),
        our_verdict=ours.get("verdict"),
        status=CONFIG_DIFFERS,
        note="the runs behind it were trained from another config than the reference's",
    )
    return row


def _one_side_row(table: str, key: str, quantity: str, side: str) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(table=table, key=key, quantity=quantity, status=f"only in {side}", note="not compared")
    return row


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {missing}; it has {list(frame.columns)}")


def _keyed(frame: pd.DataFrame, keys: list[str], what: str) -> dict[tuple, dict]:
    """Rows by key; a key that appears twice is an error (which row would be compared?)."""
    out: dict[tuple, dict] = {}
    for row in frame.to_dict("records"):
        key = tuple(row[k] for k in keys)
        if key in out:
            raise ValueError(f"{what}: the key {dict(zip(keys, key, strict=True))} appears more than once")
        out[key] = row
    return out


def _key_text(key: tuple) -> str:
    return " | ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in key)


def claim_keys(ref: pd.DataFrame, ours: pd.DataFrame) -> list[str]:
    """``claim_id`` + ``experiment``, and ``reading`` where both tables have it."""
    return CLAIM_KEYS + [k for k in OPTIONAL_CLAIM_KEYS if k in ref.columns and k in ours.columns]


def compare_claims(
    ref: pd.DataFrame,
    ours: pd.DataFrame,
    ref_runs: pd.DataFrame | None = None,
    our_runs: pd.DataFrame | None = None,
) -> list[dict]:
    """Per claim (``claim_keys``): estimate, interval and verdict on both sides. Optional
    columns: ``metric`` and ``config_hash`` enrich the row, ``selection`` tells whether both
    sides chose the same setting (``chosen_setting``).

    A claim's ``config_hash`` digests the runs it picked, so it differs both when the sides
    trained from other configs and when noise moved a choice on validation to another setting of
    the same config. With both runs tables the two are told apart: where the claim's experiment
    trained every setting from the same configs on both sides, the row is compared (on its
    verdicts, when the chosen settings differ); only otherwise is it ``CONFIG_DIFFERS``."""
    needed = [*CLAIM_KEYS, "estimate", "ci_low", "ci_high", "verdict"]
    _require(ref, needed, "reference claims")
    _require(ours, needed, "our claims")
    keys = claim_keys(ref, ours)
    text = {k: str for k in keys}
    ref_rows = _keyed(ref.fillna({k: "" for k in keys}).astype(text), keys, "reference claims")
    our_rows = _keyed(ours.fillna({k: "" for k in keys}).astype(text), keys, "our claims")
    ref_configs, our_configs = experiment_configs(ref_runs), experiment_configs(our_runs)
    rows = []
    for key in sorted(set(ref_rows) | set(our_rows)):
        r, o = ref_rows.get(key), our_rows.get(key)
        quantity = str((r or o).get("metric", "")) if pd.notna((r or o).get("metric", "")) else ""
        if r is None or o is None:
            rows.append(
                _one_side_row("claims", _key_text(key), quantity, "ours" if r is None else "reference")
            )
            continue
        if "config_hash" in r and "config_hash" in o and not _same(r["config_hash"], o["config_hash"]):
            experiment = r.get("experiment", "")
            if not (experiment in ref_configs and ref_configs[experiment] == our_configs.get(experiment)):
                rows.append(_config_differs_row("claims", _key_text(key), quantity, r, o))
                continue
        rows.append(compare_row("claims", _key_text(key), quantity, r, o))
    return rows


def experiment_configs(runs: pd.DataFrame | None) -> dict[str, str]:
    """Per experiment: the digest of all its runs' config hashes (empty without a runs table)."""
    return {key[0]: digest for key, digest in _config_digests(runs, ["experiment"]).items()}


def setting_configs(runs: pd.DataFrame | None) -> dict[tuple, str]:
    """Per summary setting (``SUMMARY_KEYS``): the digest of its runs' config hashes (empty
    without a runs table), so a setting trained from another config is told apart."""
    return _config_digests(runs, SUMMARY_KEYS)


def _config_digests(runs: pd.DataFrame | None, keys: list[str]) -> dict[tuple, str]:
    if runs is None or runs.empty or "config_hash" not in runs:
        return {}
    keyed = runs.astype({"lam": float}) if "lam" in keys else runs
    return {tuple(k): config_digest(g["config_hash"]) for k, g in keyed.groupby(keys, sort=False)}


def compare_summary(
    ref: pd.DataFrame,
    ours: pd.DataFrame,
    ref_runs: pd.DataFrame | None = None,
    our_runs: pd.DataFrame | None = None,
) -> list[dict]:
    """Per setting (experiment, method, lambda) of the summary: accuracy and hidden rate. With
    both sides' runs tables, a setting whose runs come from another config is not compared."""
    needed = [*SUMMARY_KEYS] + [f"{q}_{s}" for q in SUMMARY_QUANTITIES for s in ("mean", "ci_low", "ci_high")]
    _require(ref, needed, "reference summary")
    _require(ours, needed, "our summary")
    ref_rows = _keyed(ref.astype({"lam": float}), SUMMARY_KEYS, "reference summary")
    our_rows = _keyed(ours.astype({"lam": float}), SUMMARY_KEYS, "our summary")
    ref_cfg, our_cfg = setting_configs(ref_runs), setting_configs(our_runs)
    rows = []
    for key in sorted(set(ref_rows) | set(our_rows)):
        r, o = ref_rows.get(key), our_rows.get(key)
        other_config = key in ref_cfg and key in our_cfg and ref_cfg[key] != our_cfg[key]
        for q in SUMMARY_QUANTITIES:
            if r is None or o is None:
                side = "ours" if r is None else "reference"
                rows.append(_one_side_row("summary", _key_text(key), q, side))
                continue

            def pick(row: dict, q: str = q) -> dict:
                return {
                    "estimate": row[f"{q}_mean"],
                    "ci_low": row[f"{q}_ci_low"],
                    "ci_high": row[f"{q}_ci_high"],
                    "se": row.get(f"{q}_se"),
                    "n": row.get("n_seeds"),
                }

            if other_config:
                rows.append(_config_differs_row("summary", _key_text(key), q, pick(r), pick(o)))
            else:
                rows.append(compare_row("summary", _key_text(key), q, pick(r), pick(o)))
    return rows


def same_machine(a: dict, b: dict) -> bool:
    """Whether two machine records share every field that decides the low bits (``MACHINE_KEYS``);
    a field missing on either side means "not known to be the same"."""
    if not a or not b:
        return False
    return all(k in a and k in b and a[k] == b[k] for k in MACHINE_KEYS)


def _listed(rows: pd.DataFrame) -> str:
    return ", ".join(
        f"{t} {k} {q}".strip() for t, k, q in rows[["table", "key", "quantity"]].itertuples(index=False)
    )


def outcome_line(rows: pd.DataFrame, determinism_bug: bool) -> str:
    """The one-line verdict of the replication (see the module docstring)."""
    compared = _compared(rows)
    other_config = int((rows["status"].astype(str) == CONFIG_DIFFERS).sum())
    unmatched = len(rows) - len(compared) - other_config
    status = compared["status"].astype(str)
    if compared.empty and other_config:
        line = (
            f"{NOT_COMPARED}: no reference for this config (every one of the {other_config} values both "
            "sides have comes from runs of another config than the reference's)"
        )
        other_config = 0  # said already
    elif compared.empty:
        # nothing both sides have (another config's experiments): a study of its own, not a
        # failed replication
        line = f"{NOT_COMPARED}: no reference for this config (no row in common with the reference's)"
    elif compared["identical"].astype(bool).all():
        line = f"{REPRODUCED}: all {len(compared)} compared values identical"
    elif (status != DIFFERS).all():
        n_noise = int((status == NOISE).sum())
        line = (
            f"{WITHIN_NOISE}: no verdict reversed and no value differs beyond noise ({n_noise} of "
            f"{len(compared)} values differ within noise; two-sample test per value, Holm-corrected "
            f"at {FAMILY_ALPHA:.0%} family-wise)"
        )
        moved = [
            verdict_change(a, b) == "edge"
            for a, b in compared[["ref_verdict", "our_verdict"]].itertuples(index=False)
        ]
        edge = compared[moved]
        if len(edge):
            line += f"; {len(edge)} verdicts moved between a decision and inconclusive ({_listed(edge)})"
        unjudged = compared[status == NOT_JUDGED]
        if len(unjudged):
            line += f"; {len(unjudged)} values not judged, fewer than two seeds ({_listed(unjudged)})"
    else:
        bad = compared[status == DIFFERS]
        line = f"{DIFFERS}: {len(bad)} of {len(compared)} values ({_listed(bad)})"
    if other_config:
        line += f"; {other_config} values from another config than the reference's, not compared"
    if unmatched:
        line += f"; {unmatched} rows on one side only, not compared"
    if determinism_bug:
        line += (
            "; DETERMINISM BUG: same machine, threads, versions, commit and config as the reference, "
            "other numbers"
        )
    return line


def _compared(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that were compared: on both sides, from the same config."""
    status = rows["status"].astype(str)
    return rows[~status.str.startswith("only in") & (status != CONFIG_DIFFERS)]


def compare(
    ref_claims: pd.DataFrame,
    our_claims: pd.DataFrame,
    ref_summary: pd.DataFrame,
    our_summary: pd.DataFrame,
    ref_machine: dict | None = None,
    ours_machine: dict | None = None,
    ref_runs: pd.DataFrame | None = None,
    our_runs: pd.DataFrame | None = None,
) -> Replication:
    """Compare two studies' claims and summary tables (pure: no files); with both runs tables,
    summary settings and claims trained from another config are not compared (a claim whose
    choice on validation moved to another setting of the same config is)."""
    rows = pd.DataFrame(
        judge_rows(
            compare_claims(ref_claims, our_claims, ref_runs, our_runs)
            + compare_summary(ref_summary, our_summary, ref_runs, our_runs)
        ),
        columns=COLUMNS,
    )
    ref_machine, ours_machine = ref_machine or {}, ours_machine or {}
    compared = _compared(rows)
    numbers_differ = not compared["identical"].astype(bool).all()
    # Other code or another config explains different numbers; only the same code, config and
    # machine make a difference a bug.
    commits = [m.get("git_commit") for m in (ref_machine, ours_machine)]
    same_code = None in commits or commits[0] == commits[1]
    same_config = not (rows["status"].astype(str) == CONFIG_DIFFERS).any()
    bug = numbers_differ and same_code and same_config and same_machine(ref_machine, ours_machine)
    return Replication(rows, outcome_line(rows, bug), bug, ours_machine, ref_machine)


def machine_from_records(records: list[dict]) -> dict:
    """The machine the runs of a results folder ran on, from their provenance. Several machines
    (a cluster with mixed nodes) give ``{"machines": [...]}``, which never counts as the same
    machine as the reference. Records written before machine provenance existed give ``{}``."""
    seen: list[dict] = []
    commits: set[str] = set()
    kernels: set[str] = set()
    for rec in records:
        prov = rec.get("provenance", {})
        commits.add(prov.get("git_commit", "unknown"))
        if not all(k in prov for k in MACHINE_KEYS):
            return {}
        # Runs whose neurons the compiled loops do not cover say "unused": they do not make a
        # second machine. Compiled and PyTorch loops in one study (a failed build) show as both.
        if prov["lif_kernels"] != "unused":
            kernels.add(prov["lif_kernels"])
        machine = {k: prov[k] for k in MACHINE_KEYS if k != "lif_kernels"}
        if machine not in seen:
            seen.append(machine)
    if not seen:
        return {}
    used = " + ".join(sorted(kernels)) or "unused"
    out = {**seen[0], "lif_kernels": used} if len(seen) == 1 else {"machines": seen, "lif_kernels": used}
    out["git_commit"] = sorted(commits)[0] if len(commits) == 1 else sorted(commits)
    out["n_runs"] = len(records)
    return out


def study_machine(tables: str | Path, records: list[str] | None = None) -> dict:
    """Machine of the study whose tables are in ``tables``: from the given metrics.json records,
    else ``tables/machine.json``, else the records under the results folder (``../runs``)."""
    tables = Path(tables)
    if records:
        return machine_from_records([read_json(p) for p in records])
    if (tables / MACHINE_FILE).exists():
        return read_json(tables / MACHINE_FILE)
    found = sorted((tables.parent / "runs").glob("**/metrics.json"))
    return machine_from_records([read_json(p) for p in found])


def no_reference(reference: str | Path) -> Replication:
    row = dict.fromkeys(COLUMNS)
    row.update(table="none", status=NO_REFERENCE, note=f"{reference} holds no claims.csv and summary.csv")
    return Replication(pd.DataFrame([row], columns=COLUMNS), f"{NO_REFERENCE}: nothing to compare against")


def replicate(ours: str | Path, reference: str | Path, records: list[str] | None = None) -> Replication:
    """Compare the tables folder ``ours`` with the reference folder; a missing reference gives the
    ``no reference`` outcome (a fresh clone without reference/ must still finish its study)."""
    ours, reference = Path(ours), Path(reference)
    for name in ("claims.csv", "summary.csv"):
        if not (ours / name).exists():
            raise MissingInputError(f"our tables folder {ours} has no {name}: run the study first")
    ours_machine = study_machine(ours, records)
    if not all((reference / name).exists() for name in ("claims.csv", "summary.csv")):
        result = no_reference(reference)
        result.ours_machine = ours_machine
        return result
    ref_machine = read_json(reference / MACHINE_FILE) if (reference / MACHINE_FILE).exists() else {}
    ids = {"claim_id": str}  # "000" stays "000", not the number 0

    def runs(folder: Path) -> pd.DataFrame | None:
        path = folder / RUNS_FILE
        return pd.read_csv(path, usecols=[*SUMMARY_KEYS, "config_hash"]) if path.exists() else None

    return compare(
        pd.read_csv(reference / "claims.csv", dtype=ids),
        pd.read_csv(ours / "claims.csv", dtype=ids),
        pd.read_csv(reference / "summary.csv"),
        pd.read_csv(ours / "summary.csv"),
        ref_machine,
        ours_machine,
        runs(reference),
        runs(ours),
    )


def _fmt(x, percent: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, float, np.floating, np.integer)):
        return f"{100 * x:.2f}" if percent else f"{x:.4g}"
    return str(x)


def _estimate(row: pd.Series, side: str, percent: bool) -> str:
    return (
        f"{_fmt(row[f'{side}_estimate'], percent)} "
        f"[{_fmt(row[f'{side}_ci_low'], percent)}, {_fmt(row[f'{side}_ci_high'], percent)}]"
    )


def _machine_lines(result: Replication) -> list[str]:
    keys = [*MACHINE_KEYS, "git_commit", "date"]
    lines = ["| | reference | this study |", "|---|---|---|"]
    for k in keys:
        a, b = result.ref_machine.get(k, "–"), result.ours_machine.get(k, "–")
        if k in ("git_commit", "date") and a == "–" and b == "–":
            continue
        lines.append(f"| {k} | {a} | {b} |")
    if "machines" in result.ours_machine:
        lines.append(f"\nThis study's runs ran on {len(result.ours_machine['machines'])} different machines.")
    return lines


def replication_markdown(result: Replication) -> str:
    """The report: outcome, the two machines, then every claim and every summary setting."""
    lines = [
        "# Replication check",
        "",
        f"**Outcome: {result.outcome}.**",
        "",
        "Same machine, threads and versions as the reference: the tables should be bit-identical "
        "(`reproduced`). Another CPU: numbers differ in the low bits and training amplifies them; a "
        "faithful replication then reverses no verdict and no value differs beyond noise (a "
        "two-sample test per value from the two 95 % intervals, Holm-corrected over all values at "
        f"{FAMILY_ALPHA:.0%} family-wise: `reproduced within noise`). A verdict may move between a "
        "decision and `inconclusive` where its interval ends at the threshold; such moves are named. "
        "Anything else is listed as `differs`.",
        "",
    ]
    if result.status == NO_REFERENCE:
        lines += ["No reference tables were found (`reference/`; `make reference` creates them).", ""]
        return "\n".join(lines)
    lines += ["## Machines", "", *_machine_lines(result), ""]
    rows = result.rows
    claims = rows[rows["table"] == "claims"]
    lines += [
        "## Claims",
        "",
        "| claim | experiment | reading | metric | reference | ours | ours in ref. CI | ref. in our CI "
        "| verdicts (ref. / ours) | status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in claims.iterrows():
        claim_id, experiment, *reading = str(r["key"]).split(" | ", 2)
        lines.append(
            f"| {claim_id} | {experiment} | {(reading or ['–'])[0].replace('|', chr(92) + '|')} "
            f"| {_fmt(r['quantity'])} | {_estimate(r, 'ref', False)} "
            f"| {_estimate(r, 'our', False)} "
            f"| {_fmt(r['ours_in_ref_ci'])} | {_fmt(r['ref_in_our_ci'])} "
            f"| {_fmt(r['ref_verdict'])} / {_fmt(r['our_verdict'])} | {r['status']}"
            f"{' (' + r['note'] + ')' if isinstance(r['note'], str) and r['note'] else ''} |"
        )
    summary = rows[rows["table"] == "summary"]
    lines += [
        "",
        "## Summary settings (accuracy and hidden rate, %)",
        "",
        "| experiment \\| method \\| λ | quantity | reference | ours | ours in ref. CI "
        "| ref. in our CI | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in summary.iterrows():
        lines.append(
            f"| {r['key'].replace('|', chr(92) + '|')} | {r['quantity']} | {_estimate(r, 'ref', True)} "
            f"| {_estimate(r, 'our', True)} | {_fmt(r['ours_in_ref_ci'])} | {_fmt(r['ref_in_our_ci'])} "
            f"| {r['status']} |"
        )
    return "\n".join(lines) + "\n"


def write_replication(
    result: Replication, csv: str | Path, md: str | Path, machine: str | Path | None = None
) -> None:
    write_csv(csv, result.rows)
    write_text(md, replication_markdown(result))
    if machine is not None:
        write_json(machine, result.ours_machine)


def freeze_reference(tables: str | Path, out: str | Path, records: list[str] | None = None) -> Path:
    """Copy a finished study's reference tables (``REFERENCE_TABLES``, no model files) into
    ``out`` with the machine they came from (``machine.json``: the runs' machine, the date and
    the commit) and a README saying how to regenerate them."""
    tables, out = Path(tables), Path(out)
    missing = [name for name in REFERENCE_TABLES if not (tables / name).exists()]
    if missing:
        raise MissingInputError(
            f"{tables} lacks {missing}: run the whole study (make study) before freezing it"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in REFERENCE_TABLES:
        shutil.copyfile(tables / name, out / name)
    machine = study_machine(tables, records)
    if not machine:
        # Runs recorded before machine provenance existed: describe this process's machine,
        # and say so.
        machine = {
            **machine_info(),
            "source": "the machine that froze the reference (runs carry no machine record)",
        }
    machine.setdefault("git_commit", git_commit())
    # The runs' commit (above) trained them; the tables may have been rebuilt from those runs by
    # later code (aggregation, claims): name the code that froze them too.
    machine["frozen_at_commit"] = git_commit()
    machine["date"] = utc_timestamp()
    write_json(out / MACHINE_FILE, machine)
    write_text(out / REFERENCE_README, _reference_readme(machine))
    return out


def _reference_readme(machine: dict) -> str:
    keys = (*MACHINE_KEYS, "git_commit", "frozen_at_commit", "date")
    described = "\n".join(f"- {k}: {machine.get(k, '–')}" for k in keys)
    return (
        "# Reference results\n\n"
        "The tables the README reports (claims, summary, conversion, plane; no model files) and the\n"
        "runs behind them (runs.csv: every run's metrics and config), frozen\n"
        "from a full `make study` on this machine (`git_commit`: the code that trained the runs;\n"
        "`frozen_at_commit`: the code that built and froze the tables from them):\n\n"
        f"{described}\n\n"
        "`make study` compares every rerun against these tables and ends with the replication report\n"
        "(`results/tables/replication.md`; also `spikesparse replicate --ours results/tables --reference\n"
        "reference --csv replication.csv --md replication.md`). On this machine, with the same threads\n"
        "and versions, the numbers are bit-identical; on another CPU they agree within noise (docs/study/\n"
        'reliability.md, "Replication").\n\n'
        "Regenerate (after a change that is meant to move the results): `make reference`, which runs\n"
        "`make study` and then `spikesparse freeze-reference --tables results/tables --out reference`.\n"
        "After a change of the judging rules only: `make rejudge` (claims.csv from runs.csv, no\n"
        "retraining).\n"
    )
