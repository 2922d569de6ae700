"""Standard benchmarks read from a folder the user names (``root:``), never downloaded.

Each reader follows the dataset's own published on-disk format and nothing else:

``mnist`` / ``fashion_mnist``: the four IDX files (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each plain
or gzipped as ``<name>.gz``). IDX: two zero bytes, a type code (0x08 = unsigned byte), the number
of dimensions, one big-endian uint32 per dimension, then the values in C order; images are
magic 0x00000803 with [n, 28, 28], labels 0x00000801 with [n].

``cifar10``: the "python version" batches in ``cifar-10-batches-py/`` (``data_batch_1`` ..
``data_batch_5``, ``test_batch``, ``batches.meta``): pickles of dicts with bytes keys, ``b'data'``
a uint8 [10000, 3072] array (the red, green, blue 32 x 32 planes of each image in turn, so a row
reshapes to [3, 32, 32]) and ``b'labels'`` a list of ints in 0..9. The pickles are read with an
unpickler that builds only dicts, lists, strings, numbers and NumPy arrays, so a file in the
folder cannot run code.

``shd``: the Spiking Heidelberg Digits HDF5 files ``shd_train.h5`` / ``shd_test.h5`` (or their
``.h5.gz``, decompressed in memory): ``spikes/times`` (per sample, spike times in seconds),
``spikes/units`` (per sample, the input channel 0..699 of each spike) and ``labels`` (0..19).
Binned into ``n_steps`` bins of ``bin_ms`` milliseconds from t = 0 (spikes after the last bin are
dropped): ``x`` is [n, n_steps, 700], the number of spikes per bin and channel, or 1 where there
was any (``counts: false``, the default). These are spikes already: the ``spikes`` encoder passes
them to the network unchanged.

``nmnist`` (optional extra ``spikesparse[nmnist]``): N-MNIST's extracted ``Train/`` and ``Test/``
folders, one ``.bin`` file per sample in a folder per digit, read by tonic's ``read_mnist_file``
(5-byte events: x, y, polarity, 23-bit timestamp in us); binned like SHD into [n, n_steps, 2312]
(channel = polarity x 34 x 34 + y x 34 + x), ``input_shape`` (2, 34, 34) per step.

Images become flat features in [0, 1] (pixel / 255), [n, F] like ``digits``, with the image shape
in the array ``input_shape`` ((1, 28, 28) or (3, 32, 32)) for convolutional models; the existing
encoders (rate, latency) turn them into spikes. Splits: the dataset's own test split; validation
carved from the training split per class, seeded; ``n_train`` / ``n_test`` take a stratified
subsample (seeded) of the official splits.

Bad input raises ``DataFileError`` (a ``ConfigError``): one line naming the file and what is wrong
(missing, truncated, not the format, a wrong shape or label range, an md5 that differs from the
published one). The readers only read: nothing is ever written into ``root``. ``check`` runs the
whole reader (cached per process by path, size and modification time), so config validation
rejects a broken folder before any job starts.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .components import declare

SPLITS = ("train", "val", "test")


class DataFileError(ConfigError):
    """A dataset file (or folder) that cannot be used; the message names it and says why."""

    def __init__(self, path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


# Published md5 sums of the distributed files (the MNIST and Fashion-MNIST .gz files; the
# CIFAR-10 python batches), as their distributors list them (also torchvision's resources).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
CIFAR10_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
SHD_CHANNELS = 700
SHD_CLASSES = 20

# IDX type codes -> NumPy dtypes (big-endian), from the format's description.
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _root(root) -> Path:
    if root is None or str(root).strip() == "":
        raise DataFileError("root", "required: the folder that holds the dataset's files")
    path = Path(os.path.expanduser(str(root)))
    if not path.exists():
        raise DataFileError(path, "root folder does not exist")
    if not path.is_dir():
        raise DataFileError(path, "root is not a folder")
    return path


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_md5(path: Path, published: dict[str, str], verify: bool) -> None:
    expected = published.get(path.name)
    if verify and expected is not None:
        got = _md5(path)
        if got != expected:
            raise DataFileError(
                path,
                f"md5 {got} differs from the published {expected} (a different or damaged copy; "
                "verify_checksum: false accepts it)",
            )


def _find(root: Path, stem: str, suffixes=(".gz", "")) -> Path:
    for suffix in suffixes:
        path = root / f"{stem}{suffix}"
        if path.is_file():
            return path
    names = " or ".join(f"{stem}{s}" for s in suffixes)
    raise DataFileError(root / stem, f"missing file (looked for {names} in {root})")


def _read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataFileError(path, f"not a complete gzip file ({err})") from None
    return raw


def read_idx(path: Path) -> np.ndarray:
    """The array in an IDX file (plain or gzipped), checked against its own header."""
    raw = _read_maybe_gzip(path)
    if len(raw) < 4:
        raise DataFileError(path, f"truncated: {len(raw)} bytes, shorter than an IDX header")
    if raw[0:2] != b"\x00\x00" or raw[2] not in _IDX_TYPES or raw[3] == 0:
        magic = struct.unpack(">I", raw[:4])[0]
        raise DataFileError(path, f"not an IDX file (magic number 0x{magic:08x})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(path, f"truncated: {len(raw)} bytes, shorter than its {header}-byte header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    body = len(raw) - header
    if body < expected:
        raise DataFileError(
            path, f"truncated: header says {list(dims)} ({expected} bytes of data), file has {body}"
        )
    if body > expected:
        raise DataFileError(path, f"{body - expected} bytes after the {list(dims)} array its header declares")
    return np.frombuffer(raw, dtype=dtype, count=int(np.prod(dims)), offset=header).reshape(dims)


def _read_idx_split(root: Path, split: str, published: dict, verify: bool, n_classes: int = 10):
    images_stem, labels_stem = IDX_FILES[split]
    images_path, labels_path = _find(root, images_stem), _find(root, labels_stem)
    for path in (images_path, labels_path):
        _verify_md5(path, published, verify)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataFileError(
            images_path, f"expected uint8 images [n, 28, 28], got {images.dtype} {list(images.shape)}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataFileError(
            labels_path, f"expected uint8 labels [n], got {labels.dtype} {list(labels.shape)}"
        )
    if len(labels) != len(images):
        raise DataFileError(
            labels_path, f"{len(labels)} labels for the {len(images)} images of {images_path.name}"
        )
    _check_labels(labels_path, labels, n_classes)
    return images.reshape(len(images), -1), labels.astype(np.int64)


def _check_labels(path, labels: np.ndarray, n_classes: int) -> None:
    if len(labels) == 0:
        raise DataFileError(path, "holds no samples")
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFileError(path, f"label {int(labels[i])} at index {i} is outside 0..{n_classes - 1}")


class _ArraysOnly(pickle.Unpickler):
    """Builds dicts, lists, strings, numbers and NumPy arrays, nothing else (no code runs)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refuses to build {module}.{name}")


