"""Verdicts survive machine noise: the quick study run twice, once as is and once with the
floating-point kernels another CPU would use, reverses no verdict (a verdict may only move
between a decision and inconclusive, where its interval ends at the threshold), gives overlapping
intervals, and the replication check calls the second run a replication within noise.

The perturbation: ``ATEN_CPU_CAPABILITY=default`` makes torch dispatch its vectorized kernels
(reductions, element-wise ops) to the generic instruction set instead of this CPU's AVX2/AVX512,
and ``MKL_CBWR=COMPATIBLE`` makes MKL's sgemm take its conditional-numerical-reproducibility
path; both change the order of floating-point sums, as another CPU model or BLAS does. The test
checks that the perturbation did change the numbers, so it never passes for want of noise.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from spikesparse.study import paths
from spikesparse.study.analysis import replication as R
from tests.workflow.quick_study import quick_study
from tests.workflow.runner import SNAKEMAKE, copy_workflow

pytestmark = pytest.mark.workflow
PERTURBATION = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
TARGETS = [paths.REPLICATION_CSV, paths.SUMMARY_TABLE, paths.CLAIMS_CSV]


def run_quick(workdir: Path, perturbation: dict[str, str]) -> Path:
    """The quick study's tables in ``workdir``; the environment differs from this process's only
    in ``perturbation`` (any perturbation variable set outside the test is dropped)."""
    env = {k: v for k, v in os.environ.items() if k not in PERTURBATION}
    proc = subprocess.run(
        [*SNAKEMAKE, *TARGETS, "--cores", "2", "--configfile", "config/quick.yaml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**env, **perturbation},
    )
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed in {workdir}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return workdir / paths.TABLES


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory) -> tuple[Path, Path]:
    """Tables of the quick study as is (the one shared by the workflow tests) and under the
    perturbation."""
    plain = quick_study(tmp_path_factory) / paths.TABLES
    perturbed = copy_workflow(tmp_path_factory.mktemp("perturbed"))
    return plain, run_quick(perturbed, PERTURBATION)


def test_perturbation_changes_numbers_and_is_recorded(two_studies):
    plain, perturbed = two_studies
    a = pd.read_csv(plain / Path(paths.RUNS_TABLE).name)
    b = pd.read_csv(perturbed / Path(paths.RUNS_TABLE).name)
    assert list(a["config_hash"]) == list(b["config_hash"]), "the same runs on both sides"
    numeric = [c for c in a.columns if c in b.columns and pd.api.types.is_float_dtype(a[c])]
    changed = [c for c in numeric if not a[c].equals(b[c])]
    assert changed, "the perturbation changed no number: this test would prove nothing here"
    machine = R.study_machine(perturbed)
    assert machine["numeric_env"] == PERTURBATION
    assert not R.same_machine(R.study_machine(plain), machine)


def _interval(row: pd.Series) -> tuple[float, float]:
    return float(row["ci_low"]), float(row["ci_high"])


def test_no_verdict_reversed_and_intervals_overlap(two_studies):
    plain, perturbed = two_studies
    ids = {"claim_id": str}
    a = pd.read_csv(plain / Path(paths.CLAIMS_CSV).name, dtype=ids)
    b = pd.read_csv(perturbed / Path(paths.CLAIMS_CSV).name, dtype=ids)
    keys = R.claim_keys(a, b)  # claim, experiment and reading: one row each
    a, b = a.set_index(keys), b.set_index(keys)
    assert a.index.is_unique, "one row per claim, experiment and reading"
    assert list(a.index) == list(b.index), "both studies state the same claims"
    assert len(a) > 0
    problems = []
    for key in a.index:
        ra, rb = a.loc[key], b.loc[key]
        if R.verdict_change(ra["verdict"], rb["verdict"]) not in (None, "edge"):
            problems.append(f"{key}: verdict {ra['verdict']!r} vs {rb['verdict']!r}")
        (lo_a, hi_a), (lo_b, hi_b) = _interval(ra), _interval(rb)
        if all(math.isfinite(v) for v in (lo_a, hi_a, lo_b, hi_b)) and not (lo_a <= hi_b and lo_b <= hi_a):
            problems.append(f"{key}: intervals [{lo_a}, {hi_a}] and [{lo_b}, {hi_b}] do not overlap")
    assert not problems, "\n".join(problems)


def test_replication_report_of_the_perturbed_study(two_studies):
    plain, perturbed = two_studies
    # The perturbed study against the plain one as its reference (machine records from the runs).
    result = R.replicate(perturbed, _as_reference(plain))
    print(result.outcome)  # shown with -s: how far another CPU's numbers move
    claims = result.rows[result.rows["table"] == "claims"]
    assert len(claims) > 0
    assert not result.determinism_bug, result.outcome
    # The numbers did change (not "reproduced"), and a faithful rerun on "another CPU" is judged so.
    assert result.status == R.WITHIN_NOISE, result.outcome
    # Without reference/ in the copy, the workflow's own check says so and does not fail.
    table = pd.read_csv(perturbed / Path(paths.REPLICATION_CSV).name)
    assert list(table["status"]) == [R.NO_REFERENCE]


def _as_reference(tables: Path) -> Path:
    """Freeze the plain study as a reference folder beside it (the machine from its runs)."""
    out = tables.parent / "reference"
    shutil.rmtree(out, ignore_errors=True)  # never a stale freeze of an earlier run of the folder
    R.freeze_reference(tables, out)
    return out
