"""Execute the analysis notebook with parameters (papermill) and render it to HTML (nbconvert)."""

from __future__ import annotations

from pathlib import Path


def execute_notebook(notebook: str, executed: str, html: str, parameters: dict) -> None:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    from .io import atomic_write, write_text

    Path(executed).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        executed,
        lambda tmp: papermill.execute_notebook(
            notebook,
            tmp,
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(Path(notebook).resolve().parent),
        ),
    )
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    write_text(html, body)