def _load_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            obj = _ArraysOnly(fh, encoding="bytes").load()
    except Exception as err:  # noqa: BLE001 - any unpickling failure means the same to the user
        raise DataFileError(path, f"not a readable CIFAR-10 pickle ({type(err).__name__}: {err})") from None
    if not isinstance(obj, dict):
        raise DataFileError(path, f"expected a pickled dict, got {type(obj).__name__}")
    return obj


def _cifar_folder(root: Path) -> Path:
    inner = root / CIFAR10_DIR
    if inner.is_dir():
        return inner
    if (root / "batches.meta").is_file() or (root / "test_batch").is_file():
        return root
    raise DataFileError(inner, f"missing folder (the CIFAR-10 python batches, {CIFAR10_DIR}/, in {root})")


def _read_cifar_batch(path: Path):
    batch = _load_pickle(path)
    for key in (b"data", b"labels"):
        if key not in batch:
            raise DataFileError(path, f"no {key!r} entry (keys: {sorted(batch)})")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = list(data.shape) if isinstance(data, np.ndarray) else type(data).__name__
        dtype = getattr(data, "dtype", "")
        raise DataFileError(
            path, f"b'data' should be uint8 [n, 3072], got {dtype} {shape}".replace("  ", " ")
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataFileError(
            path, f"b'labels' should be a list of integers, got {labels.dtype} {list(labels.shape)}"
        )
    if len(labels) != len(data):
        raise DataFileError(path, f"{len(labels)} labels for {len(data)} images")
    _check_labels(path, labels, 10)
    return data, labels.astype(np.int64)


def _read_cifar(root: Path, verify: bool):
    folder = _cifar_folder(root)
    paths = {name: _find(folder, name, ("",)) for name in (*CIFAR10_TRAIN, "test_batch", "batches.meta")}
    for path in paths.values():
        _verify_md5(path, CIFAR10_MD5, verify)
    meta = _load_pickle(paths["batches.meta"])
    names = meta.get(b"label_names")
    if not isinstance(names, list) or len(names) != 10:
        raise DataFileError(paths["batches.meta"], "b'label_names' should list the 10 class names")
    train = [_read_cifar_batch(paths[name]) for name in CIFAR10_TRAIN]
    x_test, y_test = _read_cifar_batch(paths["test_batch"])
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return x_train, y_train, x_test, y_test


def _open_h5(path: Path):
    import h5py

    try:
        if path.suffix == ".gz":
            return h5py.File(io.BytesIO(_read_maybe_gzip(path)), "r")
        return h5py.File(path, "r")
    except DataFileError:
        raise
    except Exception as err:  # noqa: BLE001 - h5py raises OSError and others for a broken file
        raise DataFileError(path, f"not a readable HDF5 file ({err})") from None


def read_shd_file(path: Path) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Spike times (s), units and labels of every sample in one SHD file, checked."""
    with _open_h5(path) as f:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in f:
                raise DataFileError(
                    path, f"no dataset {key!r} (an SHD file has spikes/times, spikes/units, labels)"
                )
        try:
            times = list(f["spikes/times"][()])
            units = list(f["spikes/units"][()])
            labels = np.asarray(f["labels"][()])
        except Exception as err:  # noqa: BLE001 - a damaged chunk surfaces here
            raise DataFileError(path, f"cannot read its datasets ({err})") from None
    if not (len(times) == len(units) == len(labels)):
        raise DataFileError(
            path, f"{len(times)} spike-time arrays, {len(units)} unit arrays and {len(labels)} labels differ"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataFileError(path, f"labels should be integers [n], got {labels.dtype} {list(labels.shape)}")
    _check_labels(path, labels, SHD_CLASSES)
    for i, (t, u) in enumerate(zip(times, units, strict=True)):
        t, u = np.asarray(t), np.asarray(u)
        if t.shape != u.shape or t.ndim != 1:
            raise DataFileError(path, f"sample {i}: {t.size} spike times but {u.size} units")
        if u.size and (u.min() < 0 or u.max() >= SHD_CHANNELS):
            raise DataFileError(path, f"sample {i}: unit {int(u.max())} outside 0..{SHD_CHANNELS - 1}")
        if t.size and (not np.all(np.isfinite(t)) or t.min() < 0):
            raise DataFileError(path, f"sample {i}: spike times must be finite and >= 0")
    return times, units, labels.astype(np.int64)


def bin_spikes(times, units, n_steps: int, bin_ms: float, counts: bool = False) -> np.ndarray:
    """Spike events -> [n, n_steps, 700] float32: spikes of each bin of ``bin_ms`` ms from t = 0
    per channel (a count, or 1 where any with ``counts=False``); spikes after the last bin are
    dropped."""
    out = np.zeros((len(times), n_steps, SHD_CHANNELS), dtype=np.float32)
    size = n_steps * SHD_CHANNELS
    for i, (t, u) in enumerate(zip(times, units, strict=True)):
        step = np.floor(np.asarray(t, dtype=np.float64) * 1000.0 / bin_ms).astype(np.int64)
        keep = step < n_steps
        flat = step[keep] * SHD_CHANNELS + np.asarray(u, dtype=np.int64)[keep]
        out[i] = np.bincount(flat, minlength=size).reshape(n_steps, SHD_CHANNELS)
    if not counts:
        np.minimum(out, 1.0, out=out)
    return out


def _shd_file(root: Path, split: str) -> Path:
    return _find(root, f"shd_{split}.h5", ("", ".gz"))


# --- splits -----------------------------------------------------------------------------------


def stratified_splits(
    x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Split per class so every split keeps the class balance; order within a split is shuffled."""
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must lie in [0, 1) "
            "and (0, 1) and leave training samples"
        )
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = int(round(test_fraction * len(idx)))
        n_val = int(round(val_fraction * len(idx)))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    asked = {"test": test_fraction, "val": val_fraction, "train": 1 - val_fraction - test_fraction}
    for split, chunks in parts.items():
        if asked[split] > 0 and sum(len(c) for c in chunks) == 0:
            # round(fraction x class size) was 0 in every class: a split asked for and empty
            # would leave its metrics NaN (validation: every choice of the study) without a word.
            fewest = int(np.unique(y, return_counts=True)[1].min())
            raise ConfigError(
                f"a split of fraction {asked[split]:g} gets no sample: {len(y)} samples in "
                f"{len(np.unique(y))} classes, and round({asked[split]:g} x class size) is 0 in "
                f"every class (smallest class: {fewest}); use a larger fraction or more samples"
            )
    out = {}
    for split, chunks in parts.items():
        idx = rng.permutation(np.concatenate(chunks))
        out[f"x_{split}"] = x[idx].astype(np.float32)
        out[f"y_{split}"] = y[idx].astype(np.int64)
    return out


