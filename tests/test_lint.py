"""Code and workflow style checks, so the README's test command enforces them too."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "ruff"), "check", "src", "tests", "benchmarks"],
        [str(BIN / "ruff"), "format", "--check", "src", "tests", "benchmarks"],
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules"],
        [sys.executable, "-m", "snakemake", "--lint"],
        [sys.executable, "-m", "snakemake", "--lint", "--profile", "workflow/profiles/slurm"],
    ],
    ids=["ruff-check", "ruff-format", "snakefmt", "snakemake-lint", "slurm-profile-lint"],
)
def test_clean(command):
    env = {**os.environ, "SLURM_PARTITION": "debug"}
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if "--lint" in command:
        assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
