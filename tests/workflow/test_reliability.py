"""Killed jobs recover, reruns are bit-identical, diverging runs are recorded, results carry
their provenance. Real Snakemake runs in temporary folders; the training job is killed with
SIGKILL while it trains."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spikesparse.study import paths
from spikesparse.study.report import figure_registry
from spikesparse.study.runs import format_lambda
from spikesparse.tools import warm
from tests.conftest import QUICK_CONFIG
from tests.workflow.runner import SNAKEMAKE, copy_workflow, snakemake

pytestmark = pytest.mark.workflow
# The slow config's two training jobs: (method, lambda), each training seeds 0 and 1.
JOBS = (("baseline", "0.0"), ("homeostatic_l2", "1.0"))
SEEDS = (0, 1)


def write_config(workdir: Path, edit) -> str:
    """The quick config cut to its E1 baseline and homeostatic L2 runs (no regime map), then
    ``edit``-ed."""
    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    cfg.pop("regime_maps", None)
    e1 = cfg["experiments"]["e1"]
    e1["methods"] = {k: e1["methods"][k] for k in ("baseline", "homeostatic_l2")}
    cfg["experiments"] = {"e1": e1}
    cfg["conversions"] = {}
    edit(cfg)
    (workdir / "test.yaml").write_text(yaml.safe_dump(cfg))
    return "test.yaml"


def slow_jobs(cfg: dict) -> None:
    """Two jobs of two runs each, every run long enough (8 epochs of a few tenths of a second)
    to be killed mid-epoch."""
    cfg["datasets"]["anomaly"].update(n_train=1024, n_steps=100)
    e1 = cfg["experiments"]["e1"]
    e1["model"]["hidden"] = [128]
    e1["training"].update(epochs=8, batch_size=64, seeds=list(SEEDS))
    e1["methods"] = {
        "baseline": {"regularizer": "none"},
        "homeostatic_l2": {**e1["methods"]["homeostatic_l2"], "lambdas": [1.0]},
    }


def train_pid(workdir: Path) -> int | None:
    """PID of this workdir's `spikesparse train` process, from /proc."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"spikesparse" in cmd and b"train" in cmd and Path(cwd) == workdir:
            return int(proc.name)
    return None


def comparable(metrics_file: Path) -> dict:
    """metrics.json without the wall times, which no rerun can reproduce."""
    record = json.loads(metrics_file.read_text())
    record["provenance"].pop("wall_time_s")
    record.pop("train_wall_time_s")
    return record


def _job_log(workdir: Path, method: str, lam: str) -> Path:
    return workdir / paths.LOGS / "train" / "e1" / method / f"lam={lam}.log"


def _finished(workdir: Path, method: str, lam: str) -> bool:
    return all((workdir / paths.run_dir("e1", method, lam, s) / "metrics.json").exists() for s in SEEDS)