def _stratified_take(y: np.ndarray, n: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of a stratified subsample of ``n`` samples (all, in order, when ``n`` is None)."""
    if n is None or n >= len(y):
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    # Largest-remainder apportionment of n over the classes.
    quota = counts * n / len(y)
    take = np.floor(quota).astype(int)
    for k in np.argsort(-(quota - take), kind="stable")[: n - take.sum()]:
        take[k] += 1
    idx = [rng.permutation(np.flatnonzero(y == c))[:t] for c, t in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(idx))


def official_splits(
    x_train, y_train, x_test, y_test, val_fraction: float, seed: int, n_train=None, n_test=None
) -> dict[str, np.ndarray]:
    """The dataset's own test split, validation carved from its training split per class (the
    same per-class draw as ``stratified_splits``), optional stratified subsamples; every
    draw seeded by ``seed``."""
    rng = np.random.default_rng(seed)
    keep = _stratified_take(y_train, n_train, rng)
    x_train, y_train = x_train[keep], y_train[keep]
    keep = _stratified_take(y_test, n_test, rng)
    x_test, y_test = x_test[keep], y_test[keep]
    if val_fraction > 0:
        # stratified_splits carves test then validation per class; with the test share 0 it
        # needs a positive one, so the carved "test" here is the validation part.
        parts = stratified_splits(x_train, y_train, 0.0, val_fraction, seed)
        out = {
            "x_train": parts["x_train"],
            "y_train": parts["y_train"],
            "x_val": parts["x_test"],
            "y_val": parts["y_test"],
        }
    else:
        order = rng.permutation(len(y_train))
        out = {
            "x_train": x_train[order].astype(np.float32),
            "y_train": y_train[order].astype(np.int64),
            "x_val": np.zeros((0, *x_train.shape[1:]), dtype=np.float32),
            "y_val": np.zeros(0, dtype=np.int64),
        }
    out["x_test"] = x_test.astype(np.float32)
    out["y_test"] = y_test.astype(np.int64)
    return out


# --- the dataset kinds -------------------------------------------------------------------------

ROOT = {"type": "string", "minLength": 1, "description": "folder holding the dataset's files"}
VERIFY = {"type": "boolean", "default": True}
VAL = {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.1}
SUBSAMPLE = {"type": ["integer", "null"], "minimum": 20, "default": None}
SEED = {"type": "integer", "minimum": 0, "default": 0}
IMAGE_SCHEMA = {
    "root": ROOT,
    "verify_checksum": VERIFY,
    "val_fraction": VAL,
    "n_train": SUBSAMPLE,
    "n_test": SUBSAMPLE,
    "seed": SEED,
}


def _event_schema(n_steps: int, bin_ms: float) -> dict:
    """Parameters of an event dataset (SHD, N-MNIST): binning, then the splits as for images."""
    return {
        "root": ROOT,
        "n_steps": {"type": "integer", "minimum": 1, "default": n_steps},
        "bin_ms": {"type": "number", "exclusiveMinimum": 0, "default": bin_ms},
        "counts": {"type": "boolean", "default": False},
        **{k: IMAGE_SCHEMA[k] for k in ("val_fraction", "n_train", "n_test", "seed")},
    }


# Per process: (kind, resolved root, its files' (name, size, mtime)) -> the read arrays, so that
# config validation and the loader read a folder once.
_READ_CACHE: dict[tuple, tuple] = {}


def _signature(kind: str, root: Path, extra=()) -> tuple:
    # The files in root and in its cifar-10-batches-py/ (not a recursive walk: root may be a
    # large data folder holding other data sets too).
    stats = []
    inner = root / CIFAR10_DIR
    for path in sorted([*root.iterdir(), *(inner.iterdir() if inner.is_dir() else [])]):
        if path.is_file():
            st = path.stat()
            stats.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
    return (kind, str(root.resolve()), tuple(stats), tuple(extra))


def _cached(key: tuple, read):
    if key not in _READ_CACHE:
        if len(_READ_CACHE) > 4:
            _READ_CACHE.clear()
        _READ_CACHE[key] = read()
    return _READ_CACHE[key]


def _read_idx_dataset(root, published: dict, verify: bool):
    folder = _root(root)

    def read():
        x_train, y_train = _read_idx_split(folder, "train", published, verify)
        x_test, y_test = _read_idx_split(folder, "test", published, verify)
        return x_train, y_train, x_test, y_test

    return _cached(_signature("idx", folder, (verify, id(published))), read)


def _image_dataset(raw, shape, val_fraction, seed, n_train, n_test) -> dict[str, np.ndarray]:
    x_train, y_train, x_test, y_test = raw
    out = official_splits(
        x_train, y_train, x_test, y_test, val_fraction, seed, n_train=n_train, n_test=n_test
    )
    for split in ("train", "val", "test"):
        out[f"x_{split}"] = (out[f"x_{split}"] / np.float32(255.0)).astype(np.float32)
    out["input_shape"] = np.asarray(shape, dtype=np.int64)
    return out


def _file_check(read):
    """A dataset's ``check`` (config validation): run ``read(params)``; its DataFileError is the
    problem, reported at the ``root`` key. Skipped inside ``official_sizes``."""

    def check(params: dict) -> list[str]:
        if _OFFICIAL:
            return []
        try:
            read(params)
        except DataFileError as err:
            return [f"root: {err}"]
        return []

    return check


def _check_image(read):
    return _file_check(lambda params: read(params.get("root"), params.get("verify_checksum", True)))


def _mnist_like(published: dict):
    def read(root, verify):
        return _read_idx_dataset(root, published, verify)

    return read


_read_mnist = _mnist_like(MNIST_MD5)
_read_fashion = _mnist_like(FASHION_MNIST_MD5)


def _image_loader(read, shape: tuple[int, int, int], name: str, doc: str):
    """The dataset kind of a local image set read by ``read`` (pixels / 255, flat, with its
    ``input_shape``): the image sets differ only in their reader and shape, so one builder makes
    each kind (same parameters, same schema, same split and scaling)."""

    @declare(IMAGE_SCHEMA, static=True, local=True, check=_check_image(read), input_shape=shape)
    def load(
        root: str | None = None,
        verify_checksum: bool = True,
        val_fraction: float = 0.1,
        n_train: int | None = None,
        n_test: int | None = None,
        seed: int = 0,
    ) -> dict[str, np.ndarray]:
        raw = read(root, verify_checksum)
        return _image_dataset(raw, shape, val_fraction, seed, n_train, n_test)

    load.__name__ = load.__qualname__ = name
    load.__doc__ = doc
    return load


def _read_cifar10(root, verify):
    folder = _root(root)
    return _cached(_signature("cifar10", folder, (verify,)), lambda: _read_cifar(folder, verify))


_IDX_DOC = "from its four IDX files in ``root``: pixels / 255, flat [n, 784], input_shape (1, 28, 28)."
load_mnist = _image_loader(_read_mnist, (1, 28, 28), "load_mnist", f"MNIST {_IDX_DOC}")
load_fashion_mnist = _image_loader(
    _read_fashion, (1, 28, 28), "load_fashion_mnist", f"Fashion-MNIST (the MNIST layout) {_IDX_DOC}"
)
load_cifar10 = _image_loader(
    _read_cifar10,
    (3, 32, 32),
    "load_cifar10",
    "CIFAR-10 from its python batches (``root`` or ``root/cifar-10-batches-py``): pixels / 255, "
    "flat [n, 3072] in channel, row, column order, input_shape (3, 32, 32).",
)


def _read_shd(root):
    folder = _root(root)

    def read():
        return tuple(read_shd_file(_shd_file(folder, split)) for split in ("train", "test"))

    return _cached(_signature("shd", folder), read)


_check_shd = _file_check(lambda params: _read_shd(params.get("root")))


@declare(
    _event_schema(n_steps=100, bin_ms=14.0),
    static=False,
    local=True,
    check=_check_shd,
    events=True,
)
def load_shd(
    root: str | None = None,
    n_steps: int = 100,
    bin_ms: float = 14.0,
    counts: bool = False,
    val_fraction: float = 0.1,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The Spiking Heidelberg Digits from ``shd_train.h5`` / ``shd_test.h5`` in ``root``, binned
    into [n, n_steps, 700] (``bin_spikes``; by default 100 bins of 14 ms = the first 1.4 s)."""
    (t_tr, u_tr, y_tr), (t_te, u_te, y_te) = _read_shd(root)
    rng = np.random.default_rng(seed)
    # Subsample before binning: the binned arrays of the full set are GBs.
    keep_tr = _stratified_take(y_tr, n_train, rng)
    keep_te = _stratified_take(y_te, n_test, rng)
    x_tr = bin_spikes([t_tr[i] for i in keep_tr], [u_tr[i] for i in keep_tr], n_steps, bin_ms, counts)
    x_te = bin_spikes([t_te[i] for i in keep_te], [u_te[i] for i in keep_te], n_steps, bin_ms, counts)
    return official_splits(x_tr, y_tr[keep_tr], x_te, y_te[keep_te], val_fraction, seed)


