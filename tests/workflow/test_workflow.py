"""End-to-end: the quick config through Snakemake in a temporary copy of the workflow."""

from __future__ import annotations

import copy
import csv
import io
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spikesparse import paths
from spikesparse.config import expand_runs, load_config
from tests.conftest import QUICK_CONFIG
from tests.workflow.runner import copy_workflow, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The quick study, run once for the module, with its report."""
    workdir = copy_workflow(tmp_path_factory.mktemp("study"))
    snakemake(workdir, "--cores", "2", "--configfile", "config/quick.yaml")
    snakemake(workdir, "--cores", "1", "--configfile", "config/quick.yaml", "--report", paths.REPORT)
    return workdir


def test_table_has_one_row_per_run(study):
    runs = pd.read_csv(study / paths.RUNS_TABLE)
    expected = {(k.method, float(k.lam), k.seed) for k in expand_runs(load_config(QUICK_CONFIG))}
    assert len(runs) == len(expected)
    assert set(zip(runs["method"], runs["lam"], runs["seed"], strict=True)) == expected
    assert runs["accuracy"].map(math.isfinite).all()
    for col in ("hidden_rate", "silent_fraction", "saturated_fraction", "activation_sparsity"):
        assert runs[col].between(0, 1).all(), col
    assert (runs["synops_per_sample"] > 0).all()
    assert runs["config_hash"].str.fullmatch(r"[0-9a-f]{12}").all()
    assert "cfg.regularizer.target_rate" in runs.columns


def test_history_has_every_epoch(study):
    history = pd.read_csv(study / paths.HISTORY_TABLE)
    epochs = yaml.safe_load(QUICK_CONFIG.read_text())["experiments"]["e1"]["training"]["epochs"]
    assert history.groupby(["method", "lam", "seed"])["epoch"].max().eq(epochs).all()
    assert history["rate"].between(0, 1).all()


def test_figures_notebook_and_report_exist(study):
    for name in paths.FIGURE_NAMES:
        assert (study / paths.figure(name)).stat().st_size > 10_000
    html = (study / paths.NOTEBOOK_HTML).read_text()
    assert "E1" in html and "Traceback" not in html
    assert (study / paths.REPORT).stat().st_size > 100_000


def test_every_rule_logs_under_results_logs(study):
    logs = list((study / paths.LOGS).rglob("*.log"))
    rules = {p.relative_to(study / paths.LOGS).parts[0] for p in logs}
    assert rules == {"generate_dataset", "train", "evaluate", "aggregate", "figures", "notebook"}
    train_log = next((study / paths.LOGS / "train").rglob("*.log")).read_text()
    assert "epoch 1/" in train_log  # per-epoch progress


def _pending(workdir: Path, config: Path) -> dict[str, set]:
    """Snakemake's own --detailed-summary: output files it plans to (re)create, per rule."""
    proc = snakemake(workdir, "--detailed-summary", "--configfile", str(config))
    rows = csv.DictReader(io.StringIO(proc.stdout), delimiter="\t")
    pending: dict[str, set] = {}
    for row in rows:
        if row["plan"] == "update pending":
            pending.setdefault(row["rule"], set()).add(row["output_file"])
    return pending


def _run_dirs(files: set) -> set:
    return {str(Path(f).parent) for f in files}


def test_partial_rerun_only_touches_changed_jobs(study, tmp_path):
    assert _pending(study, study / "config/quick.yaml") == {}, "a finished study is up to date"
    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    e1 = cfg["experiments"]["e1"]
    e1["methods"]["homeostatic_l2"]["lambdas"] = [1.0, 20.0]  # 10.0 -> 20.0
    e1["training"]["seeds"] = [0, 1, 5]  # a seed added
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    pending = _pending(study, changed)
    expected = {paths.run_dir("e1", "homeostatic_l2", "20.0", s) for s in (0, 1, 5)}
    expected |= {
        paths.run_dir("e1", m, lam, 5) for m, lam in (("baseline", "0.0"), ("homeostatic_l2", "1.0"))
    }
    assert _run_dirs(pending["train"]) == expected
    assert _run_dirs(pending["evaluate"]) == expected
    assert "generate_dataset" not in pending
    assert {"aggregate", "figures", "notebook"} <= set(pending)


def test_changed_training_value_reruns_its_jobs(study, tmp_path):
    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    cfg["experiments"]["e1"]["training"]["epochs"] += 1
    changed = tmp_path / "epochs.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    pending = _pending(study, changed)
    assert len(_run_dirs(pending["train"])) == len(expand_runs(load_config(QUICK_CONFIG)))
    assert "generate_dataset" not in pending


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c.update(colour="red"), "<root>"),
        (lambda c: c["experiments"]["e1"]["training"].update(epochs="ten"), "training.epochs"),
        (
            lambda c: c["experiments"]["e1"]["methods"]["homeostatic_l2"].update(lambdas=[-1.0]),
            "homeostatic_l2.lambdas[0]",
        ),
        (
            lambda c: c["experiments"]["e1"]["methods"]["homeostatic_l2"].update(target_rate=1.2),
            "homeostatic_l2.target_rate",
        ),
        (lambda c: c["experiments"]["e1"]["training"].update(seeds=[]), "training.seeds"),
    ],
    ids=["unknown key", "wrong type", "negative lambda", "target rate", "empty seeds"],
)
def test_invalid_config_stops_before_any_job(tmp_path, edit, key):
    workdir = copy_workflow(tmp_path)
    cfg = copy.deepcopy(yaml.safe_load(QUICK_CONFIG.read_text()))
    edit(cfg)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = snakemake(workdir, "--cores", "1", "--configfile", str(bad), check=False)
    assert proc.returncode != 0
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("config error at")]
    assert len(error_lines) == 1 and key in error_lines[0], proc.stderr
    assert not (workdir / paths.RESULTS).exists(), "no job may have run"
