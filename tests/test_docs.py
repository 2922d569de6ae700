"""The API docs: every python block in docs/ runs, and `mkdocs build --strict` passes."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

BLOCKS = [
    pytest.param(block, id=f"{page.relative_to(REPO / 'docs')}#{i}")
    for page in sorted((REPO / "docs").rglob("*.md"))
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


@pytest.mark.parametrize("code", BLOCKS)
def test_docs_code_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<docs>", "exec"), {"__name__": "__docs__"})


def test_every_library_page_has_an_example():
    """The library pages show runnable code; the study pages (docs/study/) describe the workflow."""
    pages = [
        p for p in sorted((REPO / "docs").rglob("*.md")) if "study" not in p.relative_to(REPO / "docs").parts
    ]
    assert len(pages) >= 10
    library_blocks = [b for b in BLOCKS if not b.id.startswith("study/")]
    assert len(library_blocks) >= len(pages)


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    page = (tmp_path / "site" / "regularizers" / "spike_count" / "index.html").read_text()
    assert "spike_count_loss" in page and "lam" in page, "mkdocstrings rendered the API"