# --- N-MNIST through tonic (optional extra) ------------------------------------------------------

NMNIST_SENSOR = (34, 34)  # width, height; two polarities
NMNIST_CHANNELS = 2 * 34 * 34
_NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


def _tonic_reader():
    try:
        from tonic.io import read_mnist_file
    except ImportError as err:
        raise ConfigError(
            f"dataset 'nmnist' reads its files with tonic, which is not installed ({err.name}): "
            "pip install 'spikesparse[nmnist]'"
        ) from None
    return read_mnist_file


def _nmnist_files(root: Path, split: str) -> list[tuple[Path, int]]:
    """(file, label) of every sample: ``root/Train/<digit>/*.bin`` (``Test`` for the test split),
    the layout of N-MNIST's Train.zip / Test.zip, the label the folder name's last digit."""
    folder = root / ("Train" if split == "train" else "Test")
    if not folder.is_dir():
        raise DataFileError(folder, f"missing folder (N-MNIST's extracted {folder.name}/ in {root})")
    files = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name[-1:].isdigit()):
        files += [(f, int(sub.name[-1])) for f in sorted(sub.glob("*.bin"))]
    if not files:
        raise DataFileError(folder, "no .bin files in digit folders 0..9")
    return files


def read_nmnist_file(path: Path) -> np.ndarray:
    """The events (x, y, t in us, p) of one N-MNIST file, read by tonic, checked."""
    size = path.stat().st_size
    if size % 5:
        raise DataFileError(path, f"truncated: {size} bytes is not a whole number of 5-byte events")
    events = _tonic_reader()(str(path), dtype=_NMNIST_DTYPE)
    if events.size and (events["x"].max() >= NMNIST_SENSOR[0] or events["y"].max() >= NMNIST_SENSOR[1]):
        raise DataFileError(path, "an event outside the 34 x 34 sensor")
    return events


