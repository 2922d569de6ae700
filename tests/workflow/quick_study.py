"""The quick study with its report, run at most once per test session.

The browser test and the notebook test read the quick study's outputs (``results/report.html``,
``results/notebooks/analysis.*``). A full run takes minutes, so every test module that needs it
calls ``quick_study`` and gets the same folder; a failed run is remembered and re-raised rather
than retried by each caller. ``make test`` runs pytest in several processes (pytest-xdist): there
the first process that needs the study runs it in the folder all of them share, under a file lock,
and the others wait for it and read the same folder, so the session runs it once, not once per
process. Its readers only read it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
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
            _RUN["result"] = _run_once(tmp_path_factory)
        except BaseException as err:  # remembered: later callers fail with the same cause
            _RUN["result"] = err
            raise
    result = _RUN["result"]
    if isinstance(result, BaseException):
        raise RuntimeError("the quick study failed earlier in this session") from result
    return result


def _run_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the study, or under pytest-xdist take the one another process of this session ran.

    xdist gives each process its own base temporary folder inside one folder of the session; the
    study, its lock and the record of a failure live in that shared folder.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _run(tmp_path_factory.mktemp("quick_study"))
    shared = tmp_path_factory.getbasetemp().parent
    workdir = shared / "quick_study"
    failure = shared / "quick_study.failed"
    with open(shared / "quick_study.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if failure.is_file():
            raise RuntimeError(f"the quick study failed in another test process:\n{failure.read_text()}")
        if (workdir / paths.REPORT).is_file():
            return workdir
        shutil.rmtree(workdir, ignore_errors=True)  # left by a process that died while running it
        try:
            return _run(workdir)
        except BaseException as err:
            failure.write_text(f"{type(err).__name__}: {err}")
            raise


def _run(workdir: Path) -> Path:
    copy_workflow(workdir)
    snakemake(workdir, "--cores", "2", "--configfile", "config/quick.yaml")
    snakemake(workdir, "--cores", "1", "--configfile", "config/quick.yaml", "--report", paths.REPORT)
    return workdir
