"""The ``metrics:`` block as one type: built once where it enters, bad blocks named by key."""

import json
import subprocess
import sys

import pytest

from spikesparse.study.config import validate_config
from spikesparse.study.metric_config import MetricConfig


def test_the_validated_config_block_builds_the_type_and_round_trips(quick_config):
    block = validate_config(quick_config)["metrics"]
    cfg = MetricConfig.of(block)
    assert cfg.as_dict() == block and MetricConfig.of(cfg) is cfg
    assert isinstance(cfg.eval_seed, int) and cfg.e_mac_pj > cfg.e_ac_pj


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"e_ac_pj": None}, "e_ac_pj: missing"),
        ({"e_mac": 4.6}, "e_mac: unknown key"),
        ({"e_mac_pj": -1.0}, "e_mac_pj must be a finite number >= 0"),
        ({"e_ac_pj": float("nan")}, "e_ac_pj must be a finite number"),
        ({"saturation_rate": 0.0}, r"saturation_rate must be in \(0, 1\]"),
        ({"eval_seed": 1.5}, "eval_seed must be an integer"),
        ({"eval_seed": True}, "eval_seed must be an integer"),
    ],
)
def test_a_bad_block_is_rejected_naming_the_key(change, match):
    block = {"saturation_rate": 0.9, "e_ac_pj": 0.9, "e_mac_pj": 4.6, "eval_seed": 1}
    block.update(change)
    block = {k: v for k, v in block.items() if v is not None}
    with pytest.raises(ValueError, match=match):
        MetricConfig.of(block)


def test_the_cli_reports_a_bad_metrics_config_in_one_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "spikesparse",
            "train",
            "--spec",
            "[]",
            "--data",
            str(tmp_path / "d.npz"),
            "--metrics-config",
            json.dumps({"eval_seed": 1}),
            "--model",
            "m",
            "--history",
            "h",
            "--info",
            "i",
            "--metrics",
            "x",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "--metrics-config: metrics.saturation_rate: missing" in proc.stderr.strip().splitlines()[-1]
