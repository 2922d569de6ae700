"""Bring your own regularizer or dataset: resolve ``module:attribute`` names and entry points.

Why: a new method or dataset should not need edits in several package modules. A config names it
as ``module:attribute`` (the module importable from the Python path or from the working
directory, which is Snakemake's ``--directory``), or by a short name that an installed package
registers as an entry point (groups ``spikesparse.regularizers`` and ``spikesparse.datasets``).
Everything downstream (training log, tables, figures, the notebook) reads the regularizer's name
and the run's metrics, never a fixed list of methods.

A regularizer is a subclass of ``spikesparse.regularizers.Regularizer`` (``params``: the config
keys it accepts; ``__call__(hidden_spikes, epoch) -> (penalty, parts)``). A dataset is a function
of its config parameters returning the arrays ``x_train, y_train, x_val, y_val, x_test, y_test``
as sequences ``[n, T, channels]`` of rates in [0, 1] (one rate-coded draw per step) and whole-number
class labels from 0 (any real dtype: ``check_arrays`` stores inputs as float32 and labels as int64);
static plugin datasets (``static = True`` on the function) are rejected for now.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from importlib.metadata import entry_points

import numpy as np

from .regularizers import REGULARIZERS, Regularizer

REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
REGULARIZER_GROUP = "spikesparse.regularizers"
DATASET_GROUP = "spikesparse.datasets"
DATASET_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def load_object(ref: str, what: str) -> object:
    """Import ``module:attribute``; the working directory is searched after the Python path."""
    if not isinstance(ref, str) or not REF.match(ref):
        raise ValueError(f"{what} {ref!r} is not of the form 'module:attribute'")
    module_name, attr = ref.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        cwd = os.getcwd()
        if err.name != module_name.split(".")[0] or cwd in sys.path:
            raise ValueError(f"{what} {ref!r}: cannot import {module_name!r} ({err})") from None
        sys.path.append(cwd)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err2:
            raise ValueError(
                f"{what} {ref!r}: module {module_name!r} is neither on the Python path nor in {cwd} ({err2})"
            ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{what} {ref!r}: module {module_name!r} has no attribute {attr!r}") from None


def _entry_point(group: str, name: str) -> object | None:
    found = [ep for ep in entry_points(group=group) if ep.name == name]
    return found[0].load() if found else None


def resolve_regularizer(name: str) -> type[Regularizer]:
    """The Regularizer class for a config's ``regularizer`` value: a built-in name, an entry point
    of group ``spikesparse.regularizers``, or ``module:Class``. Plugins are added to
    ``REGULARIZERS`` under the name given, so later look-ups agree."""
    if name in REGULARIZERS:
        return REGULARIZERS[name]
    cls = load_object(name, "regularizer") if ":" in str(name) else _entry_point(REGULARIZER_GROUP, name)
    if cls is None:
        raise ValueError(
            f"unknown regularizer {name!r}; known: {sorted(REGULARIZERS)}, 'module:Class', or an "
            f"entry point of group {REGULARIZER_GROUP!r}"
        )
    if not (isinstance(cls, type) and issubclass(cls, Regularizer)):
        raise ValueError(f"regularizer {name!r} must be a subclass of spikesparse.regularizers.Regularizer")
    if not isinstance(cls.params, tuple) or not all(isinstance(p, str) for p in cls.params):
        raise ValueError(f"regularizer {name!r}: params must be a tuple of config key names")
    REGULARIZERS[name] = cls
    return cls


def build_regularizer(spec: dict) -> Regularizer:
    """Regularizer from a run spec's ``regularizer`` block: ``{"name": ..., "lam": ..., params}``;
    the name is a built-in, a plugin (``module:Class``) or an entry point (``resolve_regularizer``)."""
    spec = dict(spec)
    name = spec.pop("name")
    cls = resolve_regularizer(name)
    lam = spec.pop("lam", 0.0)
    unknown = set(spec) - set(cls.params)
    if unknown:
        raise ValueError(f"regularizer {name!r} does not take {sorted(unknown)}")
    return cls(lam, **spec) if cls.uses_lambda else cls(0.0)


def resolve_dataset(ref: str):
    """The generator function a dataset section names with ``generator``: ``module:function`` or
    an entry point of group ``spikesparse.datasets``."""
    fn = load_object(ref, "dataset generator") if ":" in str(ref) else _entry_point(DATASET_GROUP, ref)
    if fn is None:
        raise ValueError(
            f"unknown dataset generator {ref!r}: use 'module:function' or an entry point of {DATASET_GROUP!r}"
        )
    if not callable(fn):
        raise ValueError(f"dataset generator {ref!r} is not callable")
    return fn


def declares_static(generator) -> bool:
    """The one rule for "is this dataset static" (one feature vector per sample, ``x [n, F]``,
    spread over time by the encoder) rather than a sequence (``x [n, T, C]``): its generator's
    ``static`` flag (``components.declare(..., static=True)``). Config checks, evaluation and the
    check of what a generator returned (``data.generate``) all ask this."""
    return bool(getattr(generator, "static", False))


def dataset_is_static(ref: str) -> bool:
    """Whether a plugin dataset holds one feature vector per sample (its ``static`` attribute).

    Plugin datasets are sequences (``[n, T, channels]``): evaluation tells static datasets from
    the built-in list, so a plugin marked ``static = True`` is rejected here rather than evaluated
    with the wrong encoding.
    """
    static = declares_static(resolve_dataset(ref))
    if static:
        raise ValueError(
            f"dataset generator {ref!r} is marked static; plugin datasets must be sequences "
            "[n, T, channels] (static plugin datasets are not supported yet)"
        )
    return static


def check_arrays(ref: str, arrays: object) -> dict[str, np.ndarray]:
    """Check a plugin dataset's arrays and return them in the dtypes training needs.

    A plugin dataset must return the six split arrays with matching lengths, each ``x`` a
    sequence batch ``[n, T, channels]`` of finite rates in [0, 1] (the rate coder's firing
    probabilities) and each ``y`` one class label per sample: whole numbers from 0. A feature
    matrix, an out-of-range value or a fractional label stops here, with its split named, rather
    than as a shape error, a silent clip or a dtype error inside every training job.

    Dtypes: what the function returns may be any real dtype (NumPy's default float64, integers;
    labels also booleans); the returned dict holds each ``x_<split>`` as float32 and each ``y_<split>`` as
    int64, what the models and the loss take (a float64 input had failed in training with
    "mat1 and mat2 must have the same dtype", float labels with "expected target dtype to be
    Long"). Arrays already float32 / int64 are returned as they are, so their bytes and the
    dataset's checksum do not change; other arrays the function returns are kept unchanged."""
    if not isinstance(arrays, dict) or set(DATASET_ARRAYS) - set(arrays):
        got = sorted(arrays) if isinstance(arrays, dict) else type(arrays).__name__
        raise ValueError(
            f"dataset generator {ref!r} must return a dict with {list(DATASET_ARRAYS)}, got {got}"
        )
    out = dict(arrays)
    for split in ("train", "val", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise ValueError(f"dataset generator {ref!r}: x_{split} has {len(x)} samples, y_{split} {len(y)}")
        x = np.asarray(x)
        if x.ndim != 3 or 0 in x.shape:
            raise ValueError(
                f"dataset generator {ref!r}: x_{split} must be a non-empty [n, T, channels] sequence "
                f"batch (plugin datasets are sequences; static feature vectors are not supported), "
                f"got shape {x.shape}"
            )
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise ValueError(
                f"dataset generator {ref!r}: x_{split} must be real numbers, got dtype {x.dtype}"
            )
        finite = bool(np.isfinite(x).all())
        if not finite or x.min() < 0 or x.max() > 1:
            raise ValueError(
                f"dataset generator {ref!r}: x_{split} must hold finite rates in [0, 1], got values in "
                f"[{np.nanmin(x):.3g}, {np.nanmax(x):.3g}]"
                + ("" if finite else " and NaN or infinite values")
            )
        out[f"x_{split}"] = x if x.dtype == np.float32 else x.astype(np.float32)
        out[f"y_{split}"] = _labels(ref, split, y)
    return out


def _labels(ref: str, split: str, y: object) -> np.ndarray:
    """``y_<split>`` as int64 class labels: whole numbers >= 0, one per sample (float labels that
    are whole, like 1.0, are converted; 0.5 or -1 are refused, naming the split)."""
    y = np.asarray(y)
    where = f"dataset generator {ref!r}: y_{split}"
    if y.ndim != 1:
        raise ValueError(f"{where} must hold one class label per sample, shape [n], got shape {y.shape}")
    if y.dtype == np.int64:
        labels = y
    elif y.dtype == np.bool_ or np.issubdtype(y.dtype, np.integer):
        labels = y.astype(np.int64)
    elif np.issubdtype(y.dtype, np.floating):
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            raise ValueError(
                f"{where} must hold whole-number class labels 0, 1, ..., got {float(y[~whole][0]):g} "
                f"(dtype {y.dtype})"
            )
        labels = y.astype(np.int64)
    else:
        raise ValueError(f"{where} must hold whole-number class labels, got dtype {y.dtype}")
    if len(labels) and labels.min() < 0:
        raise ValueError(f"{where} must hold class labels from 0, got {int(labels.min())}")
    return labels
