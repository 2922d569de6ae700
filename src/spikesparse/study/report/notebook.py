"""The analysis notebook's helpers, its execution (papermill's parameters, nbclient) and its
HTML rendering (nbconvert).

The notebook (``notebooks/analysis.ipynb``) imports its helpers from here so that they are
tested like the rest of the package and documented once: slicing the tidy tables by experiment,
method, lambda, seed or E1 regime; the claim rows of one study in words; the figures of the
registry (``figure_registry.FIGURES``) grouped by study and displayed as inline PNG images; the
metric glossary from the metric catalog.

In the workflow the notebook embeds the figure files the ``figures`` jobs drew
(``results/figures/*.png``, the same PNGs as the report's) instead of drawing every figure a
second time; a figure whose file is missing (the notebook run by hand on other tables) is drawn
from the tables. The tables load lazily (``load_tables``): the per-neuron and raster tables are
the largest of the study and are read only where a cell uses them.

Figures are displayed as explicit PNG images (``IPython.display.Image``) rather than through
matplotlib's display hook: ``plots`` selects the non-interactive Agg backend at import so the
``figures`` rule renders headless, and under Agg a returned or ``show()``-n figure produces no
notebook output at all. A PNG written by ``savefig`` does not depend on the backend.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import paths
from ..analysis import metric_catalog
from .figure_registry import FIGURES

# Output metadata key that names the figure an image output shows: the tests and
# ``check_executed`` find each figure's image by it.
FIGURE_KEY = "spikesparse_figure"
_STUDY = re.compile(r"^(e\d+)")
# nbconvert's lab template, less the two scripts it loads from a CDN (RequireJS for widgets, MathJax
# for LaTeX): the notebook uses neither, and the HTML must open offline without failed requests.
# Each figure's <img> also gets its title as alt text (the lab template has none to give).
ALT_KEY = "spikesparse_alt"
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block data_png scoped -%}
{%- if output.metadata.get('spikesparse_alt') -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img alt="{{ output.metadata['spikesparse_alt'] | escape_html }}"
src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}">
</div>
{%- else -%}{{ super() }}{%- endif -%}
{%- endblock data_png -%}
"""


def results_file(results_dir: str | Path, pattern: str) -> Path:
    """Where a ``paths`` file pattern (``results/...``) lies under ``results_dir``.

    The notebook gets the results folder injected; the patterns in ``paths`` are relative to the
    working directory and start with ``results/``, so the prefix is swapped for the folder.
    """
    rel = Path(pattern).relative_to(paths.RESULTS)
    return Path(results_dir) / rel


