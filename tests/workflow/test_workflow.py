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

from spikesparse.study import paths
from spikesparse.study.config import load_config
from spikesparse.study.report import figure_registry
from spikesparse.study.runs import expand_runs, method_lambdas, run_spec, train_rules
from tests.conftest import QUICK_CONFIG
from tests.workflow.quick_study import quick_study
from tests.workflow.runner import copy_workflow, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The quick study with its report, shared by every test module of this pytest process."""
    return quick_study(tmp_path_factory)


def test_table_has_one_row_per_run(study):
    runs = pd.read_csv(study / paths.RUNS_TABLE)
    expected = {
        (k.experiment, k.method, float(k.lam), k.seed) for k in expand_runs(load_config(QUICK_CONFIG))
    }
    assert len(runs) == len(expected)
    assert set(zip(runs["experiment"], runs["method"], runs["lam"], runs["seed"], strict=True)) == expected
    assert set(runs["study"]) == {"e1", "e2", "e3"}
    assert set(runs.loc[runs["experiment"] == "e1", "family"]) == {
        "baseline",
        "homeostatic_l2",
        "spike_count",
        "first_spike",
        "hard_constraint",
    }
    budget = runs[runs["method"] == "hard_budget"]
    assert (budget["spikes_per_sample"] <= 2 * 32).all()  # budget 2 spikes x 32 neurons per sample
    for col in ("membrane_updates_per_sample", "effective_acs_per_sample", "dense_ops_per_sample"):
        assert (runs[col] > 0).all(), col
    assert runs["accuracy"].map(math.isfinite).all()
    for col in ("hidden_rate", "silent_fraction", "saturated_fraction", "activation_sparsity"):
        assert runs[col].between(0, 1).all(), col
    assert (runs["synops_per_sample"] > 0).all()
    assert runs["config_hash"].str.fullmatch(r"[0-9a-f]{12}").all()
    assert "cfg.regularizer.target_rate" in runs.columns


def test_history_has_every_epoch(study):
    history = pd.read_csv(study / paths.HISTORY_TABLE)
    experiments = load_config(QUICK_CONFIG)["experiments"]  # regime-map cells expanded
    last = history.groupby(["experiment", "method", "lam", "seed"])["epoch"].max()
    for (experiment, *_), epoch in last.items():
        assert epoch == experiments[experiment]["training"]["epochs"]
    assert history["rate"].between(0, 1).all()
    for col in ("task_loss", "penalty", "silent_fraction", "saturated_fraction", "reg_weight"):
        assert history[col].notna().all(), col
    runs = pd.read_csv(study / paths.RUNS_TABLE)
    keys = ["experiment", "method", "lam", "seed"]
    two = runs["cfg.regularizer.two_phase"].astype(str) == "True"
    at_epoch = runs[two & (runs["cfg.regularizer.switch"] != "plateau")]  # unset = the epoch switch
    two_phase = history.merge(at_epoch[[*keys, "cfg.regularizer.switch_epoch"]], on=keys)
    assert not two_phase.empty
    before = two_phase["epoch"] <= two_phase["cfg.regularizer.switch_epoch"]
    assert (two_phase.loc[before, "reg_weight"] == 0).all()  # phase 1: no penalty
    assert (two_phase.loc[~before, "reg_weight"] > 0).all()  # switched on at the switch epoch


def test_figures_notebook_and_report_exist(study):
    for name in figure_registry.FIGURE_TITLES:
        assert (study / figure_registry.figure_path(name)).stat().st_size > 10_000
    html = (study / paths.NOTEBOOK_HTML).read_text()
    assert "Traceback" not in html
    for study_id in ("E1", "E2", "E3", "E4", "E5"):
        assert study_id in html, study_id
    assert (study / paths.REPORT).stat().st_size > 100_000


def test_every_rule_logs_under_results_logs(study):
    logs = list((study / paths.LOGS).rglob("*.log"))
    rules = {p.relative_to(study / paths.LOGS).parts[0] for p in logs}
    assert rules == {
        "generate_dataset",
        "train",
        "train_ann",
        "convert",
        "aggregate",
        "claims",
        "figures",
        "notebook",
        "replication",
        "tables_index",
    }
    train_log = next((study / paths.LOGS / "train").rglob("*.log")).read_text()
    assert "epoch 1/" in train_log  # per-epoch progress


def test_claims_table_has_every_registered_claim_with_numbers_from_the_run(study):
    from spikesparse.study.analysis.claims import COLUMNS, REGISTRY, VERDICTS

    claims = pd.read_csv(study / paths.CLAIMS_CSV)
    assert list(claims.columns) == COLUMNS
    assert set(claims["claim_id"]) == set(REGISTRY)
    assert set(claims["verdict"]) <= set(VERDICTS)
    assert claims["reason"].notna().all()
    runs = pd.read_csv(study / paths.RUNS_TABLE)
    e1 = sorted(runs.loc[runs["study"] == "e1", "experiment"].unique())
    assert sorted(claims.loc[claims["claim_id"] == "000-hard", "experiment"]) == e1  # one row per regime
    for exp in runs.loc[runs["study"] == "e2", "experiment"].unique():
        assert {"002-iso", "002-1pct"} <= set(claims.loc[claims["experiment"] == exp, "claim_id"])
    # a judged row's number comes from the runs: the estimate is the mean of the chosen runs
    judged = claims[claims["verdict"].isin(["held", "not held", "inconclusive"]) & claims["n_seeds"].gt(0)]
    assert not judged.empty
    assert (study / paths.CLAIMS_MD).read_text().count("\n| ") == len(claims) + 1


def test_the_quick_study_against_the_full_reference_is_not_compared(study):
    """The README's few-minute slice has other settings than the reference study: its outcome says
    there is no reference for it, not that the project does not reproduce."""
    from spikesparse.study.analysis import replication as R

    reference = Path(__file__).resolve().parents[2] / "reference"
    result = R.replicate(study / paths.TABLES, reference)
    assert result.status == R.NOT_COMPARED, result.outcome
    assert result.outcome.startswith("not compared: no reference for this config")
    assert not result.determinism_bug


def test_conversion_summary_and_plane_tables(study):
    conv = pd.read_csv(study / paths.CONVERSION_TABLE)
    spec = yaml.safe_load(QUICK_CONFIG.read_text())["conversions"]["e4_digits"]
    n = len(spec["ann"]["seeds"]) * 2 * len(spec["alphas"]) * len(spec["time_steps"]) * 2
    assert len(conv) == n  # seeds x normalizations x alphas x T x (val, test)
    chosen = conv[conv["l4_selected"]]
    assert chosen.groupby(["seed", "normalization", "time_steps", "split"]).size().eq(1).all()
    assert len(chosen) == len(spec["ann"]["seeds"]) * 2 * len(spec["time_steps"]) * 2
    summary = pd.read_csv(study / paths.SUMMARY_TABLE)
    assert {"val_accuracy_mean", "train_accuracy_mean", "active_fraction_mean", "n_layer_silent"} <= set(
        summary
    )
    two_seed = summary[summary["n_seeds"] == 2]
    assert (two_seed["accuracy_ci_low"] <= two_seed["accuracy_mean"]).all()
    assert (two_seed["accuracy_mean"] <= two_seed["accuracy_ci_high"]).all()
    plane = pd.read_csv(study / paths.PLANE_TABLE)
    assert {"conversion", "baseline", "spike_count"} <= set(plane["family"])
    assert plane.groupby("dataset")["pareto_rate"].any().all()


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


def _trained(pending: dict[str, set]) -> set:
    """Run folders that the training rules (one per experiment and seed list) plan to write."""
    files = [f for rule, f in pending.items() if rule.startswith("train_") and rule != "train_ann"]
    return _run_dirs(set().union(*files))


def _jobs(cfg: dict) -> dict:
    """Training job -> the resolved specs of its runs (a job reruns when this list changes)."""
    return {
        (rule.experiment, method, lam): [run_spec(cfg, k) for k in rule.runs(method, lam)]
        for rule in train_rules(cfg)
        for method in rule.methods
        for lam in method_lambdas(cfg["experiments"][rule.experiment]["methods"][method])
    }


def _rerun_dirs(before: dict, after: dict) -> set:
    """Run folders of every job whose list of run specs changed or is new."""
    old, new = _jobs(before), _jobs(after)
    return {
        paths.run_dir(spec["experiment"], spec["method"], job[2], spec["seed"])
        for job, specs in new.items()
        if old.get(job) != specs
        for spec in specs
    }


def test_partial_rerun_only_touches_changed_jobs(study, tmp_path):
    assert _pending(study, study / "config/quick.yaml") == {}, "a finished study is up to date"
    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    e1 = cfg["experiments"]["e1"]
    e1["methods"]["homeostatic_l2"]["lambdas"] = [1.0, 20.0]  # 10.0 -> 20.0
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    pending = _pending(study, changed)
    seeds = e1["training"]["seeds"]
    # a new lambda is one new job: its seeds, nothing else
    assert _trained(pending) == {paths.run_dir("e1", "homeostatic_l2", "20.0", s) for s in seeds}
    assert "evaluate" not in pending  # evaluation runs inside the training job
    assert "generate_dataset" not in pending
    assert {"aggregate", "claims", "figures", "notebook"} <= set(pending)
    assert "train_ann" not in pending and "convert" not in pending


def test_added_seed_reruns_the_jobs_of_its_experiment_only(study, tmp_path):
    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    cfg["experiments"]["e1"]["training"]["seeds"] = [0, 1, 5]
    changed = tmp_path / "seeds.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    pending = _pending(study, changed)
    before, after = load_config(QUICK_CONFIG), load_config(changed)
    expected = _rerun_dirs(before, after)
    # the granularity the README states: every e1 job (all its seeds), no other experiment's
    assert {d.split("/")[2] for d in expected} == {"e1"}
    assert paths.run_dir("e1", "baseline", "0.0", 5) in expected
    assert _trained(pending) == expected


def test_changed_conversion_sweep_reconverts_without_retraining_the_ann(study, tmp_path):
    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    cfg["conversions"]["e4_digits"]["alphas"] = [0.0, 0.5, 1.0]
    changed = tmp_path / "alphas.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    pending = _pending(study, changed)
    assert "train_ann" not in pending and _trained(pending) == set()
    assert len(pending["convert"]) == len(cfg["conversions"]["e4_digits"]["ann"]["seeds"])


def test_changed_training_value_reruns_its_jobs(study, tmp_path):
    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    cfg["experiments"]["e1"]["training"]["epochs"] += 1
    changed = tmp_path / "epochs.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    pending = _pending(study, changed)
    before, after = load_config(QUICK_CONFIG), load_config(changed)
    # exactly the jobs whose runs' resolved specs changed: e1's and the regime-map cells built on e1
    expected = _rerun_dirs(before, after)
    assert {d.split("/")[2] for d in expected} >= {"e1"}
    assert _trained(pending) == expected
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


def test_a_config_file_with_a_key_written_twice_stops_before_any_job(tmp_path):
    """Snakemake's YAML loader keeps the last of two equal keys without a word; the workflow reads
    its config files again with the project's reader, which names the key and both lines."""
    import re

    workdir = copy_workflow(tmp_path)
    text = QUICK_CONFIG.read_text()
    first = next(line for line in text.splitlines() if re.match(r"^[a-z_]+: \S", line))
    bad = tmp_path / "twice.yaml"
    bad.write_text(f"{text}\n{first}\n")
    proc = snakemake(workdir, "--cores", "1", "--configfile", str(bad), check=False)
    assert proc.returncode != 0
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("config error at")]
    key = first.split(":")[0]
    assert len(error_lines) == 1 and f"duplicate key '{key}'" in error_lines[0], proc.stderr
    assert not (workdir / paths.RESULTS).exists(), "no job may have run"


