"""The local-path benchmarks through Snakemake: the paper-scale config plans its full
DAG on miniature files, each new dataset kind trains end to end on CPU, a 10-line MNIST config
reaches the claims table, and a broken data folder stops the workflow before any job."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from spikesparse.study import paths
from tests.conftest import REPO
from tests.miniature_datasets import write_cifar10, write_mnist, write_nmnist, write_shd
from tests.workflow.runner import copy_workflow, snakemake

pytestmark = pytest.mark.workflow

PAPER = REPO / "config" / "paper.yaml"


def _write_all(root: Path) -> dict[str, str]:
    write_mnist(root / "mnist", n_train=200, n_test=100, gz=True)
    write_mnist(root / "fashion_mnist", n_train=200, n_test=100, seed=1)
    write_cifar10(root / "cifar10", per_batch=40, n_test=100)
    write_shd(root / "shd", n_train=200, n_test=100)
    return {name: str(root / name) for name in ("mnist", "fashion_mnist", "cifar10", "shd")}


def test_paper_config_plans_the_full_dag_on_miniature_files(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    roots = _write_all(tmp_path / "data")
    cfg = yaml.safe_load(PAPER.read_text())
    for name, section in cfg["datasets"].items():
        section["root"] = roots[name]
        section["verify_checksum"] = False if "verify_checksum" in section else section.get("verify_checksum")
        section = {k: v for k, v in section.items() if v is not None}
        cfg["datasets"][name] = section
    config = tmp_path / "paper_mini.yaml"
    config.write_text(yaml.safe_dump(cfg))
    proc = snakemake(workdir, "-n", "--cores", "1", "--configfile", str(config))
    out = proc.stdout + proc.stderr
    for rule in ("generate_dataset", *(f"train_{name}" for name in cfg["experiments"]), "claims", "all"):
        assert f"rule {rule}:" in out or f"{rule} " in out, rule
    assert "mem_mb=" in out
    # every training and conversion job asks for one GPU (device: cuda), in the form the SLURM
    # plugin turns into --gres=gpu:1
    for rule in (*(f"train_{name}" for name in cfg["experiments"]), "train_ann", "convert"):
        block = out.split(f"rule {rule}:")[1].split("\n\n")[0]
        assert "gres=gpu:1" in block, rule
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    job = SimpleNamespace(resources=SimpleNamespace(gres="gpu:1", get={"gres": "gpu:1"}.get))
    assert set_gres_string(job).strip() == "--gres=gpu:1"


def test_conv_conversion_runs_on_cifar10_end_to_end(tmp_path):
    """Seed 003's job pair on a miniature CIFAR-10: a conv2d ReLU ANN (the paper config's layer
    kinds, small) trained and converted, its rows in the conversion table."""
    workdir = copy_workflow(tmp_path / "wf")
    write_cifar10(tmp_path / "cifar10", per_batch=40, n_test=100)
    cfg = {
        "datasets": {
            "cifar10": {"root": str(tmp_path / "cifar10"), "verify_checksum": False, "val_fraction": 0.2}
        },
        "experiments": {  # a config needs one (the aggregate job trains it too: tiny)
            "e2_cifar": {
                "study": "e2",
                "dataset": "cifar10",
                "encoding": {"name": "rate", "n_steps": 2},
                "model": {"kind": "feedforward", "hidden": [8]},
                "training": {"epochs": 1, "batch_size": 32, "seeds": [0]},
                "methods": {"baseline": {"regularizer": "none"}},
            }
        },
        "conversions": {
            "e4_cifar": {
                "dataset": "cifar10",
                "ann": {
                    "layers": [
                        {"conv2d": {"channels": 4, "kernel": 3, "padding": 1}},
                        {"pool": {"kind": "avg", "size": 2}},
                        {"conv2d": {"channels": 8, "kernel": 3, "padding": 1}},
                        {"pool": {"kind": "avg", "size": 4}},
                        {"flatten": {}},
                        {"dense": {"units": 16}},
                    ],
                    "dropout": 0.2,
                    "epochs": 2,
                    "batch_size": 32,
                    "seeds": [0],
                },
                "calibration_samples": 50,
                "alphas": [0.0, 1.0],
                "time_steps": [4, 8],
            }
        },
    }
    config = tmp_path / "cifar.yaml"
    config.write_text(yaml.safe_dump(cfg))
    snakemake(workdir, paths.CONVERSION_TABLE, "--cores", "1", "--configfile", str(config))
    table = pd.read_csv(workdir / paths.CONVERSION_TABLE)
    assert (
        set(table["experiment"]) == {"e4_cifar"} and len(table) == 2 * 2 * 2 * 2
    )  # norms x alphas x T x splits
    assert (table["synops_per_sample"] > 0).all() and table["ann_macs_per_sample"].nunique() == 1
    # MACs of the ANN: the first conv's padding is applied before its input map, so all its 32 x 32
    # positions meet 9 taps of 3 channels; the second conv (own padding) meets 46 (= 16 x 3 - 2)
    # of the 48 (position, tap) pairs per axis; dense 128 -> 16, output 16 -> 10
    conv2 = 8 * 4 * 46 * 46
    assert table["ann_macs_per_sample"].iloc[0] == 4 * 32 * 32 * 3 * 9 + conv2 + 128 * 16 + 16 * 10
    assert not any(p.suffix in (".npz", ".json") for p in (tmp_path / "cifar10").rglob("*"))


def test_each_new_dataset_kind_trains_end_to_end_on_cpu(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    roots = _write_all(tmp_path / "data")
    base = {
        "study": "e2",
        "model": {"kind": "feedforward", "hidden": [16]},
        "training": {"epochs": 1, "batch_size": 32, "seeds": [0]},
        "methods": {"baseline": {"regularizer": "none"}},
    }
    experiments = {}
    for name in ("mnist", "fashion_mnist", "cifar10"):
        experiments[f"x_{name}"] = {
            **copy.deepcopy(base),
            "dataset": name,
            "encoding": {"name": "rate", "n_steps": 4},
        }
    experiments["x_shd"] = {**copy.deepcopy(base), "dataset": "shd", "encoding": {"name": "spikes"}}
    datasets = {name: {"root": root, "val_fraction": 0.2} for name, root in roots.items()}
    if importlib.util.find_spec("tonic") is not None:  # N-MNIST is an optional extra
        write_nmnist(tmp_path / "data" / "nmnist")
        roots["nmnist"] = str(tmp_path / "data" / "nmnist")
        datasets["nmnist"] = {"root": roots["nmnist"], "n_steps": 10, "bin_ms": 30.0, "val_fraction": 0.2}
        experiments["x_nmnist"] = {**copy.deepcopy(base), "dataset": "nmnist", "encoding": {"name": "spikes"}}
    for name in ("mnist", "fashion_mnist", "cifar10"):
        datasets[name]["verify_checksum"] = False
    datasets["shd"].update(n_steps=20, bin_ms=50.0)
    config = tmp_path / "kinds.yaml"
    config.write_text(yaml.safe_dump({"datasets": datasets, "experiments": experiments}))
    targets = [
        paths.METRICS.format(experiment=exp, method="baseline", lam="0.0", seed=0) for exp in experiments
    ]
    snakemake(workdir, *targets, "--cores", "1", "--configfile", str(config))
    for target in targets:
        assert (workdir / target).is_file(), target
    for root in roots.values():  # nothing written into the data folders
        assert not any(p.suffix in (".npz", ".json") for p in Path(root).rglob("*"))


def test_ten_line_mnist_config_reaches_the_claims_table(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    write_mnist(tmp_path / "mnist", n_train=300, n_test=100, gz=True)
    config = tmp_path / "mnist.yaml"
    config.write_text(
        f"""datasets:
  mnist: {{root: {tmp_path / "mnist"}, verify_checksum: false, val_fraction: 0.2}}
