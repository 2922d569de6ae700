import errno
import json
import os
from pathlib import Path

import pytest

from spikesparse.errors import ConfigError, InputFileError, OutputFileError
from spikesparse.study.io import (
    arrays_checksum,
    atomic_write,
    check_outputs,
    config_hash,
    read_json,
    read_record,
    write_json,
)
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


def test_a_target_that_is_a_folder_is_named_not_the_temporary_file(tmp_path):
    """Had been IsADirectoryError naming '.isdir.<random>.tmp', after the write."""
    target = tmp_path / "isdir"
    target.mkdir()
    calls = []
    with pytest.raises(OutputFileError) as err:
        atomic_write(target, calls.append)
    assert str(err.value) == f"cannot write {target}: it is a folder; give the path of a file"
    assert calls == [], "nothing is computed into a temporary file first"
    assert list(tmp_path.iterdir()) == [target] and list(target.iterdir()) == []


def test_a_target_whose_folder_is_a_file_names_that_file(tmp_path):
    """Had been FileExistsError / NotADirectoryError tracebacks."""
    blocker = tmp_path / "some" / "file.json"
    blocker.parent.mkdir()
    blocker.write_text("{}")
    for target in (blocker / "x.json", blocker / "deeper" / "x.json"):
        with pytest.raises(OutputFileError) as err:
            write_json(target, {"x": 1})
        assert str(err.value) == f"cannot write {target}: {blocker} is a file, not a folder"
        assert isinstance(err.value, ConfigError), "the command line prints it on one line, status 2"
    assert blocker.read_text() == "{}"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_takes_no_files_is_named_with_the_real_cause():
    """``--model /proc/m.pt`` had printed "no such file or folder: /proc/.m.pt.<random>.tmp.pt"."""
    with pytest.raises(OutputFileError) as err:
        write_json("/proc/spikesparse-m.json", {})
    assert str(err.value) == (
        "cannot write /proc/spikesparse-m.json: the folder /proc does not take new files "
        "(No such file or directory)"
    )


def test_a_failed_write_names_the_target_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "m.json"

    def full_disk(tmp):
        Path(tmp).write_text("{")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)

    with pytest.raises(OutputFileError) as err:
        atomic_write(target, full_disk)
    assert str(err.value) == f"cannot write {target}: {os.strerror(errno.ENOSPC)}"
    assert list(tmp_path.iterdir()) == []


def test_check_outputs_writes_nothing_and_names_the_first_bad_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    check_outputs(tmp_path / "new" / "deeper" / "a.json", tmp_path / "b.json")  # creatable: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"], "no folder created"
    with pytest.raises(OutputFileError, match=f"cannot write {blocker}/x: {blocker} is a file"):
        check_outputs(tmp_path / "ok.json", blocker / "x", tmp_path)
    with pytest.raises(OutputFileError, match=f"cannot write {tmp_path}: it is a folder"):
        check_outputs(tmp_path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty file"),
        ('{"spec": {"seed": ', "not valid JSON, truncated or damaged (Expecting value at line 1, column 19)"),
    ],
    ids=["empty", "truncated"],
)
def test_read_json_names_an_empty_or_truncated_file(tmp_path, text, problem):
    """Had been a JSONDecodeError traceback that named no file."""
    path = tmp_path / "info.json"
    path.write_text(text)
    with pytest.raises(InputFileError) as err:
        read_json(path, "the train info")
    assert str(err.value) == f"{path}: {problem}; it should be the train info"


def test_read_record_names_what_the_file_lacks(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"spec": {}}))
    assert read_record(path, ("spec",), "a run record") == {"spec": {}}
    with pytest.raises(InputFileError, match=r"lacks \['metrics'\], so it is not a run record$"):
        read_record(path, ("spec", "metrics"), "a run record")
    path.write_text("[1, 2]")
    with pytest.raises(InputFileError, match="holds a list, not a run record"):
        read_record(path, ("spec",), "a run record")
