"""Datasets the study generates itself or takes from an installed package (never downloaded).

``anomaly``: multichannel oscillatory signals in [0, 1] (noisy sinusoids with random frequency,
phase and amplitude per channel) with anomalies of several kinds injected into a random window
of a random subset of channels in about ``anomaly_fraction`` of the samples. Label 1 = anomalous.
Values are firing probabilities ready for rate coding.

``digits``: scikit-learn's shipped 8x8 handwritten digits (64 features, 10 classes), scaled to
[0, 1] by the pixel maximum 16. ``mnist1d``: the procedural MNIST-1D generator (PyPI ``mnist1d``,
40 features, 10 classes), standardized per feature with the *training* split's statistics and
mapped to [0, 1], so test values never inform the scaling. Both are static: one feature vector
per sample, turned into spikes over time by the encoder. Every split is stratified by class and
drawn with ``seed``.

``mnist``, ``fashion_mnist``, ``cifar10``, ``shd`` and ``nmnist`` are read from a folder the user names
(``root``); their readers live in ``spikesparse.study.local_data``.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from .components import declare
from .io import arrays_checksum
from .local_data import LOCAL_DATASETS, SPLITS, source_files, stratified_splits

ANOMALY_KINDS = ("spike", "level_shift", "frequency", "amplitude", "dropout")
# Each generator declares its config parameters (``param_schema``, whose defaults the config
# fills: they are part of every run spec, and some differ from the function's own) and whether
# it is static (``static``: one feature vector per sample, spread over time by the encoder).
SEED = {"type": "integer", "minimum": 0}
VAL_FRACTION = {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
TEST_FRACTION = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}


def _inject(x: np.ndarray, kind: str, rng: np.random.Generator, base: dict) -> None:
    """Inject one anomaly of ``kind`` into ``x`` ([steps, channels]) in place."""
    steps, channels = x.shape
    start = int(rng.integers(int(0.15 * steps), int(0.65 * steps)))
    length = int(rng.integers(max(2, int(0.15 * steps)), max(3, int(0.3 * steps))))
    stop = min(steps, start + length)
    n_affected = int(rng.integers(max(1, channels // 4), max(2, channels // 2 + 1)))
    chans = rng.choice(channels, size=n_affected, replace=False)
    t = np.arange(start, stop)[:, None]
    freq, phase, amp = base["freq"][chans], base["phase"][chans], base["amp"][chans]
    if kind == "spike":
        n_pulses = int(rng.integers(3, 6))
        for _ in range(n_pulses):
            at = int(rng.integers(start, stop))
            x[at : at + 3, chans] = 1.0
    elif kind == "level_shift":
        sign = rng.choice([-1.0, 1.0])
        x[start:stop, chans] += sign * 0.35
    elif kind == "frequency":
        wave = np.sin(2 * np.pi * 3.0 * freq * t + phase)
        x[start:stop, chans] = 0.5 + 0.3 * amp * wave
    elif kind == "amplitude":
        x[start:stop, chans] = 0.5 + 2.5 * (x[start:stop, chans] - 0.5)
    elif kind == "dropout":
        x[start:stop, chans] = 0.0
    else:
        raise ValueError(f"unknown anomaly kind {kind!r}; known: {ANOMALY_KINDS}")


@declare(
    {
        "n_train": {"type": "integer", "minimum": 2, "default": 1600},
        "n_val": {"type": "integer", "minimum": 0, "default": 200},
        "n_test": {"type": "integer", "minimum": 2, "default": 400},
        "n_channels": {"type": "integer", "minimum": 1, "default": 8},
        "n_steps": {"type": "integer", "minimum": 4, "default": 100},
        "anomaly_fraction": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.5},
        "kinds": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "enum": list(ANOMALY_KINDS)},
            "default": list(ANOMALY_KINDS),
        },
        "noise": {"type": "number", "minimum": 0, "default": 0.08},
        "seed": {**SEED, "default": 2026},
    },
    static=False,
)
def make_anomaly_dataset(
    n_train: int = 1600,
    n_val: int = 200,
    n_test: int = 400,
    n_channels: int = 16,
    n_steps: int = 100,
    anomaly_fraction: float = 0.5,
    kinds: tuple[str, ...] | list[str] = ANOMALY_KINDS,
    noise: float = 0.08,
    seed: int = 2026,
) -> dict[str, np.ndarray]:
    """Generate train/val/test splits: ``x_<split>`` float32 [n, steps, channels] in [0, 1],
    ``y_<split>`` int64 labels, ``kind_<split>`` int64 (-1 normal, else index into ``kinds``)."""
    for k in kinds:
        if k not in ANOMALY_KINDS:
            raise ValueError(f"unknown anomaly kind {k!r}; known: {ANOMALY_KINDS}")
    if not 0 < anomaly_fraction < 1:
        raise ValueError(f"anomaly_fraction must lie in (0, 1), got {anomaly_fraction}")
    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    t = np.arange(n_steps)[:, None]
    x = np.empty((n, n_steps, n_channels), dtype=np.float64)
    n_anom = int(round(anomaly_fraction * n))
    labels = np.zeros(n, dtype=np.int64)
    labels[:n_anom] = 1
    rng.shuffle(labels)
    kind_idx = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        base = {
            "freq": rng.uniform(0.02, 0.08, n_channels),
            "phase": rng.uniform(0, 2 * np.pi, n_channels),
            "amp": rng.uniform(0.6, 1.0, n_channels),
        }
        x[i] = 0.5 + 0.3 * base["amp"] * np.sin(2 * np.pi * base["freq"] * t + base["phase"])
        x[i] += noise * rng.standard_normal((n_steps, n_channels))
        if labels[i]:
            k = int(rng.integers(len(kinds)))
            kind_idx[i] = k
            _inject(x[i], kinds[k], rng, base)
    np.clip(x, 0.0, 1.0, out=x)
    bounds = np.cumsum([0, n_train, n_val, n_test])
    out = {}
    for split, lo, hi in zip(SPLITS, bounds[:-1], bounds[1:], strict=True):
        out[f"x_{split}"] = x[lo:hi].astype(np.float32)
        out[f"y_{split}"] = labels[lo:hi]
        out[f"kind_{split}"] = kind_idx[lo:hi]
    return out


def _subsample(x: np.ndarray, y: np.ndarray, n_samples: int | None, seed: int):
    if n_samples is None or n_samples >= len(y):
        return x, y
    if n_samples < 10 * len(np.unique(y)):
        raise ValueError(f"n_samples={n_samples} leaves fewer than 10 samples per class")
    idx = np.sort(np.random.default_rng(seed + 1).permutation(len(y))[:n_samples])
    return x[idx], y[idx]


@declare(
    {
        "val_fraction": {**VAL_FRACTION, "default": 0.15},
        "test_fraction": {**TEST_FRACTION, "default": 0.25},
        # subsample (null = all 1797)
        "n_samples": {"type": ["integer", "null"], "minimum": 100, "default": None},
        "seed": {**SEED, "default": 0},
    },
    static=True,
)
def make_digits_dataset(
    val_fraction: float = 0.15, test_fraction: float = 0.25, n_samples: int | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """scikit-learn's 8x8 digits (shipped with the package), pixels / 16 in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = _subsample(digits.data / 16.0, digits.target, n_samples, seed)
    return stratified_splits(x, y, val_fraction, test_fraction, seed)