def bin_nmnist(events: list[np.ndarray], n_steps: int, bin_ms: float, counts: bool = False) -> np.ndarray:
    """Events -> [n, n_steps, 2 x 34 x 34] float32, channel ``p * 34 * 34 + y * 34 + x`` (the
    [polarity, y, x] frames flattened): events per bin of ``bin_ms`` ms, or 1 where any."""
    out = np.zeros((len(events), n_steps, NMNIST_CHANNELS), dtype=np.float32)
    for i, ev in enumerate(events):
        step = np.floor(ev["t"] / (bin_ms * 1000.0)).astype(np.int64)
        keep = step < n_steps
        channel = ev["p"] * (34 * 34) + ev["y"] * 34 + ev["x"]
        flat = step[keep] * NMNIST_CHANNELS + channel[keep]
        out[i] = np.bincount(flat, minlength=n_steps * NMNIST_CHANNELS).reshape(n_steps, NMNIST_CHANNELS)
    if not counts:
        np.minimum(out, 1.0, out=out)
    return out


def _probe_nmnist(params: dict) -> None:
    """The layout and one file per split (reading 70,000 files at every validation would be slow;
    the dataset rule reads and checks them all)."""
    root = _root(params.get("root"))
    for split in ("train", "test"):
        read_nmnist_file(_nmnist_files(root, split)[0][0])


