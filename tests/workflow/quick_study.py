"""The quick study with its report, run at most once per pytest process.

The browser test and the notebook test read the quick study's outputs (``results/report.html``,
``results/notebooks/analysis.*``). A full run takes minutes, so every test module that needs it
calls ``quick_study`` and gets the same folder; a failed run is remembered and re-raised rather
than retried by each caller.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spikesparse.study import paths
from tests.workflow.runner import copy_workflow, snakemake

_RUN: dict[str, Path | BaseException] = {}


def quick_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a finished quick study (``config/quick.yaml``) with its Snakemake report.

    ``SPIKESPARSE_QUICK_STUDY=<folder>`` reuses a finished one instead (to iterate on these tests).
    """
    reuse = os.environ.get("SPIKESPARSE_QUICK_STUDY")
    if reuse:
        if not (Path(reuse) / paths.REPORT).is_file():
            raise ValueError(f"SPIKESPARSE_QUICK_STUDY={reuse} holds no finished study ({paths.REPORT})")
        return Path(reuse)
    if "result" not in _RUN:
        try:
            workdir = copy_workflow(tmp_path_factory.mktemp("quick_study"))
            snakemake(workdir, "--cores", "2", "--configfile", "config/quick.yaml")
            snakemake(workdir, "--cores", "1", "--configfile", "config/quick.yaml", "--report", paths.REPORT)
            _RUN["result"] = workdir
        except BaseException as err:  # remembered: later callers fail with the same cause
            _RUN["result"] = err
            raise
    result = _RUN["result"]
    if isinstance(result, BaseException):
        raise RuntimeError("the quick study failed earlier in this session") from result
    return result