# Standardized MNIST-1D features are mapped to [0, 1] (firing probabilities, IF input rates) as
# 0.5 + z / (2 * STANDARD_SPAN_SD), clipped: +-3 SD spans the unit interval.
STANDARD_SPAN_SD = 3.0


def _scale_features(out: dict[str, np.ndarray], scaling: str) -> None:
    """Scale every split in place with statistics of the *training* split only.

    ``standard``: per-feature z-score, then the fixed affine map to [0, 1] above (an affine map of
    z, so a network sees standardized inputs; rate coders and the converted SNN need [0, 1]).
    ``minmax``: one global min-max range (what earlier versions did: it leaves low-variance
    features nearly constant, and the nets underfit).
    """
    x = out["x_train"].astype(np.float64)
    if scaling == "standard":
        mean, sd = x.mean(axis=0), x.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        for split in SPLITS:
            z = (out[f"x_{split}"] - mean) / sd
            out[f"x_{split}"] = np.clip(0.5 + z / (2 * STANDARD_SPAN_SD), 0.0, 1.0).astype(np.float32)
    elif scaling == "minmax":
        lo, hi = float(x.min()), float(x.max())
        for split in SPLITS:
            out[f"x_{split}"] = np.clip((out[f"x_{split}"] - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    else:
        raise ValueError(f"mnist1d: scaling must be 'standard' or 'minmax', got {scaling!r}")


def ann_input_affine(dataset: dict) -> tuple[float, float]:
    """The (scale, shift) that turns a dataset's stored [0, 1] values back into what an ANN
    should see: z-scores for standardized MNIST-1D (an ANN on the squeezed [0, 1] values
    underfits: about 0.56 train accuracy against 1.00 on z-scores), identity otherwise."""
    if dataset.get("name") == "mnist1d" and dataset.get("scaling", "standard") == "standard":
        return 2 * STANDARD_SPAN_SD, -STANDARD_SPAN_SD
    return 1.0, 0.0


@declare(
    {
        "n_samples": {"type": "integer", "minimum": 100, "default": 5000},
        "val_fraction": {**VAL_FRACTION, "default": 0.1},
        "test_fraction": {**TEST_FRACTION, "default": 0.2},
        "seed": {**SEED, "default": 42},
        "scaling": {"type": "string", "enum": ["standard", "minmax"], "default": "standard"},
    },
    static=True,
)
def make_mnist1d_dataset(
    n_samples: int = 5000,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 42,
    scaling: str = "standard",
) -> dict[str, np.ndarray]:
    """MNIST-1D from its procedural generator; features scaled by the training split
    (``_scale_features``)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = int(n_samples)
    args.seed = int(seed)
    args.train_split = 1.0  # we split ourselves (stratified, with a validation split)
    state = np.random.get_state()  # the generator seeds numpy's global state; leave it as found
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(state)
    out = stratified_splits(raw["x"], raw["y"], val_fraction, test_fraction, seed)
    _scale_features(out, scaling)
    return out


GENERATORS = {
    "anomaly": make_anomaly_dataset,
    "digits": make_digits_dataset,
    "mnist1d": make_mnist1d_dataset,
    # Standard benchmarks read from the folder the config's `root` names (spikesparse.study.local_data).
    **LOCAL_DATASETS,
}


def generate(name: str, params: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Build dataset ``name`` from its config block -> (arrays, metadata with checksum)."""
    if "generator" in params:  # a plugin dataset: module:function (or entry point) + its parameters
        from ..plugins import check_arrays, resolve_dataset

        kwargs = {k: v for k, v in params.items() if k != "generator"}
        arrays = resolve_dataset(params["generator"])(**kwargs)
        arrays = check_arrays(params["generator"], arrays)  # float32 inputs, int64 labels
    elif name not in GENERATORS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(GENERATORS)}")
    else:
        arrays = GENERATORS[name](**params)
        _check_static_shape(name, GENERATORS[name], arrays)
    meta = {
        "name": name,
        "params": params,
        "checksum_sha256": arrays_checksum(arrays),
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "n_classes": int(max(arrays["y_train"].max(), arrays["y_test"].max()) + 1),
    }
    if name in LOCAL_DATASETS and "generator" not in params:
        meta["source_files"] = source_files(name, params)  # path, bytes and md5 of each file read
    return arrays, meta


def _check_static_shape(name: str, generator, arrays: dict[str, np.ndarray]) -> None:
    """A generator's arrays must have the shape its ``static`` flag declares (``plugins.
    declares_static``: [n, F] static, [n, T, C] a sequence); the flag is what every later step
    reads, so a mismatch stops here, naming the dataset."""
    from ..plugins import declares_static

    static = declares_static(generator)
    for split in SPLITS:
        x = arrays[f"x_{split}"]
        if x.ndim != (2 if static else 3):
            kind = "static: x [n, F]" if static else "a sequence: x [n, T, C]"
            raise ValueError(
                f"dataset {name!r}: its generator declares it {kind}, but x_{split} has shape {list(x.shape)}"
            )


def save_dataset(path: str, arrays: dict[str, np.ndarray]) -> None:
    from .io import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(path, write)


DATASET_FILE = "a dataset file (the .npz that spikesparse generate-data writes)"
# plugins.DATASET_ARRAYS, spelled out: this module reaches plugins (which imports torch) only
# inside the functions that need it, so generating data starts without torch (a test keeps them equal)
DATASET_ARRAYS = tuple(f"{a}_{split}" for split in SPLITS for a in ("x", "y"))


def load_dataset(path: str, dataset: dict | None = None) -> dict[str, np.ndarray]:
    """The arrays of a dataset file that ``save_dataset`` wrote. A file that is not one (empty,
    truncated, a CSV, an .npz without the split arrays) raises ``InputFileError`` naming it; with
    ``dataset`` (a spec's dataset section), so do data of another dataset (``check_dataset``)."""
    import pickle
    import zipfile

    from ..errors import PATH_ERRORS, InputFileError

    try:
        loaded = np.load(path)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded as f:
                arrays = {k: f[k] for k in f.files}
        else:
            arrays = None  # a single .npy array
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, pickle.UnpicklingError) as err:
        if isinstance(err, PATH_ERRORS):  # missing, a folder, unreadable: the command line names it
            raise
        with open(path, "rb") as fh:
            head = fh.read(4)
        if not head:
            cause = "empty file"
        elif head.startswith(b"PK"):  # a zip archive, as .npz files are, but damaged or cut short
            detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:80]
            cause = f"a truncated or damaged .npz archive ({detail})"
        else:
            cause = "not an .npz archive (another format)"
        raise InputFileError(path, f"{cause}; it should be {DATASET_FILE}") from None
    if arrays is None:
        raise InputFileError(path, f"holds a single array (.npy), not {DATASET_FILE}")
    missing = [a for a in DATASET_ARRAYS if a not in arrays]
    if missing:
        raise InputFileError(path, f"lacks the arrays {missing}, so it is not {DATASET_FILE}")
    if dataset is not None:
        check_dataset(path, arrays, dataset)
    return arrays