def test_longest_jobs_start_first(tmp_path):
    """Training and conversion jobs carry a priority from their estimated FLOPs
    (budget.job_priority), so with more ready jobs than cores the longest start first: in the
    default study a 1-D conv E2 job (5 runs of 20 epochs) before an E1 job, and an ANN before
    its own conversion (the pair is one chain)."""
    from spikesparse.study.budget import job_priority

    assert job_priority(1e9) == 0 and job_priority(1e12) == 30 and job_priority(0) == 0
    assert job_priority(5e12) > job_priority(4e12)
    workdir = copy_workflow(tmp_path / "wf")
    proc = snakemake(workdir, "-n", "--cores", "2", "--configfile", str(workdir / "config.yaml"))
    out = proc.stdout + proc.stderr
    priority: dict[str, set[int]] = {}
    rule = where = None
    for line in out.splitlines():
        text = line.strip()
        if line.startswith("rule "):
            rule, where = line.split()[1].rstrip(":"), ""
        elif text.startswith("wildcards:"):
            where = text.split(":", 1)[1].strip()
        elif text.startswith("priority:") and rule:
            priority.setdefault(f"{rule} {where}".strip(), set()).add(int(text.split(":")[1]))
    conv_e2 = priority["train_e2_conv_mnist1d method=baseline, lam=0.0"]
    e1 = [p for key, p in priority.items() if key.startswith("train_e1 ")]
    assert e1 and min(conv_e2) > max(max(p) for p in e1)
    ann = priority["train_ann experiment=e4_conv_mnist1d, seed=0"]
    convert = priority["convert experiment=e4_conv_mnist1d, seed=0"]
    assert min(ann) > max(convert) > 0


