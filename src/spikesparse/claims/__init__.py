"""The claims table: each seed paper's claims, judged on this study's result tables.

Every claim is one ``core.Claim`` registered in the module of its seed paper (``seed000`` ...
``seed003``); importing this package registers them all. ``claims_table`` renders the registry in
order, ``claims_markdown`` renders the table for the README and the report.
"""

from __future__ import annotations

import pandas as pd

from . import seed000, seed001, seed002, seed003  # noqa: F401  (registration)
from .core import COLUMNS, REGISTRY, VERDICTS, Claim, Judgement, register

__all__ = [
    "COLUMNS",
    "REGISTRY",
    "VERDICTS",
    "Claim",
    "Judgement",
    "claims_markdown",
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


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims table as Markdown: the verdict and its reason beside our number."""
    cols = ["claim_id", "experiment", "reading", "paper_value", "our_value", "n_seeds", "verdict", "reason"]
    lines = [
        "# Claims of the seed papers, checked on this study's data",
        "",
        "Methods are our reconstruction from the seed abstracts. Every choice behind a row was made on "
        "the validation split; intervals are paired 95 % t-intervals over seeds; the rule of each "
        "row is in column `rule` of claims.csv (`spikesparse.claims`).",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for _, r in claims.iterrows():
        lines.append("| " + " | ".join(_cell(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    text = "" if pd.isna(value) else str(value)
    return text.replace("|", "/").replace("\n", " ")
