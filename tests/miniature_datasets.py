"""Miniature copies of the standard benchmarks, written in their real on-disk formats, for the
loader tests and the workflow tests (spikesparse.study.local_data). Each writer returns the arrays it
wrote, so a test can round-trip them."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    """An IDX file: 0, 0, type 0x08 (uint8), ndim, big-endian uint32 dims, then the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def write_mnist(root: Path, n_train: int = 40, n_test: int = 20, gz: bool = False, seed: int = 0) -> dict:
    """The four MNIST IDX files (standard names) in ``root``; labels cycle over the 10 classes."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n, prefix in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        write_idx(root / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, gz)
        out[f"x_{split}"], out[f"y_{split}"] = images, labels
    return out


def write_cifar10(root: Path, per_batch: int = 10, n_test: int = 20, seed: int = 0) -> dict:
    """``root/cifar-10-batches-py`` with data_batch_1..5, test_batch and batches.meta, pickled
    dicts with bytes keys like the official python version."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    xs, ys = [], []
    for name, n in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", n_test)]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.permutation(np.arange(n) % 10)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [b"x.png"] * n,
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        xs.append(data)
        ys.append(np.asarray(labels))
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    meta = {b"num_cases_per_batch": per_batch, b"label_names": names, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return {
        "x_train": np.concatenate(xs[:5]),
        "y_train": np.concatenate(ys[:5]),
        "x_test": xs[5],
        "y_test": ys[5],
    }


def write_shd(root: Path, n_train: int = 40, n_test: int = 20, seed: int = 0, max_time: float = 1.0) -> dict:
    """shd_train.h5 / shd_test.h5 as the SHD release lays them out: spikes/times (float, s) and
    spikes/units (uint16) as variable-length arrays, labels (uint16, 20 classes)."""
    import h5py

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        times, units = [], []
        for _ in range(n):
            k = int(rng.integers(5, 60))
            times.append(np.sort(rng.uniform(0, max_time, k)).astype(np.float16))
            units.append(rng.integers(0, 700, k).astype(np.uint16))
        labels = rng.permutation(np.arange(n) % 20).astype(np.uint16)
        with h5py.File(root / f"shd_{split}.h5", "w") as f:
            f.create_dataset(
                "spikes/times", data=np.array(times, dtype=object), dtype=h5py.vlen_dtype(np.float16)
            )
            f.create_dataset(
                "spikes/units", data=np.array(units, dtype=object), dtype=h5py.vlen_dtype(np.uint16)
            )
            f.create_dataset("labels", data=labels)
        out[split] = (times, units, labels)
    return out


def nmnist_bytes(x, y, t, p) -> bytes:
    """N-MNIST's 5-byte events: x, y, then polarity in bit 7 over a 23-bit timestamp (us)."""
    out = bytearray()
    for xi, yi, ti, pi in zip(x, y, t, p, strict=True):
        out += bytes(
            [int(xi), int(yi), (int(pi) << 7) | (int(ti) >> 16) & 0x7F, (int(ti) >> 8) & 0xFF, int(ti) & 0xFF]
        )
    return bytes(out)


def write_nmnist(root: Path, per_class: int = 3, n_test_per_class: int = 2, seed: int = 0) -> dict:
    """``root/Train/<digit>/*.bin`` and ``root/Test/<digit>/*.bin`` like N-MNIST's archives;
    returns per split the (x, y, t, p) events and labels in file order."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, folder, n in (("train", "Train", per_class), ("test", "Test", n_test_per_class)):
        events, labels = [], []
        for digit in range(10):
            (root / folder / str(digit)).mkdir(parents=True, exist_ok=True)
            for k in range(n):
                m = int(rng.integers(5, 80))
                ev = (
                    rng.integers(0, 34, m),
                    rng.integers(0, 34, m),
                    np.sort(rng.integers(0, 300_000, m)),
                    rng.integers(0, 2, m),
                )
                (root / folder / str(digit) / f"{k:05d}.bin").write_bytes(nmnist_bytes(*ev))
                events.append(ev)
                labels.append(digit)
        out[split] = (events, np.asarray(labels))
    return out
