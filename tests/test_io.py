from pathlib import Path

import pytest
import torch

from spikesparse.io import arrays_checksum, atomic_write, config_hash, write_json
from spikesparse.training import _status_from_rates


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
    assert _status_from_rates(torch.zeros(5), 0.9)[0] == "silent"
    assert _status_from_rates(torch.full((5,), 0.95), 0.9)[0] == "saturated"
    assert _status_from_rates(torch.tensor([0.0, 0.95, 0.1]), 0.9) == ("ok", "")
