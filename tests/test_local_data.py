"""The local-path benchmark readers (spikesparse.study.local_data) on miniature files written in the
real formats: round trips, splits, the spikes pass-through, and every bad-input case, each caught
at config validation with one line naming the file."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from spikesparse.study import local_data
from spikesparse.study.config import ConfigError, validate_config
from spikesparse.study.data import generate
from spikesparse.study.encoding import encode
from tests.miniature_datasets import (
    nmnist_bytes,
    write_cifar10,
    write_idx,
    write_mnist,
    write_nmnist,
    write_shd,
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    local_data._READ_CACHE.clear()
    yield
    local_data._READ_CACHE.clear()


def _rows(x, y) -> set:
    return {(int(label), row.tobytes()) for row, label in zip(np.asarray(x), np.asarray(y), strict=True)}


def _snapshot(root):
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_round_trip(tmp_path, name, gz):
    root = tmp_path / name
    wrote = write_mnist(root, gz=gz)
    before = _snapshot(root)
    arrays, meta = generate(name, {"root": str(root), "verify_checksum": False, "val_fraction": 0.0})
    assert _snapshot(root) == before  # nothing written into the user's folder
    assert arrays["x_train"].shape == (40, 784) and arrays["x_train"].dtype == np.float32
    assert list(arrays["input_shape"]) == [1, 28, 28]
    # test split: the official one, in file order; training: the same samples, shuffled
    np.testing.assert_array_equal(arrays["x_test"], wrote["x_test"].reshape(20, -1) / np.float32(255))
    np.testing.assert_array_equal(arrays["y_test"], wrote["y_test"])
    expect = _rows((wrote["x_train"].reshape(40, -1) / np.float32(255)).astype(np.float32), wrote["y_train"])
    assert _rows(arrays["x_train"], arrays["y_train"]) == expect
    assert len(meta["source_files"]) == 4 and all(len(f["md5"]) == 32 for f in meta["source_files"])


def test_validation_is_stratified_seeded_and_carved_from_train(tmp_path):
    root = tmp_path / "mnist"
    wrote = write_mnist(root, n_train=80)
    params = {"root": str(root), "verify_checksum": False, "val_fraction": 0.25, "seed": 3}
    a, _ = generate("mnist", dict(params))
    b, _ = generate("mnist", dict(params))
    np.testing.assert_array_equal(a["x_val"], b["x_val"])
    assert np.bincount(a["y_val"], minlength=10).tolist() == [2] * 10
    assert len(a["y_train"]) == 60
    train = _rows((wrote["x_train"].reshape(80, -1) / np.float32(255)).astype(np.float32), wrote["y_train"])
    assert _rows(a["x_train"], a["y_train"]) | _rows(a["x_val"], a["y_val"]) == train
    c, _ = generate("mnist", {**params, "seed": 4})
    assert not np.array_equal(a["x_val"], c["x_val"])


def test_subsampling_is_stratified(tmp_path):
    root = tmp_path / "mnist"
    write_mnist(root, n_train=200, n_test=100)
    a, _ = generate(
        "mnist",
        {"root": str(root), "verify_checksum": False, "val_fraction": 0.0, "n_train": 50, "n_test": 30},
    )
    assert len(a["y_train"]) == 50 and len(a["y_test"]) == 30
    assert np.bincount(a["y_test"], minlength=10).tolist() == [3] * 10


def test_cifar10_round_trip(tmp_path):
    wrote = write_cifar10(tmp_path)
    before = _snapshot(tmp_path)
    arrays, _ = generate("cifar10", {"root": str(tmp_path), "verify_checksum": False, "val_fraction": 0.0})
    assert _snapshot(tmp_path) == before
    assert list(arrays["input_shape"]) == [3, 32, 32]
    np.testing.assert_array_equal(arrays["x_test"], wrote["x_test"] / np.float32(255))
    np.testing.assert_array_equal(arrays["y_test"], wrote["y_test"])
    expect = _rows((wrote["x_train"] / np.float32(255)).astype(np.float32), wrote["y_train"])
    assert _rows(arrays["x_train"], arrays["y_train"]) == expect
    # the folder itself may be root too
    again, _ = generate(
        "cifar10",
        {"root": str(tmp_path / "cifar-10-batches-py"), "verify_checksum": False, "val_fraction": 0.0},
    )
    np.testing.assert_array_equal(again["x_test"], arrays["x_test"])


def _reference_bins(times, units, n_steps, bin_ms, counts):
    out = np.zeros((len(times), n_steps, 700), dtype=np.float32)
    for i, (ts, us) in enumerate(zip(times, units, strict=True)):
        for t, u in zip(ts, us, strict=True):
            step = int(np.floor(float(t) * 1000.0 / bin_ms))
            if step < n_steps:
                out[i, step, int(u)] += 1
    return out if counts else np.minimum(out, 1)


@pytest.mark.parametrize("counts", [False, True])
def test_shd_binning_round_trip(tmp_path, counts):
    wrote = write_shd(tmp_path, max_time=1.2)
    before = _snapshot(tmp_path)
    params = {"root": str(tmp_path), "n_steps": 40, "bin_ms": 25.0, "counts": counts, "val_fraction": 0.0}
    arrays, meta = generate("shd", params)
    assert _snapshot(tmp_path) == before
    times, units, labels = wrote["test"]
    np.testing.assert_array_equal(arrays["x_test"], _reference_bins(times, units, 40, 25.0, counts))
    np.testing.assert_array_equal(arrays["y_test"], labels)
    assert arrays["x_train"].shape == (40, 40, 700)
    assert meta["n_classes"] <= 20
    if not counts:
        assert set(np.unique(arrays["x_train"])) <= {0.0, 1.0}


def test_spikes_encoder_passes_binned_events_through(tmp_path):
    write_shd(tmp_path, n_train=200)  # 40 in 20 classes leave validation (0.1) empty
    arrays, _ = generate("shd", {"root": str(tmp_path), "n_steps": 30, "bin_ms": 40.0})
    x = torch.from_numpy(arrays["x_test"][:5])
    spikes = encode(x, {"name": "spikes"}, torch.Generator().manual_seed(0))
    assert spikes.shape == (30, 5, 700)
    torch.testing.assert_close(spikes, x.transpose(0, 1))


# --- bad input: one line naming the file, at config validation --------------------------------


def _config(dataset: str, params: dict, encoding: dict | None = None) -> dict:
    static = dataset not in ("shd", "nmnist")
    encoding = encoding or ({"name": "rate", "n_steps": 4} if static else {"name": "spikes"})
    return {
        "datasets": {dataset: params},
        "experiments": {
            "x": {
                "study": "e2",
                "dataset": dataset,
                "encoding": encoding,
                "model": {"kind": "feedforward", "hidden": [8]},
                "training": {"epochs": 1, "batch_size": 8, "seeds": [0]},
                "methods": {"baseline": {"regularizer": "none"}},
            }
        },
    }


def _error(config) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_folder_validates(tmp_path):
    write_mnist(tmp_path)
    validate_config(_config("mnist", {"root": str(tmp_path), "verify_checksum": False}))


def test_missing_root_key_and_folder(tmp_path):
    assert "datasets.mnist.root: root: required" in _error(_config("mnist", {}))
    missing = tmp_path / "nowhere"
    message = _error(_config("mnist", {"root": str(missing)}))
    assert str(missing) in message and "does not exist" in message


def _mnist_case(tmp_path, damage):
    root = tmp_path / "m"
    write_mnist(root)
    target = damage(root)
    message = _error(_config("mnist", {"root": str(root), "verify_checksum": False}))
    assert message.startswith("config error at datasets.mnist.root: ")
    assert str(target) in message
    return message


def test_missing_file(tmp_path):
    message = _mnist_case(
        tmp_path, lambda r: (r / "t10k-labels-idx1-ubyte").unlink() or r / "t10k-labels-idx1-ubyte"
    )
    assert "missing file" in message


def test_truncated_idx(tmp_path):
    def damage(root):
        path = root / "train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:1000])
        return path

    assert "truncated: header says [40, 28, 28]" in _mnist_case(tmp_path, damage)


def test_corrupt_gzip(tmp_path):
    root = tmp_path / "m"
    write_mnist(root, gz=True)
    path = root / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-9])
    message = _error(_config("mnist", {"root": str(root), "verify_checksum": False}))
    assert str(path) in message and "not a complete gzip file" in message


def test_not_idx(tmp_path):
    def damage(root):
        path = root / "train-labels-idx1-ubyte"
        path.write_bytes(b"PK\x03\x04" + path.read_bytes()[4:])
        return path

    assert "not an IDX file (magic number 0x504b0304)" in _mnist_case(tmp_path, damage)


def test_wrong_image_shape(tmp_path):
    def damage(root):
        return write_idx(root / "train-images-idx3-ubyte", np.zeros((40, 27, 28), np.uint8))

    assert "expected uint8 images [n, 28, 28], got uint8 [40, 27, 28]" in _mnist_case(tmp_path, damage)


def test_label_out_of_range(tmp_path):
    def damage(root):
        return write_idx(root / "t10k-labels-idx1-ubyte", np.full(20, 10, np.uint8))

    assert "label 10 at index 0 is outside 0..9" in _mnist_case(tmp_path, damage)


def test_label_count_differs(tmp_path):
    def damage(root):
        return write_idx(root / "train-labels-idx1-ubyte", np.zeros(39, np.uint8))

    assert "39 labels for the 40 images" in _mnist_case(tmp_path, damage)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_checksum_differs_from_published(tmp_path, name):
    write_mnist(tmp_path, gz=True)
    message = _error(_config(name, {"root": str(tmp_path)}))  # verify_checksum defaults to true
    published = local_data.MNIST_MD5 if name == "mnist" else local_data.FASHION_MNIST_MD5
    assert "train-images-idx3-ubyte.gz: md5 " in message
    assert published["train-images-idx3-ubyte.gz"] in message


def test_cifar_checksum_differs(tmp_path):
    write_cifar10(tmp_path)
    message = _error(_config("cifar10", {"root": str(tmp_path)}))
    assert "differs from the published" in message and "cifar-10-batches-py/" in message


def _cifar_case(tmp_path, name, content):
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / name
    path.write_bytes(content if isinstance(content, bytes) else pickle.dumps(content, protocol=2))
    message = _error(_config("cifar10", {"root": str(tmp_path), "verify_checksum": False}))
    assert str(path) in message
    return message


def test_cifar_bad_inputs(tmp_path):
    good = np.zeros((10, 3072), np.uint8)
    cases = [
        (b"\x80\x02}q\x00(U", "not a readable CIFAR-10 pickle"),
        ({b"data": good}, "no b'labels' entry"),
        ({b"data": np.zeros((10, 3000), np.uint8), b"labels": [0] * 10}, "b'data' should be uint8 [n, 3072]"),
        ({b"data": good, b"labels": [11] * 10}, "label 11 at index 0 is outside 0..9"),
        ({b"data": good, b"labels": [1] * 9}, "9 labels for 10 images"),
    ]
    for i, (content, expected) in enumerate(cases):
        local_data._READ_CACHE.clear()
        assert expected in _cifar_case(tmp_path / str(i), "data_batch_3", content)


def test_cifar_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    message = _cifar_case(tmp_path, "test_batch", pickle.dumps(Evil()))
    assert "refuses to build builtins.print" in message


def test_cifar_missing_file(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "batches.meta").unlink()
    message = _error(_config("cifar10", {"root": str(tmp_path), "verify_checksum": False}))
    assert "batches.meta: missing file" in message


def test_shd_bad_inputs(tmp_path):
    import h5py

    def rewrite(root, **changes):
        write_shd(root)
        path = root / "shd_train.h5"
        with h5py.File(path, "a") as f:
            for key, value in changes.items():
                del f[key]
                if value is not None:
                    f.create_dataset(key, data=value)
        return path

    cases = [
        ({"labels": np.full(40, 20, np.uint16)}, "label 20 at index 0 is outside 0..19"),
        ({"labels": np.zeros(39, np.uint16)}, "40 spike-time arrays, 40 unit arrays and 39 labels differ"),
        ({"spikes/units": None}, "no dataset 'spikes/units'"),
    ]
    for i, (changes, expected) in enumerate(cases):
        local_data._READ_CACHE.clear()
        root = tmp_path / str(i)
        path = rewrite(root, **changes)
        message = _error(_config("shd", {"root": str(root)}))
        assert str(path) in message and expected in message, message
    root = tmp_path / "units"
    write_shd(root)
    with h5py.File(root / "shd_test.h5", "a") as f:
        units = list(f["spikes/units"][()])
        units[3] = np.full(len(units[3]), 700, np.uint16)
        del f["spikes/units"]
        f.create_dataset("spikes/units", data=np.array(units, dtype=object), dtype=h5py.vlen_dtype(np.uint16))
    local_data._READ_CACHE.clear()
    assert "sample 3: unit 700 outside 0..699" in _error(_config("shd", {"root": str(root)}))
    root = tmp_path / "nothdf"
    write_shd(root)
    (root / "shd_test.h5").write_bytes(b"not an hdf5 file")
    assert "shd_test.h5: not a readable HDF5 file" in _error(_config("shd", {"root": str(root)}))


def test_shd_gzipped_files_read_in_memory(tmp_path):
    wrote = write_shd(tmp_path / "plain")
    root = tmp_path / "gz"
    root.mkdir()
    for split in ("train", "test"):
        raw = (tmp_path / "plain" / f"shd_{split}.h5").read_bytes()
        (root / f"shd_{split}.h5.gz").write_bytes(gzip.compress(raw))
    arrays, _ = generate("shd", {"root": str(root), "val_fraction": 0.0})
    np.testing.assert_array_equal(arrays["y_test"], wrote["test"][2])
    assert sorted(p.name for p in root.iterdir()) == ["shd_test.h5.gz", "shd_train.h5.gz"]


def test_encodings_that_do_not_fit_the_data(tmp_path):
    write_shd(tmp_path / "shd")
    write_mnist(tmp_path / "mnist")
    message = _error(_config("shd", {"root": str(tmp_path / "shd")}, {"name": "rate"}))
    assert "experiments.x.encoding.name" in message and "use name: spikes" in message
    message = _error(
        _config(
            "mnist",
            {"root": str(tmp_path / "mnist"), "verify_checksum": False},
            {"name": "spikes", "n_steps": 4},
        )
    )
    assert "experiments.x.encoding" in message


def test_idx_header_parser_reads_other_types(tmp_path):
    path = tmp_path / "f.idx"
    values = np.arange(6, dtype=">i4").reshape(2, 3)
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + struct.pack(">2I", 2, 3) + values.tobytes())
    np.testing.assert_array_equal(local_data.read_idx(path), values)


# --- N-MNIST (optional: needs tonic) ---------------------------------------------------------


def _reference_nmnist(events, n_steps, bin_ms, counts):
    out = np.zeros((len(events), n_steps, 2 * 34 * 34), dtype=np.float32)
    for i, (xs, ys, ts, ps) in enumerate(events):
        for x, y, t, p in zip(xs, ys, ts, ps, strict=True):
            step = int(t // (bin_ms * 1000))
            if step < n_steps:
                out[i, step, p * 34 * 34 + y * 34 + x] += 1
    return out if counts else np.minimum(out, 1)


@pytest.mark.parametrize("counts", [False, True])
def test_nmnist_round_trip(tmp_path, counts):
    pytest.importorskip("tonic")
    wrote = write_nmnist(tmp_path)
    before = _snapshot(tmp_path)
    params = {"root": str(tmp_path), "n_steps": 15, "bin_ms": 20.0, "counts": counts, "val_fraction": 0.0}
    arrays, _ = generate("nmnist", params)
    assert _snapshot(tmp_path) == before
    events, labels = wrote["test"]
    np.testing.assert_array_equal(arrays["x_test"], _reference_nmnist(events, 15, 20.0, counts))
    np.testing.assert_array_equal(arrays["y_test"], labels)
    assert arrays["x_train"].shape == (30, 15, 2312) and list(arrays["input_shape"]) == [2, 34, 34]


def test_nmnist_bad_inputs(tmp_path):
    pytest.importorskip("tonic")
    cfg = {"root": str(tmp_path / "a")}
    write_nmnist(tmp_path / "a")
    path = tmp_path / "a" / "Train" / "0" / "00000.bin"
    path.write_bytes(path.read_bytes()[:-2])
    message = _error(_config("nmnist", cfg, {"name": "spikes"}))
    assert str(path) in message and "not a whole number of 5-byte events" in message
    write_nmnist(tmp_path / "b")
    path = tmp_path / "b" / "Test" / "0" / "00000.bin"
    path.write_bytes(nmnist_bytes([40], [3], [10], [1]))
    message = _error(_config("nmnist", {"root": str(tmp_path / "b")}, {"name": "spikes"}))
    assert str(path) in message and "outside the 34 x 34 sensor" in message
    write_nmnist(tmp_path / "c")
    import shutil

    shutil.rmtree(tmp_path / "c" / "Test")
    message = _error(_config("nmnist", {"root": str(tmp_path / "c")}, {"name": "spikes"}))
    assert "Test: missing folder" in message


def test_nmnist_without_tonic_says_which_extra(tmp_path, monkeypatch):
    import sys

    write_nmnist(tmp_path)
    monkeypatch.setitem(sys.modules, "tonic.io", None)  # as if tonic were not installed
    message = _error(_config("nmnist", {"root": str(tmp_path)}, {"name": "spikes"}))
    assert message.startswith("config error at datasets.nmnist")
    assert "pip install 'spikesparse[nmnist]'" in message


def test_a_split_asked_for_and_rounded_to_nothing_is_named():
    """round(fraction x class size) is 0 in every class: the split would be empty and its metrics
    NaN (validation: every choice of the study) without a word; a fraction of 0 stays empty."""
    from spikesparse.study.local_data import stratified_splits

    x, y = np.zeros((30, 2)), np.repeat(np.arange(10), 3)
    assert len(stratified_splits(x, y, 0.2, 0.2, 0)["y_val"]) == 10  # round(0.6) = 1 per class
    with pytest.raises(ValueError, match=r"a split of fraction 0.1 gets no sample: 30 samples in 10 classes"):
        stratified_splits(x, y, 0.1, 0.2, 0)
    assert len(stratified_splits(x, y, 0.0, 0.2, 0)["y_val"]) == 0