def test_the_two_aggregate_jobs_write_what_one_aggregate_writes(study, tmp_path):
    """The DAG builds the run-level tables and the per-neuron tables in two jobs (``--part runs``
    and ``--part neurons``) so the claims and most figures start before the large tables are
    written: on the same result files the two parts give, byte for byte, what ``aggregate`` of
    every table writes at once, and each part writes its own tables only."""
    from spikesparse.cli import main

    metrics = sorted(str(p) for p in (study / paths.RESULTS / "runs").rglob("metrics.json"))
    conversions = sorted(str(p) for p in (study / paths.RESULTS / "runs").rglob("conversion.json"))
    assert metrics
    argv = ["aggregate", "--metrics", *metrics, "--conversions", *conversions]
    assert main([*argv, "--tables", str(tmp_path / "all")]) == 0
    names = {name: Path(path).name for name, path in paths.AGGREGATE_TABLES.items()}
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == sorted(names.values())
    assert set(paths.RUN_LEVEL_TABLES) | set(paths.PER_NEURON_TABLES) == set(paths.AGGREGATE_TABLES)
    for part, wanted in (("runs", paths.RUN_LEVEL_TABLES), ("neurons", paths.PER_NEURON_TABLES)):
        assert main([*argv, "--part", part, "--tables", str(tmp_path / part)]) == 0
        assert sorted(p.name for p in (tmp_path / part).iterdir()) == sorted(names[n] for n in wanted)
        for name in wanted:
            file = names[name]
            assert (tmp_path / part / file).read_bytes() == (tmp_path / "all" / file).read_bytes(), name
