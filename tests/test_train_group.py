"""A job trains several runs in one process (`spikesparse train` with a list of specs); each run
must come out exactly as if it had been trained alone, whatever ran before it in the process."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from spikesparse import cli
from spikesparse.study.config import ConfigError, validate_config
from spikesparse.study.data import generate, save_dataset
from spikesparse.study.runs import RunKey, expand_runs, run_spec, train_rules

FILES = ("model", "history", "info", "metrics")
SUFFIX = {"model": "model.pt", "history": "history.csv", "info": "train.json", "metrics": "metrics.json"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two E1 runs of the quick config (seeds 0 and 1 of homeostatic L2, 2 epochs) and their data."""
    import yaml

    from tests.conftest import QUICK_CONFIG

    cfg = yaml.safe_load(QUICK_CONFIG.read_text())
    cfg["experiments"]["e1"]["training"]["epochs"] = 2
    cfg = validate_config(cfg)
    specs = [run_spec(cfg, RunKey("e1", "homeostatic_l2", "1.0", s)) for s in (0, 1)]
    folder = tmp_path_factory.mktemp("group")
    data, _ = generate("anomaly", {k: v for k, v in specs[0]["dataset"].items() if k != "name"})
    save_dataset(folder / "data.npz", data)
    return cfg, specs, folder


def _train(folder: Path, specs: list[dict], names: list[str], metrics_cfg: dict) -> None:
    argv = [
        "train",
        "--spec",
        json.dumps(specs),
        "--data",
        str(folder.parent / "data.npz"),
        "--metrics-config",
        json.dumps(metrics_cfg),
    ]
    for kind in FILES:
        argv += [f"--{kind}", *[str(folder / name / SUFFIX[kind]) for name in names]]
    for name in names:
        (folder / name).mkdir(parents=True, exist_ok=True)
    cli.main(argv)


def _comparable(run: Path) -> dict:
    """Every output of a run, with the wall times (which no rerun reproduces) left out."""
    record = json.loads((run / "metrics.json").read_text())
    record["provenance"].pop("wall_time_s")
    record.pop("train_wall_time_s")
    info = json.loads((run / "train.json").read_text())
    info["provenance"].pop("wall_time_s")
    return {
        "record": record,
        "info": info,
        "model": (run / "model.pt").read_bytes(),
        "history": (run / "history.csv").read_bytes(),
    }


def test_run_trained_in_a_group_equals_the_run_trained_alone(setup):
    cfg, specs, folder = setup
    _train(folder / "alone0", specs[:1], ["seed0"], cfg["metrics"])
    _train(folder / "alone1", specs[1:], ["seed1"], cfg["metrics"])
    # Seed 1 first: a run must not depend on what the process trained before it.
    _train(folder / "group", specs[::-1], ["seed1", "seed0"], cfg["metrics"])
    for seed in ("seed0", "seed1"):
        alone = _comparable(folder / f"alone{seed[-1]}" / seed)
        grouped = _comparable(folder / "group" / seed)
        assert grouped == alone, seed
    assert _comparable(folder / "group" / "seed0") != _comparable(folder / "group" / "seed1")


def test_train_refuses_paths_that_do_not_match_the_runs(setup, capsys):
    cfg, specs, folder = setup
    argv = [
        "train",
        "--spec",
        json.dumps(specs),
        "--data",
        str(folder / "data.npz"),
        "--metrics-config",
        json.dumps(cfg["metrics"]),
    ]
    for kind in FILES:
        argv += [f"--{kind}", str(folder / "only_one" / SUFFIX[kind])]
    assert cli.main(argv) == 2
    assert "2 run spec(s) but 1 --model path(s)" in capsys.readouterr().err
    assert not (folder / "only_one").exists(), "nothing is trained or written"


def test_train_rules_cover_every_run_once(quick_config):
    cfg = validate_config(copy.deepcopy(quick_config))
    rules = train_rules(cfg)
    jobs = [
        key
        for rule in rules
        for method in rule.methods
        for lam in {k.lam for k in expand_runs(cfg) if (k.experiment, k.method) == (rule.experiment, method)}
        for key in rule.runs(method, lam)
    ]
    assert sorted(jobs, key=str) == sorted(expand_runs(cfg), key=str)
    assert len({r.name for r in rules}) == len(rules)


def test_a_method_with_its_own_seeds_gets_its_own_rule(quick_config):
    cfg = copy.deepcopy(quick_config)
    e1 = cfg["experiments"]["e1"]
    first = next(iter(e1["methods"]))
    e1["methods"][first]["seeds"] = [7]
    rules = {r.name: r for r in train_rules(validate_config(cfg))}
    own = rules[f"train_e1_{first}"]
    assert own.methods == (first,) and own.seeds == (7,)
    assert first not in rules["train_e1"].methods


def test_a_rule_name_clash_is_a_config_error(quick_config):
    cfg = copy.deepcopy(quick_config)
    cfg["experiments"]["ann"] = copy.deepcopy(cfg["experiments"]["e1"])
    with pytest.raises(ConfigError, match="train_ann"):
        train_rules(validate_config(cfg))
