"""Stale-lock recovery for `make study` / `make cluster` (spikesparse.tools.snakelock)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from spikesparse.tools import snakelock
from tests.conftest import REPO


def _fake_lock(workdir: Path) -> Path:
    """What a SIGKILLed Snakemake leaves: lock files under .snakemake/locks."""
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text(str(workdir / "results"))
    (locks / "0.output.lock").write_text(str(workdir / "results"))
    return locks


def _unlock_cmd(workdir: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "snakemake", "--unlock", "--cores", "1"),
        *("--configfile", str(REPO / "config" / "quick.yaml"), "--directory", str(workdir)),
    ]


def test_stale_lock_is_unlocked_with_a_message(tmp_path):
    locks = _fake_lock(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "spikesparse.tools.snakelock",
            "--directory",
            str(tmp_path),
            "--",
            *_unlock_cmd(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "stale Snakemake lock" in proc.stderr
    assert locks.parent.is_dir() and not snakelock.has_lock(tmp_path), "snakemake --unlock removed the locks"


def test_lock_of_a_running_snakemake_is_left_alone(tmp_path):
    locks = _fake_lock(tmp_path)
    # A process whose command line is `snakemake 30`, working in tmp_path (as Snakemake does).
    fake = subprocess.Popen(["bash", "-c", "exec -a snakemake sleep 30"], cwd=tmp_path)
    try:
        deadline = time.time() + 5
        while not snakelock.owners(tmp_path) and time.time() < deadline:
            time.sleep(0.05)
        assert snakelock.owners(tmp_path) == [fake.pid]
        assert snakelock.recover(tmp_path, ["false"]) == "owned"
        assert len(list(locks.iterdir())) == 2
    finally:
        fake.kill()
        fake.wait()


def test_no_lock_runs_nothing(tmp_path):
    # "false" would fail if it were run: with no lock there is nothing to unlock.
    assert snakelock.recover(tmp_path, ["false"]) == "none"


def test_failed_unlock_is_an_error(tmp_path):
    _fake_lock(tmp_path)
    with pytest.raises(RuntimeError, match="unlock failed"):
        snakelock.recover(tmp_path, ["false"])


@pytest.mark.parametrize(
    ("argv", "cwd", "expected"),
    [
        (["/v/bin/python", "/v/bin/snakemake", "--directory", "w"], "/a", "/a/w"),
        (["snakemake", "-d", "/abs"], "/a", "/abs"),
        (["python", "-m", "snakemake", "--directory=w"], "/a", "/a/w"),
        (["snakemake", "--cores", "1"], "/a", "/a"),
        (["python", "-m", "spikesparse.tools.snakelock", "--directory", "w"], "/a", None),
        (["make", "study"], "/a", None),
    ],
)
def test_snakemake_directory_from_command_line(argv, cwd, expected):
    got = snakelock._snakemake_directory(argv, Path(cwd))
    assert got == (None if expected is None else Path(expected).resolve())


def test_make_study_and_cluster_unlock_first():
    makefile = (REPO / "Makefile").read_text()
    assert "study: $(VENV)/.installed unlock-stale" in makefile
    cluster = makefile.split("\ncluster:")[1].split("\n\n")[0]
    assert "unlock-stale" in cluster
