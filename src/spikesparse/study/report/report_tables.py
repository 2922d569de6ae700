"""The tables folder in one small table for the Snakemake report: every table of the study, where
it is on disk, its size, and whether the report embeds it.

Why: the report is one self-contained HTML file, and Snakemake embeds every file marked for it
as base64. The per-neuron rates and the rasters (one row per hidden neuron, one per spike) are
tens of MB in the default study: embedded, the report was 55 MB. The report embeds the figures,
the notebook and the small tables a reader judges the study by (``EMBEDDED``); this index names
the others, with their rows, columns and bytes, and where they are (``file``, relative to the
study's working directory; the report's caption also gives the absolute folder).

Standard library only (``python -m spikesparse.study.report.report_tables``): rows are counted by the ``csv``
module, so a quoted field with a newline is one row, as pandas reads it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from .. import paths
from ..io import write_text

# Every table of the tables folder, in reading order: file pattern -> what a row is.
TABLES = {
    paths.CLAIMS_CSV: "one row per claim (and regime): our number, its interval and the verdict",
    paths.SUMMARY_TABLE: "one row per experiment x method x lambda: means and 95 % intervals over seeds",
    paths.REPLICATION_CSV: "one row per compared value: this study against reference/",
    paths.RUNS_TABLE: "one row per trained run: status, config, every test and validation metric",
    paths.HISTORY_TABLE: "one row per run and epoch: losses, rates, accuracies",
    paths.CONVERSION_TABLE: "E4: one row per conversion setting x seed x split",
    paths.PLANE_TABLE: "E5: one row per setting of every method, with its Pareto flags",
    paths.NEURON_TABLE: "one row per trained run and hidden neuron: its test-set firing rate",
    paths.RASTER_TABLE: "one row per hidden spike of each run's first test sample",
}
# The tables the report embeds (beside the figures, the notebook and this index); the markdown
# copies of the claims and replication tables are embedded too.
EMBEDDED = (paths.CLAIMS_CSV, paths.SUMMARY_TABLE, paths.REPLICATION_CSV)
COLUMNS = ["table", "file", "in_report", "rows", "columns", "bytes", "rows_are"]


def table_shape(path: str | Path) -> tuple[int, int]:
    """(data rows, columns) of a CSV file with a header line; (0, 0) for an empty file."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return 0, 0
        return sum(1 for _ in reader), len(header)


def index_rows(results_parent: str | Path) -> list[dict]:
    """One row per table of ``TABLES`` that exists under ``results_parent`` (the working
    directory that holds ``results/``), in ``TABLES`` order."""
    root = Path(results_parent)
    rows = []
    for pattern, rows_are in TABLES.items():
        path = root / pattern
        if not path.is_file():
            continue
        n_rows, n_cols = table_shape(path)
        rows.append(
            {
                "table": Path(pattern).stem,
                "file": pattern,
                "in_report": "yes" if pattern in EMBEDDED else "no (on disk)",
                "rows": n_rows,
                "columns": n_cols,
                "bytes": path.stat().st_size,
                "rows_are": rows_are,
            }
        )
    return rows


def to_csv(rows: list[dict]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spikesparse.study.report.report_tables",
        description="write the index of the tables folder that the Snakemake report embeds",
    )
    parser.add_argument(
        "--root", default=".", help="the study's working directory (holds results/); default: here"
    )
    parser.add_argument("--out", required=True, help="the index CSV to write")
    args = parser.parse_args(argv)
    rows = index_rows(args.root)
    write_text(args.out, to_csv(rows))
    print(f"wrote {args.out}: {len(rows)} tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