experiments:
  e2_mnist:
    study: e2
    dataset: mnist
    encoding: {{name: rate, n_steps: 8}}
    model: {{kind: feedforward, hidden: [32, 32]}}
    training: {{epochs: 2, batch_size: 32, seeds: [0, 1]}}
    methods: {{baseline: {{regularizer: none}}, spike_count: {{regularizer: spike_count, lambdas: [1.0]}}}}
"""
    )
    assert len(config.read_text().splitlines()) == 10
    snakemake(workdir, paths.CLAIMS_CSV, "--cores", "1", "--configfile", str(config))
    claims = (workdir / paths.CLAIMS_CSV).read_text()
    assert "002" in claims


def test_broken_data_folder_stops_before_any_job(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    write_mnist(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:500])
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "datasets": {"mnist": {"root": str(tmp_path / "mnist"), "verify_checksum": False}},
                "experiments": {
                    "x": {
                        "study": "e2",
                        "dataset": "mnist",
                        "encoding": {"name": "rate", "n_steps": 4},
                        "training": {"epochs": 1, "seeds": [0]},
                        "methods": {"baseline": {"regularizer": "none"}},
                    }
                },
            }
        )
    )
    proc = snakemake(workdir, "--cores", "1", "--configfile", str(config), check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("config error at")]
    assert len(lines) == 1 and str(path) in lines[0] and "truncated" in lines[0], proc.stderr
    assert not (workdir / paths.RESULTS).exists()
