"""The claims table: each seed paper's claims, judged on this study's result tables.

Every claim is one ``core.Claim`` registered in the module of its seed paper (``seed000`` ...
``seed003``); importing this package registers them all. ``claims_table`` renders the registry in
order, ``claims_markdown`` renders the table for the study's tables and the report.
"""

from __future__ import annotations

import pandas as pd

from ....errors import MissingInputError
from . import seed000, seed001, seed002, seed003  # noqa: F401  (registration)
from .core import COLUMNS, REGISTRY, VERDICTS, Claim, Judgement, register

__all__ = [
    "COLUMNS",
    "rejudge",
    "verdict_changes",
    "REGISTRY",
    "VERDICTS",
    "Claim",
    "Judgement",
    "claims_markdown",
    "table_lines",
    "PROTOCOL_NOTE",
    "claims_table",
    "register",
]


def claims_table(runs: pd.DataFrame, conversion: pd.DataFrame) -> pd.DataFrame:
    """One row per registered claim and experiment (or experiment group) that tests it."""
    tables = {"runs": runs, "conversion": conversion}
    rows = []
    for claim in REGISTRY.values():
        for experiment, judgement in claim.evaluate(tables):
            rows.append(claim.row(experiment, judgement))
    return pd.DataFrame(rows, columns=COLUMNS)


# How every row was reached: the sentence each rendering of the claims table puts above it.
PROTOCOL_NOTE = (
    "Every setting behind a row was chosen on the validation split; intervals are paired 95 % "
    "t-intervals over seeds; the rule of each row is in column `rule` of claims.csv"
)
# (header, claims.csv column) of the study's claims.md
MARKDOWN_COLUMNS = [
    (c, c)
    for c in ("claim_id", "experiment", "reading", "paper_value", "our_value", "n_seeds", "verdict", "reason")
]


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims table as Markdown: the verdict and its reason beside our number."""
    lines = [
        "# Claims of the seed papers, checked on this study's data",
        "",
        f"Methods are our reconstruction from the seed abstracts. {PROTOCOL_NOTE} "
        "(`spikesparse.study.analysis.claims`).",
        "",
        *table_lines(claims, MARKDOWN_COLUMNS),
    ]
    return "\n".join(lines) + "\n"


def table_lines(
    claims: pd.DataFrame, columns: list[tuple[str, str]], bold_verdict: bool = False
) -> list[str]:
    """The rows of ``claims`` as a Markdown table of ``columns`` (header, claims.csv column): the
    one rendering of a claims table (claims.md, the README, the results page)."""
    lines = ["| " + " | ".join(head for head, _ in columns) + " |", "|" + "---|" * len(columns)]
    for _, r in claims.iterrows():
        cells = [f"**{r[c]}**" if bold_verdict and c == "verdict" else r[c] for _, c in columns]
        lines.append("| " + " | ".join(_cell(v) for v in cells) + " |")
    return lines


def _cell(value) -> str:
    text = "" if pd.isna(value) else str(value)
    return text.replace("|", "/").replace("\n", " ")


def verdict_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Rows (claim, experiment, reading) whose verdict differs between two claims tables, with
    the new reason: what a change of the judging rules did to a published table."""
    keys = ["claim_id", "experiment", "reading"]

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(reading=frame["reading"].fillna("")).astype({k: str for k in keys})
        return frame.set_index(keys)

    b, a = keyed(before), keyed(after)
    both = b.index.intersection(a.index)
    moved = [k for k in both if b.loc[k, "verdict"] != a.loc[k, "verdict"]]
    rows = [
        {
            **dict(zip(keys, k, strict=True)),
            "before": b.loc[k, "verdict"],
            "after": a.loc[k, "verdict"],
            "reason": a.loc[k, "reason"],
        }
        for k in moved
    ]
    return pd.DataFrame(rows, columns=[*keys, "before", "after", "reason"])


def rejudge(tables: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Judge the runs of a tables folder (``runs.csv``, ``conversion.csv``: a study's
    ``results/tables`` or ``reference/``) again with the current rules, without retraining;
    rewrite its ``claims.csv`` (and ``claims.md`` where it has one). Returns the new table and the
    rows whose verdict moved (``verdict_changes``)."""
    from pathlib import Path

    from ...io import write_csv, write_text

    folder = Path(tables)
    missing = [n for n in ("runs.csv", "conversion.csv") if not (folder / n).exists()]
    if missing:
        raise MissingInputError(f"{folder} lacks {missing}: rejudging needs the runs and conversion tables")
    claims = claims_table(pd.read_csv(folder / "runs.csv"), pd.read_csv(folder / "conversion.csv"))
    old = folder / "claims.csv"
    changes = (
        verdict_changes(pd.read_csv(old, dtype={"claim_id": str}), claims)
        if old.exists()
        else pd.DataFrame(columns=["claim_id", "experiment", "reading", "before", "after", "reason"])
    )
    write_csv(old, claims)
    if (folder / "claims.md").exists():
        write_text(folder / "claims.md", claims_markdown(claims))
    return claims, changes