def check_dataset(path: str, arrays: dict[str, np.ndarray], dataset: dict) -> None:
    """Data that are not the spec's dataset stop here, before training, naming the file: a static
    dataset's features [n, F] where the spec's dataset is a sequence [n, T, C] or the reverse
    (each generator declares which, ``plugins.declares_static``), or a meta file beside the data
    (``<stem>.json``, what ``generate-data --meta`` writes) that describes these arrays but
    another dataset or other parameter values than the spec's section (``_effective_params``).
    Data that match pass unchanged: nothing here alters an array."""
    from ..errors import InputFileError
    from ..plugins import declares_static

    if not isinstance(dataset, dict):  # a hand-written spec's mistake: training names it
        return
    name = dataset.get("name")
    section = {k: v for k, v in dataset.items() if k != "name"}
    if "generator" in section:
        static = False  # plugin datasets are sequences (static ones are refused); not imported here
    elif name in GENERATORS:
        static = declares_static(GENERATORS[name])
    else:
        static = None  # an unknown name: check_spec or training reports it
    ndim = np.ndim(arrays["x_train"])
    if static is not None and ndim != (2 if static else 3):
        kinds = {2: "static features [n, F]", 3: "sequences [n, T, C]"}
        held = kinds.get(ndim, f"x_train of {ndim} dimensions")
        raise InputFileError(
            path,
            f"holds {held}, but the spec's dataset {name!r} is {kinds[2 if static else 3]}: "
            "the data do not match the spec's dataset",
        )
    meta = _meta_of(path, arrays)
    if meta is None:
        return
    given = _effective_params(meta["name"], meta["params"])
    wanted = _effective_params(name, section)
    described = f"(its meta file {Path(path).with_suffix('.json')} says so)"
    # Another name with other parameters is another dataset (the same section under two names
    # gives the same arrays). A built-in generator's parameters are compared with its defaults
    # filled in; a plugin's defaults are not known here, so only the parameters both give count.
    if meta["name"] != name and given != wanted:
        raise InputFileError(
            path,
            f"holds dataset {meta['name']!r} {described}, but the spec's dataset is {name!r}: the "
            "data do not match the spec's dataset",
        )
    differ = sorted(k for k in given.keys() & wanted.keys() if given[k] != wanted[k])
    if differ:
        raise InputFileError(
            path,
            f"holds dataset {meta['name']!r} generated with other {differ} than the spec's {described}: "
            "the data do not match the spec's dataset (generate it again)",
        )


def _effective_params(name, params: dict) -> dict:
    """The parameters a dataset was (or would be) generated with, as JSON values: a built-in
    generator's signature defaults (what ``generate`` leaves to it) under those given."""
    import inspect
    import json

    given = {k: v for k, v in params.items() if k != "name"}
    if "generator" not in given and name in GENERATORS:
        signature = inspect.signature(GENERATORS[name]).parameters.values()
        given = {p.name: p.default for p in signature if p.default is not inspect.Parameter.empty} | given
    return json.loads(json.dumps(given, sort_keys=True, default=str))


def _meta_of(path: str, arrays: dict[str, np.ndarray]) -> dict | None:
    """The meta file ``generate-data`` wrote beside ``path`` when it describes these arrays (same
    array names and shapes); None when there is none or it is something else."""
    import json

    meta_path = Path(path).with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(meta, dict) and isinstance(meta.get("params"), dict) and "name" in meta):
        return None
    if meta.get("shapes") != {k: list(v.shape) for k, v in arrays.items()}:
        return None
    return meta