_check_nmnist = _file_check(_probe_nmnist)


@declare(
    _event_schema(n_steps=30, bin_ms=10.0),
    static=False,
    local=True,
    check=_check_nmnist,
    events=True,
    input_shape=(2, 34, 34),
)
def load_nmnist(
    root: str | None = None,
    n_steps: int = 30,
    bin_ms: float = 10.0,
    counts: bool = False,
    val_fraction: float = 0.1,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """N-MNIST from its extracted ``Train/`` and ``Test/`` folders in ``root`` (files read by
    tonic's ``read_mnist_file``), binned into [n, n_steps, 2312] (``bin_nmnist``; by default 30
    bins of 10 ms = the three 100 ms saccades), ``input_shape`` (2, 34, 34) per step."""
    folder = _root(root)
    rng = np.random.default_rng(seed)
    split = {}
    for name, n in (("train", n_train), ("test", n_test)):
        files = _nmnist_files(folder, name)
        labels = np.asarray([label for _, label in files], dtype=np.int64)
        keep = _stratified_take(labels, n, rng)
        events = [read_nmnist_file(files[i][0]) for i in keep]
        split[name] = (bin_nmnist(events, n_steps, bin_ms, counts), labels[keep])
    out = official_splits(*split["train"], *split["test"], val_fraction, seed)
    out["input_shape"] = np.asarray((2, 34, 34), dtype=np.int64)
    return out


LOCAL_DATASETS = {
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "shd": load_shd,
    "nmnist": load_nmnist,
}


def local_files(name: str, params: dict) -> list[str]:
    """The files in ``root`` that dataset ``name`` reads (for the workflow's inputs: a changed
    file regenerates the dataset); [] for a dataset that reads no files or a folder that fails
    its check (config validation reports that)."""
    try:
        folder = _root(params.get("root"))
        if name in ("mnist", "fashion_mnist"):
            return [str(_find(folder, stem)) for pair in IDX_FILES.values() for stem in pair]
        if name == "cifar10":
            inner = _cifar_folder(folder)
            return [str(inner / n) for n in (*CIFAR10_TRAIN, "test_batch", "batches.meta")]
        if name == "shd":
            return [str(_shd_file(folder, split)) for split in ("train", "test")]
        if name == "nmnist":  # the two folders (70,000 files as inputs would slow Snakemake down)
            return [str(folder / "Train"), str(folder / "Test")]
    except DataFileError:
        return []
    return []


# Sample counts (train, test) and per-sample feature shape of the official releases, for a budget
# of a study whose files are not on this machine (``official_sizes``).
OFFICIAL_SIZES = {
    "mnist": (60000, 10000, [784]),
    "fashion_mnist": (60000, 10000, [784]),
    "cifar10": (50000, 10000, [3072]),
    "shd": (8156, 2264, None),
    "nmnist": (60000, 10000, None),
}
_OFFICIAL = False


@contextlib.contextmanager
def official_sizes():
    """Inside: the file checks pass without reading and ``local_sizes`` gives the official
    releases' sizes (``spikesparse budget --official-sizes``: the cost of a config whose data
    are elsewhere, e.g. on the cluster)."""
    global _OFFICIAL
    before, _OFFICIAL = _OFFICIAL, True
    try:
        yield
    finally:
        _OFFICIAL = before


def local_sizes(name: str, params: dict) -> dict | None:
    """Sample counts and feature shape of a local dataset as ``params`` would build it, from the
    files (read once per process): ``{"n_train", "n_val", "n_test", "shape"}``, shape per sample
    ([F] or [T, C]); None when the folder cannot be read."""
    if _OFFICIAL:
        n_tr, n_te, shape = OFFICIAL_SIZES[name]
        y_tr, y_te = np.zeros(n_tr), np.zeros(n_te)
        channels = NMNIST_CHANNELS if name == "nmnist" else SHD_CHANNELS
        shape = shape or [int(params.get("n_steps", 30 if name == "nmnist" else 100)), channels]
        return _split_sizes(params, y_tr, y_te, shape)
    try:
        if name == "shd":
            (_, _, y_tr), (_, _, y_te) = _read_shd(params.get("root"))
            shape = [int(params.get("n_steps", 100)), SHD_CHANNELS]
        elif name == "nmnist":
            folder = _root(params.get("root"))
            y_tr, y_te = (np.asarray([y for _, y in _nmnist_files(folder, s)]) for s in ("train", "test"))
            shape = [int(params.get("n_steps", 30)), NMNIST_CHANNELS]
        else:
            read = {"mnist": _read_mnist, "fashion_mnist": _read_fashion, "cifar10": _read_cifar10}[name]
            _, y_tr, x_te, y_te = read(params.get("root"), params.get("verify_checksum", True))
            shape = [int(x_te.shape[1])]
    except (DataFileError, KeyError):
        return None
    return _split_sizes(params, y_tr, y_te, shape)


def _split_sizes(params: dict, y_tr, y_te, shape) -> dict:
    n_tr = min(len(y_tr), params.get("n_train") or len(y_tr))
    n_te = min(len(y_te), params.get("n_test") or len(y_te))
    n_val = int(round(params.get("val_fraction", 0.1) * n_tr))
    return {"n_train": n_tr - n_val, "n_val": n_val, "n_test": n_te, "shape": shape}


def source_files(name: str, params: dict) -> list[dict]:
    """Path, size and md5 of every file dataset ``name`` read (recorded in the dataset's meta)."""
    out = []
    for path in local_files(name, params):
        if Path(path).is_dir():  # N-MNIST: a folder of small files, recorded by count and size
            files = [f for f in Path(path).rglob("*.bin") if f.is_file()]
            out.append({"path": path, "files": len(files), "bytes": sum(f.stat().st_size for f in files)})
        else:
            out.append({"path": path, "bytes": os.path.getsize(path), "md5": _md5(Path(path))})
    return out