class LazyTables(Mapping):
    """The aggregated tables by name (``paths.AGGREGATE_TABLES``), each read from its CSV in
    ``folder`` the first time it is used, then kept: ``tables["runs"]`` reads ``runs.csv`` once."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._read: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in paths.AGGREGATE_TABLES:
            raise KeyError(f"no table {name!r}; the tables are {list(paths.AGGREGATE_TABLES)}")
        if name not in self._read:
            # .copy(): one consolidated block, as plots.read_tables gives the figures
            self._read[name] = pd.read_csv(self.folder / Path(paths.AGGREGATE_TABLES[name]).name).copy()
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(paths.AGGREGATE_TABLES)

    def __len__(self) -> int:
        return len(paths.AGGREGATE_TABLES)

    def __repr__(self) -> str:
        read = ", ".join(self._read) or "none yet"
        return f"LazyTables({str(self.folder)!r}; read: {read})"


def load_tables(results_dir: str | Path) -> LazyTables:
    """The aggregated tables of ``results_dir`` by name, each read when first used (``LazyTables``)."""
    return LazyTables(results_file(results_dir, paths.TABLES))


def study_of(experiment: str) -> str:
    """The study (``e1`` ... ``e5``) an experiment or figure name belongs to: its ``eN`` prefix.

    Config experiments are named after their study (``e2_digits``, ``e4_mnist1d``; the E1
    regimes ``e1``, ``e1_...``), and figure names carry the same prefix.
    """
    match = _STUDY.match(str(experiment))
    if match is None:
        raise ValueError(f"cannot tell the study of {experiment!r}: names start with e<number>")
    return match.group(1)


def read_claims(results_dir: str | Path) -> pd.DataFrame:
    """The claims table (``claims.csv``), every column it has; empty if the file is missing."""
    path = results_file(results_dir, paths.CLAIMS_CSV)
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def _matches(column: pd.Series, wanted: Any, numeric: bool) -> pd.Series:
    values = list(wanted) if isinstance(wanted, list | tuple | set | frozenset) else [wanted]
    if not numeric:
        return column.astype(str).isin([str(v) for v in values])
    col = pd.to_numeric(column, errors="coerce")
    keep = pd.Series(False, index=column.index)
    for v in values:
        try:
            target = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"lambda must be a number, got {v!r}") from None
        keep |= (col - target).abs() <= 1e-9 * max(1.0, abs(target))
    return keep


def regimes(table: pd.DataFrame) -> list[str]:
    """The E1 regimes present in ``table``: the names of its experiments of study ``e1``.

    E1 runs one experiment per regime (network size, time steps, task), so a regime is named by
    its experiment; the list is read from the table, never fixed here.
    """
    if "experiment" not in table.columns:
        return []
    names = table["experiment"].dropna().astype(str).unique()
    if "study" in table.columns:
        e1 = set(table.loc[table["study"] == "e1", "experiment"].astype(str))
        return sorted(n for n in names if n in e1)
    return sorted(n for n in names if _STUDY.match(n) and study_of(n) == "e1")


def select(
    table: pd.DataFrame,
    *,
    study: str | Iterable[str] | None = None,
    experiment: str | Iterable[str] | None = None,
    method: str | Iterable[str] | None = None,
    lam: float | str | Iterable[float | str] | None = None,
    seed: int | Iterable[int] | None = None,
    regime: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Rows of any tidy table that match every filter given (a value or a list of values).

    One function for every table (runs, history, neurons, rasters, summary, conversion, plane,
    claims) so slicing reads the same everywhere. ``lam`` compares numerically (``0.1`` matches
    the path spelling ``"0.1"``); ``study`` uses the table's ``study`` column or else the
    experiment name's prefix; ``regime`` is an E1 experiment name (``regimes(table)`` lists
    them). A filter on a column the table lacks, or an unknown regime, raises ValueError naming
    it, instead of silently returning nothing.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"select needs a pandas DataFrame, got {type(table).__name__}")
    keep = pd.Series(True, index=table.index)
    filters = {"experiment": experiment, "method": method, "lam": lam, "seed": seed}
    for column, wanted in filters.items():
        if wanted is None:
            continue
        if column not in table.columns:
            raise ValueError(f"cannot filter on {column!r}: the table has columns {list(table.columns)}")
        keep &= _matches(table[column], wanted, numeric=column in ("lam", "seed"))
    if study is not None:
        if "study" in table.columns:
            keep &= _matches(table["study"], study, numeric=False)
        elif "experiment" in table.columns:
            prefix = table["experiment"].astype(str).str.extract(_STUDY, expand=False)
            keep &= _matches(prefix, study, numeric=False)
        else:
            raise ValueError(f"cannot filter on study: the table has columns {list(table.columns)}")
    if regime is not None:
        known = regimes(table)
        wanted = [regime] if isinstance(regime, str) else list(regime)
        unknown = [r for r in wanted if r not in known]
        if unknown:
            raise ValueError(f"unknown E1 regime(s) {unknown}; this table has {known}")
        keep &= table["experiment"].astype(str).isin(wanted)
    return table[keep]


def claims_for(claims: pd.DataFrame, study: str) -> pd.DataFrame:
    """The claim rows of one study (by the ``study`` column, else the experiment's prefix)."""
    if claims.empty:
        return claims
    return select(claims, study=study)


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return str(value).strip() != ""


def describe_claims(rows: pd.DataFrame) -> str:
    """The claim rows in words (Markdown), one bullet per row, from whatever columns exist.

    Reads ``claim_id``, ``experiment``, ``claim``, ``our_value``, ``verdict``, ``reason`` and
    ``rule`` when present; the verdicts come from the table, never from here.
    """
    if rows.empty:
        return "_No claim row for this study in `claims.csv`._"
    lines = []
    for row in rows.to_dict("records"):
        head = " ".join(
            part
            for part in (
                f"**{row['claim_id']}**" if _present(row.get("claim_id")) else "",
                f"({row['experiment']})" if _present(row.get("experiment")) else "",
            )
            if part
        )
        text = f"- {head}: " if head else "- "
        text += str(row["claim"]).rstrip(".") + "." if _present(row.get("claim")) else ""
        if _present(row.get("our_value")):
            text += f" Ours: {row['our_value']}."
        if _present(row.get("verdict")):
            text += f" Verdict: **{row['verdict']}**"
            text += f" ({row['reason']})." if _present(row.get("reason")) else "."
        if _present(row.get("rule")):
            text += f" Rule: {row['rule']}"
        lines.append(text.strip())
    return "\n".join(lines)


def study_summary(
    summary: pd.DataFrame,
    study: str,
    metrics: Iterable[str] = ("accuracy", "hidden_rate", "spikes_per_sample", "synops_per_sample"),
) -> pd.DataFrame:
    """One study's rows of the seed summary: mean and 95 % interval of each metric that exists."""
    if summary.empty or "study" not in summary.columns:
        return pd.DataFrame()
    sub = select(summary, study=study)
    keys = [c for c in ("experiment", "method", "lam", "n_seeds", "n_not_ok") if c in sub.columns]
    stats = [f"{m}_{s}" for m in metrics for s in ("mean", "ci_low", "ci_high") if f"{m}_{s}" in sub.columns]
    return sub[keys + stats].round(4).reset_index(drop=True)


def figure_groups(names: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Registered figure names grouped by study prefix, in registry order (``figure_registry``).

    The notebook shows figures from this grouping, so a figure added to the registry appears
    under its study without editing the notebook.
    """
    groups: dict[str, list[str]] = {}
    for name in FIGURES if names is None else names:
        groups.setdefault(study_of(name), []).append(name)
    return groups


def figure_png(name: str, tables: Mapping[str, pd.DataFrame]) -> bytes:
    """The registered figure ``name`` drawn from ``tables``, as PNG bytes (figure closed after),
    encoded as the figure files are (``plots.png_bytes``, at their resolution).

    A study the tables lack gives the figure's own note image (``plots`` draws one), not an error.
    """
    import matplotlib.pyplot as plt

    from . import plots  # selects Agg before pyplot is used here

    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; registered: {sorted(FIGURES)}")
    fig = plots.DRAWERS[name](tables)
    try:
        return plots.png_bytes(fig)
    finally:
        plt.close(fig)


def drawn_figure(name: str, figures: str | Path | None) -> bytes | None:
    """The PNG bytes of the figure file the ``figures`` job drew for ``name`` in the folder
    ``figures``, or None where there is no such file (or no folder given)."""
    if figures is None:
        return None
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; registered: {sorted(FIGURES)}")
    path = Path(figures) / FIGURES[name].file
    return path.read_bytes() if path.is_file() else None


def show_figure(
    name: str, tables: Mapping[str, pd.DataFrame], heading: str = "###", figures: str | Path | None = None
) -> None:
    """Display one registered figure under its title: a Markdown heading, then one PNG image:
    the drawn file in the folder ``figures`` where there is one, else drawn from ``tables``.

    The image output carries ``{FIGURE_KEY: name}`` in its metadata so tests and
    ``check_executed`` can tell which figure it is.
    """
    from IPython.display import Image, Markdown, display

    title = FIGURES[name].title if name in FIGURES else name
    display(Markdown(f"{heading} {title}\n\n`{name}`"))
    png = drawn_figure(name, figures)
    if png is None:
        png = figure_png(name, tables)
    display(Image(data=png, format="png"), metadata={FIGURE_KEY: name, ALT_KEY: title})


def show_figures(
    tables: Mapping[str, pd.DataFrame], study: str, figures: str | Path | None = None
) -> list[str]:
    """Display every registered figure of ``study``, in registry order (each its drawn file in
    ``figures`` where there is one); returns their names."""
    names = figure_groups().get(study, [])
    if not names:
        from IPython.display import Markdown, display

        display(Markdown(f"_No figure registered for {study.upper()}._"))
    for name in names:
        show_figure(name, tables, figures=figures)
    return names


def show_claims(claims: pd.DataFrame, study: str) -> pd.DataFrame:
    """Display one study's claim rows in words; returns the rows (every column) to show as a table."""
    from IPython.display import Markdown, display

    rows = claims_for(claims, study)
    display(Markdown(describe_claims(rows)))
    return rows.reset_index(drop=True)


def show_replication(results_dir: str | Path) -> None:
    """Display the replication check (``replication.md``, else ``replication.csv``) or say it did not run."""
    from IPython.display import Markdown, display

    md = results_file(results_dir, paths.REPLICATION_MD)
    csv = results_file(results_dir, paths.REPLICATION_CSV)
    if md.exists():
        display(Markdown(md.read_text()))
    elif csv.exists():
        display(pd.read_csv(csv))
    else:
        display(
            Markdown(
                "_The replication check did not run: neither "
                f"`{Path(paths.REPLICATION_MD).name}` nor `{Path(paths.REPLICATION_CSV).name}` "
                "is in the tables folder._"
            )
        )


# The helpers the notebook lists in its first cells (name -> function), in reading order.
HELPERS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        load_tables,
        select,
        regimes,
        study_of,
        study_summary,
        claims_for,
        describe_claims,
        figure_groups,
        show_figure,
        show_figures,
        show_claims,
        show_replication,
    )
}


