"""The E3 sweep of the default config, and per-method seeds (``methods.<name>.seeds``)."""

import copy
from pathlib import Path

import pytest

from spikesparse.study.config import ConfigError, load_config, validate_config
from spikesparse.study.runs import expand_runs

ROOT = Path(__file__).resolve().parents[1]


def test_default_e3_sweeps_depth_and_width_with_arms_at_the_extremes():
    config = load_config(ROOT / "config.yaml")
    e3 = {n: e for n, e in config["experiments"].items() if e["study"] == "e3"}
    sizes = {(len(e["model"]["hidden"]), max(e["model"]["hidden"])) for e in e3.values()}
    assert sizes == {(d, w) for d in (2, 4, 6) for w in (64, 128)}
    runs = expand_runs(config, list(e3))
    for name in e3:
        base = [r for r in runs if r.experiment == name and r.method == "baseline"]
        assert sorted(r.seed for r in base) == [0, 1, 2, 3, 4]
    arms = {r.experiment for r in runs if r.method != "baseline"}
    assert arms == {"e3_d2_w64", "e3_d6_w128"}
    single = [r for r in runs if r.experiment == "e3_d6_w128" and r.method == "first_spike_single"]
    assert sorted({r.seed for r in single}) == [0, 1, 2, 3, 4]  # 5 seeds for every arm too


def test_method_seeds_override_the_experiments_and_are_validated():
    config = load_config(ROOT / "config" / "quick.yaml")
    raw = {k: copy.deepcopy(v) for k, v in config.items()}
    exp = next(n for n, e in raw["experiments"].items() if "spike_count" in e["methods"])
    raw["experiments"][exp]["methods"]["spike_count"]["seeds"] = [7]
    runs = expand_runs(validate_config(raw), [exp])
    assert {r.seed for r in runs if r.method == "spike_count"} == {7}
    assert {r.seed for r in runs if r.method == "baseline"} == set(
        raw["experiments"][exp]["training"]["seeds"]
    )
    raw["experiments"][exp]["methods"]["spike_count"]["seeds"] = [1, 1]
    with pytest.raises(ConfigError, match="seeds"):
        validate_config(raw)