@pytest.mark.parametrize("warm_start", [False, True], ids=["cold", "warm"])
def test_killed_training_job_recovers_bit_identical(tmp_path, monkeypatch, warm_start):
    """One job finishes, the other is killed while it trains its second run: a rerun trains the
    killed job's runs again (bit-identical to a clean study) and leaves the finished job's files
    alone. With warm start the process killed is the job's client (what Snakemake started); its
    child in the warm server must die with it, before it writes anything."""
    clean = copy_workflow(tmp_path / "clean")
    killed = copy_workflow(tmp_path / "killed")
    for workdir in (clean, killed):
        write_config(workdir, slow_jobs)
    target = paths.RUNS_TABLE

    snakemake(clean, target, "--cores", "1", "--configfile", "test.yaml")  # cold: the yardstick
    if warm_start:
        runtime = Path(tempfile.mkdtemp(prefix="ssw", dir="/tmp"))  # short: a socket path's limit
        monkeypatch.setenv("SPIKESPARSE_WARM", "1")
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        monkeypatch.delenv("SLURM_JOB_ID", raising=False)

    proc = subprocess.Popen(
        [*SNAKEMAKE, target, "--cores", "1", "--configfile", "test.yaml"],
        cwd=killed,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    victim = done = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and victim is None:
        for job in JOBS:
            log = _job_log(killed, *job)
            text = log.read_text() if log.exists() else ""
            if "run 2/2" in text and "epoch 2/8" in text.split("run 2/2")[1]:
                other = next(j for j in JOBS if j != job)
                if _finished(killed, *other):
                    victim, done = job, other
        time.sleep(0.02)
    if victim is None:
        proc.kill()
        pytest.fail("no job reached its second run after the other job finished")
    # Inodes, not times: Snakemake touches finished outputs, while a rewrite (atomic, by rename)
    # makes new files.
    done_files = {
        f: f.stat().st_ino for s in SEEDS for f in (killed / paths.run_dir("e1", *done, s)).iterdir()
    }
    pid = train_pid(killed)
    assert pid is not None, "training process not found"
    os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, out
    second_run = _job_log(killed, *victim).read_text().split("run 2/2")[1]
    assert "epoch 8/8" not in second_run, "the kill must land mid-run"
    for seed in SEEDS:
        run_dir = killed / paths.run_dir("e1", *victim, seed)
        assert not (run_dir / "metrics.json").exists(), "a killed job's runs are not trusted"
        assert not list(run_dir.glob("*.tmp*")), "no half-written files left behind"

    rerun = snakemake(killed, target, "--cores", "1", "--rerun-incomplete", "--configfile", "test.yaml")

    assert (killed / target).read_bytes() == (clean / target).read_bytes()
    assert f"method={victim[0]}" in rerun.stderr
    assert f"method={done[0]}" not in rerun.stderr, "the finished job is not rerun"
    assert {f: f.stat().st_ino for f in done_files} == done_files, "the finished runs' files are kept"
    for seed in SEEDS:
        run_dir = killed / paths.run_dir("e1", *victim, seed)
        clean_dir = clean / paths.run_dir("e1", *victim, seed)
        for name in ("model.pt", "history.csv"):
            assert (run_dir / name).read_bytes() == (clean_dir / name).read_bytes()
        assert comparable(run_dir / "metrics.json") == comparable(clean_dir / "metrics.json")
    if warm_start:
        served = [warm._request(path, {"cmd": "ping"}) for path in warm.servers()]
        assert sum(r["served"] for r in served if r) >= 2, "the jobs did not run warm"
        warm.stop_all()
        shutil.rmtree(runtime, ignore_errors=True)


def test_diverging_run_is_recorded_not_dropped(tmp_path):
    workdir = copy_workflow(tmp_path)

    def absurd_lambda(cfg):
        # 1e300 is finite for the config but overflows the float32 loss: the run diverges at once
        cfg["experiments"]["e1"]["training"].update(seeds=[0, 1], epochs=1)  # the others: short
        cfg["experiments"]["e1"]["methods"]["homeostatic_l2"]["lambdas"] = [1.0, 1e300]

    write_config(workdir, absurd_lambda)
    snakemake(workdir, "--cores", "2", "--configfile", "test.yaml")
    runs = pd.read_csv(workdir / paths.RUNS_TABLE)
    assert len(runs) == 6, "every run stays in the table"
    diverged = runs["lam"] == 1e300
    assert set(runs.loc[diverged, "status"]) == {"diverged"} and diverged.sum() == 2
    assert runs.loc[diverged, "reason"].str.len().gt(0).all()
    assert not runs.loc[~diverged, "status"].eq("diverged").any()
    run = paths.run_dir("e1", "homeostatic_l2", format_lambda(1e300), 0)
    record = json.loads((workdir / run / "metrics.json").read_text())
    assert record["status"] == "diverged" and "epoch 1" in record["reason"]
    history = pd.read_csv(workdir / run / "history.csv")  # its header, though no epoch ended
    assert history.empty and "val_accuracy" in history.columns
    for name in figure_registry.FIGURE_TITLES:
        assert (workdir / figure_registry.figure_path(name)).stat().st_size > 0
    assert (workdir / paths.NOTEBOOK_HTML).exists()


def test_metrics_record_provenance(tmp_path):
    workdir = copy_workflow(tmp_path)

    def one_run(cfg):
        cfg["experiments"]["e1"]["training"]["seeds"] = [0]
        cfg["experiments"]["e1"]["methods"] = {"baseline": {"regularizer": "none"}}

    write_config(workdir, one_run)
    snakemake(workdir, paths.RUNS_TABLE, "--cores", "1", "--configfile", "test.yaml")
    record = json.loads((workdir / paths.run_dir("e1", "baseline", "0.0", 0) / "metrics.json").read_text())
    assert record["spec"]["training"]["epochs"] == 3 and record["spec"]["seed"] == 0
    assert len(record["config_hash"]) == 12
    prov = record["provenance"]
    for key in ("package_version", "git_commit", "torch", "numpy", "device", "wall_time_s"):
        assert key in prov, key
    assert prov["git_commit"] == "unknown" or len(prov["git_commit"].split("+")[0]) == 40
    assert record["train_wall_time_s"] > 0
    runs = pd.read_csv(workdir / paths.RUNS_TABLE)
    assert runs.loc[0, "config_hash"] == record["config_hash"]
