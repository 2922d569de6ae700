"""Atomic writes and provenance: a crash never leaves a half-written file under its final name,
and every result says which config and code made it."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputFileError, OutputFileError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path`` (same folder, so the rename is atomic).

    A target that cannot be written (a folder, a folder path through a file, a folder that takes
    no new files, a full disk) raises ``OutputFileError`` naming ``path`` and the cause, never the
    temporary file; the temporary file is removed whatever fails."""
    path = Path(path)
    if path.is_dir():  # checked first: else the write runs and only the rename fails
        raise OutputFileError(path, unwritable(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as err:
        raise OutputFileError(path, _write_cause(path, err, creating=True)) from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results should read like any file
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise OutputFileError(path, _write_cause(path, err)) from None
        raise


def unwritable(path: str | Path) -> str | None:
    """Why ``path`` cannot be written as a file, as far as the file system tells without writing:
    it is a folder, a part of its folder is a file, or the nearest existing folder is not
    writable. None when nothing is found (a folder that refuses new files anyway, like /proc,
    shows only when written to)."""
    path = Path(path)
    if path.is_dir():
        return "it is a folder; give the path of a file"
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder"
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"the folder {folder} is not writable"
            return None
    return None


def _write_cause(path: Path, err: OSError, creating: bool = False) -> str:
    """The cause of ``err`` in words about ``path``, not about the temporary file (``creating``:
    the error came from creating the folder or the temporary file in it)."""
    found = unwritable(path)
    if found:
        return found
    reason = err.strerror or str(err)
    if creating and path.parent.is_dir():
        return f"the folder {path.parent} does not take new files ({reason})"
    return reason


def check_outputs(*paths: str | Path) -> None:
    """Every output of a command, before its work: one that cannot be written (``unwritable``)
    raises ``OutputFileError`` now, rather than after the training or generation it would have
    kept. Writes nothing and creates no folder."""
    for path in paths:
        cause = unwritable(path)
        if cause:
            raise OutputFileError(path, cause)


def write_json(path: str | Path, obj) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _should_be(what: str | None) -> str:
    return f"; it should be {what}" if what else ""


def read_json(path: str | Path, what: str | None = None):
    """The JSON value in ``path``; an empty, truncated or binary file raises ``InputFileError``
    naming the file and, with ``what``, what it should be (``what``: e.g. "the train info
    (train.json) that spikesparse train writes")."""
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise InputFileError(path, "not a text file, so not JSON" + _should_be(what)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        problem = (
            "empty file"
            if not text.strip()
            else f"not valid JSON, truncated or damaged ({err.msg} at line {err.lineno}, column {err.colno})"
        )
        raise InputFileError(path, problem + _should_be(what)) from None


def read_record(path: str | Path, keys: tuple[str, ...] | list[str], what: str) -> dict:
    """A JSON object that must have ``keys`` (a run record, a train info, ...): anything else
    raises ``InputFileError`` naming the file, the keys it lacks and what it should be."""
    return record_with_keys(path, read_json(path, what), keys, what)


def record_with_keys(path: str | Path, value, keys: tuple[str, ...] | list[str], what: str) -> dict:
    """``value`` read from ``path`` (JSON, a checkpoint) when it is a mapping holding ``keys``;
    else ``InputFileError`` naming the file, what it holds or lacks and what it should be."""
    if not isinstance(value, dict):
        raise InputFileError(path, f"holds a {type(value).__name__}, not {what}")
    missing = [k for k in keys if k not in value]
    if missing:
        raise InputFileError(path, f"lacks {missing}, so it is not {what}")
    return value


def read_table(path: str | Path, columns: tuple[str, ...] | list[str], what: str):
    """A CSV table (``pandas.read_csv`` as it is) that must have ``columns``: an empty file, one
    that is not CSV or a table without them raises ``InputFileError`` naming the file."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputFileError(path, f"empty file; it should be {what}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputFileError(path, f"not a CSV table ({first}); it should be {what}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputFileError(path, f"lacks the columns {missing}, so it is not {what}")
    return frame


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_csv(path: str | Path, frame) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def config_hash(spec: dict) -> str:
    """Short, stable hash of a resolved config (key order does not matter)."""
    blob = json.dumps(spec, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def arrays_checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and bytes: independent of the container's timestamps."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def git_commit() -> str:
    """Commit of the package's source tree (``+dirty`` if modified), or "unknown" outside git."""
    here = Path(__file__).resolve().parents[1]  # the whole spikesparse package
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


# Environment variables that change which floating-point kernels run (and so the low bits of
# every sum) without changing the machine: recorded so that a perturbed run never passes for the
# reference machine.
NUMERIC_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE")
# The machine fields two runs must share for their numbers to be bit-identical.
MACHINE_KEYS = (
    "cpu_model",
    "cpu_capability",
    "blas",
    "torch_threads",
    "torch",
    "python",
    "numeric_env",
    "lif_kernels",
)


def cpu_model() -> str:
    """The CPU's marketing name (``model name`` in /proc/cpuinfo on Linux), else what
    ``platform`` knows: floating-point results differ between CPU models, so a result names its."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def blas_info() -> str:
    """The BLAS torch's matmuls go through (``BLAS_INFO`` of its build, with the MKL version when
    it is MKL) and numpy's: another BLAS or version means other kernels and other rounding."""
    import re

    import torch

    config = torch.__config__.show()
    found = re.search(r"BLAS_INFO=([^,\s]+)", config)
    torch_blas = found.group(1) if found else "unknown"
    mkl = re.search(r"Math Kernel Library Version ([^\s-]+)", config)
    if torch_blas == "mkl" and mkl:
        torch_blas = f"mkl {mkl.group(1)}"
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        numpy_blas = f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no dict form of its build config
        numpy_blas = "unknown"
    return f"torch: {torch_blas}; numpy: {numpy_blas}"


def lif_kernels() -> str:
    """Which kernels this process ran, without building anything: ``compiled`` (the extension in
    ``csrc/`` was loaded: the LIF loops, the rate code's draw, the first-spike mask), ``pytorch``
    (disabled or unavailable: the pure-PyTorch kernels, whose vectorized math rounds differently
    from the compiled LIF loops, so the trained nets differ in their low bits; the draw and the
    mask are the same either way) or ``unused`` (no call the extension covers)."""
    from .. import _ext

    if os.environ.get("SPIKESPARSE_NO_EXT", "") == "1":
        return "pytorch (SPIKESPARSE_NO_EXT=1)"
    state = getattr(_ext, "_state", {})
    if not state.get("tried"):
        return "unused"
    return "compiled" if state.get("module") is not None else "pytorch (compiled loops unavailable)"


def machine_info() -> dict:
    """What decides the low bits of this process's floating-point results: CPU model, the
    instruction set torch dispatches to, BLAS, torch threads, versions and the environment
    variables that override kernel choice (``NUMERIC_ENV``, only those set). Two runs with equal
    ``MACHINE_KEYS`` fields are expected to give bit-identical numbers; across machines only
    numbers within noise (docs/study/reliability.md, "Replication")."""
    import torch

    return {
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "blas": blas_info(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "numeric_env": {k: os.environ[k] for k in NUMERIC_ENV if k in os.environ},
        "lif_kernels": lif_kernels(),
    }


def utc_timestamp() -> str:
    """Now in UTC to the minute (``2026-11-27 04:42 UTC``): when a reference was frozen or a
    benchmark measured, which the README quotes beside every time (machines drift by the hour)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def provenance(device: str, wall_time_s: float | None = None) -> dict:
    """Versions, code commit, device and machine (``machine_info``) of this process: recorded in
    every result file, so a replication can tell machine noise from a determinism bug."""
    import torch

    from .. import __version__

    info = {
        "package_version": __version__,
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": device,
        "torch_threads": torch.get_num_threads(),
        **machine_info(),
    }
    if wall_time_s is not None:
        info["wall_time_s"] = round(wall_time_s, 3)
    return info
