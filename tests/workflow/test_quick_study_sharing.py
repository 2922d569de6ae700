"""The quick study is run once per test session, also when pytest runs in several processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from spikesparse.study import paths
from tests.workflow import quick_study as Q


class _Factory:
    """A test process's tmp_path_factory as pytest-xdist lays it out: its own base folder inside
    the session's folder."""

    def __init__(self, session: Path, worker: str) -> None:
        self.base = session / f"popen-{worker}"
        self.base.mkdir(parents=True, exist_ok=True)

    def getbasetemp(self) -> Path:
        return self.base


@pytest.fixture
def runs(monkeypatch) -> list[Path]:
    """Stand in for the Snakemake run: record where it ran and leave a report there."""
    done: list[Path] = []

    def fake_run(workdir: Path) -> Path:
        done.append(workdir)
        (workdir / paths.REPORT).parent.mkdir(parents=True)
        (workdir / paths.REPORT).write_text("<html></html>")
        return workdir

    monkeypatch.setattr(Q, "_run", fake_run)
    return done


def test_the_second_process_reads_the_study_the_first_ran(tmp_path, monkeypatch, runs):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    first = Q._run_once(_Factory(tmp_path, "gw0"))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    second = Q._run_once(_Factory(tmp_path, "gw1"))
    assert first == second == tmp_path / "quick_study"
    assert runs == [first]  # run once


def test_a_failed_run_is_reported_to_the_other_processes(tmp_path, monkeypatch):
    def failing(workdir: Path) -> Path:
        raise AssertionError("snakemake failed: rule train")

    monkeypatch.setattr(Q, "_run", failing)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    with pytest.raises(AssertionError):
        Q._run_once(_Factory(tmp_path, "gw0"))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    with pytest.raises(
        RuntimeError, match="failed in another test process:\nAssertionError: snakemake failed"
    ):
        Q._run_once(_Factory(tmp_path, "gw1"))


def test_a_half_finished_folder_is_run_again(tmp_path, monkeypatch, runs):
    """A process killed while running the study leaves a folder without its report (and no
    failure record): the next one starts it afresh instead of failing on the leftovers."""
    (tmp_path / "quick_study" / "results").mkdir(parents=True)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert Q._run_once(_Factory(tmp_path, "gw1")) == tmp_path / "quick_study"
    assert runs == [tmp_path / "quick_study"]


def test_one_process_runs_its_own(tmp_path, monkeypatch, runs):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)

    class Plain:
        def mktemp(self, name: str) -> Path:
            path = tmp_path / name
            path.mkdir()
            return path

    assert Q._run_once(Plain()) == tmp_path / "quick_study"
    assert runs == [tmp_path / "quick_study"]