def helpers_markdown() -> str:
    """The notebook's helpers as a Markdown list: each signature, then its docstring's first line.

    A list rather than a table: signatures hold ``|`` (type unions), which a table cell would need
    escaped and nbconvert's Markdown would then print with the backslash.
    """
    lines = []
    for name, func in HELPERS.items():
        sig = str(inspect.signature(func)).replace("'", "")
        doc = (inspect.getdoc(func) or "").splitlines()[0]
        lines.append(f"- `{name}{sig}`  \n  {doc}")
    return "\n".join(lines)


def metrics_markdown() -> str:
    """Every run metric of the tables (test columns; ``val_<name>`` on validation) as the metric
    catalog declares it: definition, unit, better direction, NeuroBench name, per-layer columns."""
    return metric_catalog.markdown_table()


def figure_outputs(nb: Any) -> dict[str, list[dict]]:
    """Image outputs of an executed notebook by the figure they show (``FIGURE_KEY`` metadata)."""
    found: dict[str, list[dict]] = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get(FIGURE_KEY)
            if name is not None:
                found.setdefault(name, []).append(out)
    return found


def check_executed(nb: Any, figure_names: Iterable[str] | None = None) -> None:
    """Raise ValueError unless every registered figure has exactly one PNG output and no cell erred.

    Run after execution so a notebook that silently lost its figures (as when a figure cell
    relied on the Agg backend to display) fails the ``notebook`` rule instead of shipping.
    """
    names = list(FIGURES if figure_names is None else figure_names)
    errors = [
        f"{out.get('ename')}: {out.get('evalue')}"
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    if errors:
        raise ValueError(f"the executed notebook has error outputs: {errors}")
    found = figure_outputs(nb)
    missing = [n for n in names if n not in found]
    repeated = [n for n, outs in found.items() if len(outs) != 1]
    no_png = [n for n, outs in found.items() if not all("image/png" in o.get("data", {}) for o in outs)]
    if missing or repeated or no_png:
        raise ValueError(
            f"the executed notebook's figures are wrong: missing {missing}, shown more than once "
            f"{repeated}, without a PNG {no_png}"
        )


# The kernel keeps no input history: its SQLite database is opened at start-up and written per
# cell, for a notebook that runs once (about 0.2 s of the notebook job).
KERNEL_ARGS = ["--HistoryManager.enabled=False"]


def execute_notebook(notebook: str, executed: str, html: str, parameters: dict) -> None:
    """Execute ``notebook`` with ``parameters`` into ``executed``, check it, and render ``html``.

    The parameters go in as papermill injects them (a tagged cell after the ``parameters`` cell);
    the cells run in one nbclient session and the notebook is written once at the end.
    ``papermill.execute_notebook`` writes the whole notebook, figures included, before and after
    every cell (about 0.7 s of the notebook job, which ends the study's serial tail)."""
    import nbformat
    from nbclient import NotebookClient
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from ..io import atomic_write, write_text

    nb = parameterize_notebook(load_notebook_node(notebook), parameters, kernel_name="python3")
    cwd = str(Path(notebook).resolve().parent)
    client = NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": cwd}}, extra_arguments=KERNEL_ARGS
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error
    check_executed(nb)
    Path(executed).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(executed, lambda tmp: nbformat.write(nb, tmp))
    write_text(html, to_html(nb))


def to_html(nb: Any) -> str:
    """An executed notebook as one self-contained HTML page that opens offline (``OFFLINE_TEMPLATE``)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
    )
    body, _ = exporter.from_notebook_node(nb)
    return body
