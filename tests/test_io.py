from pathlib import Path

import pytest

from spikesparse.study.io import arrays_checksum, atomic_write, config_hash, write_json
from spikesparse.study.records import run_status


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "metrics.json"

    def crash(tmp):
        Path(tmp).write_text('{"half": ')
        raise KeyboardInterrupt("killed mid-write")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a" / "m.json"
    write_json(target, {"x": 1})
    write_json(target, {"x": 2})
    assert target.read_text().strip().endswith("}")
    assert '"x": 2' in target.read_text()
    assert oct(target.stat().st_mode & 0o777) != oct(0o600), "results are readable like any file"


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_checksum_depends_on_content():
    import numpy as np

    a = {"x": np.arange(4)}
    assert arrays_checksum(a) == arrays_checksum({"x": np.arange(4)})
    assert arrays_checksum(a) != arrays_checksum({"x": np.arange(1, 5)})


def test_run_status_rules():
    quiet = {"hidden_rate": 0.0, "layer_silent_fractions": [1.0], "saturated_fraction": 0.0}
    assert run_status("ok", "", quiet)[0] == "silent"
    full = {"hidden_rate": 0.95, "layer_silent_fractions": [0.0], "saturated_fraction": 1.0}
    assert run_status("ok", "", full)[0] == "saturated"
    mixed = {"hidden_rate": 0.3, "layer_silent_fractions": [0.3, 0.0], "saturated_fraction": 0.3}
    assert run_status("ok", "", mixed) == ("ok", "")
