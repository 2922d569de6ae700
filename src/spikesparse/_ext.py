"""Build (once, cached) and load the compiled kernels in ``csrc/``: the LIF time loops
(``lif_loops.cpp``), the rate code's fused draw (``rate_code.cpp``), the first-spike
penalty's mask (``first_spike.cpp``), Adam's step (``adam.cpp``), the conversion's IF neuron
step (``if_step.cpp``) and the size-2 average pool (``pair_pool.cpp``).

Why: even with whole-sequence ops, the Python time loop pays a dispatcher call per operation
and step. The compiled loops fuse membrane, spike and surrogate into one pass. They are an
accelerator only: when the build is impossible (no compiler) or disabled with
``SPIKESPARSE_NO_EXT=1``, the pure-PyTorch kernel in ``neurons`` runs instead, and the tests
check both against the same reference.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import warnings
from pathlib import Path

_CSRC = Path(__file__).resolve().parent / "csrc"
_SOURCES = [
    _CSRC / name
    for name in (
        "lif_loops.cpp",
        "rate_code.cpp",
        "first_spike.cpp",
        "adam.cpp",
        "if_step.cpp",
        "pair_pool.cpp",
    )
]
_NAME = "spikesparse_lif_loops"
_PORTABLE_CFLAGS = ["-O3", "-fopenmp"]  # at::parallel_for needs OpenMP
# Built for the CPU it runs on (AVX2 where there is one): the elementwise loops vectorize about
# twice as wide (a feed-forward step 2x, a recurrent one 1.25x faster). -ffp-contract=off forbids
# fusing a * b + c into one FMA, which would round differently, so every number stays identical
# to the portable build and to the pure-PyTorch kernels.
_NATIVE_CFLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fopenmp"]
_LDFLAGS = ["-fopenmp"]
_state: dict = {"tried": False, "module": None}


def _cpu_signature() -> str:
    """The CPU a native build is for, so a home folder shared by different machines (a cluster)
    keeps one build per CPU instead of loading another CPU's instructions."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    wanted = [line for line in lines if line.startswith(("model name", "flags", "Features"))]
    return "\n".join(dict.fromkeys(wanted))


def _build_dir(cflags: list[str]) -> Path:
    """One folder per (source, torch version, flags, and for a native build the CPU): a built
    library is reused as it is, never rebuilt behind another process's back."""
    import torch

    salt = _cpu_signature() if "-march=native" in cflags else ""
    key = hashlib.sha256(
        b"".join(source.read_bytes() for source in _SOURCES)
        + torch.__version__.encode()
        + " ".join(cflags + _LDFLAGS).encode()
        + salt.encode()
    ).hexdigest()[:16]
    base = Path(os.environ.get("TORCH_EXTENSIONS_DIR", Path.home() / ".cache" / "torch_extensions"))
    return base / f"{_NAME}_{key}"


# In a build folder: why its build failed (one line), so the next process does not try again and
# print the compiler's output once more; the full output is kept beside it.
FAILED_FILE = "build-failed.txt"
FAILED_LOG = "build-error.log"


def _load_or_build(cflags: list[str], retry: bool = False):
    """The built module of these flags, built first if needed. ``retry``: try a build that
    failed before (``spikesparse build-ext`` does)."""
    build_dir = _build_dir(cflags)
    built = build_dir / f"{_NAME}.so"
    torch_lock = build_dir / "lock"  # torch's, held by a build in progress (below, under ours)
    if built.exists() and not torch_lock.exists():
        return _load_built(built)
    failed = build_dir / FAILED_FILE
    if failed.exists() and not retry:
        raise RuntimeError(
            f"{failed.read_text().strip()} (an earlier build; {build_dir / FAILED_LOG} has the "
            f"compiler's output; `python -m spikesparse build-ext` tries again)"
        )
    from torch.utils.cpp_extension import load

    build_dir.mkdir(parents=True, exist_ok=True)
    with _only_builder(build_dir):
        if built.exists() and not torch_lock.exists():  # built while this process waited
            return _load_built(built)
        if torch_lock.exists():
            # Every build of ours holds the lock taken above, so this file outlived a build that
            # was killed (torch's load() would wait for it forever).
            warnings.warn(
                f"removing {torch_lock}, left by a build that was stopped", RuntimeWarning, stacklevel=2
            )
            torch_lock.unlink(missing_ok=True)
        failed.unlink(missing_ok=True)
        try:
            with _torch_build_log_quiet():
                return load(
                    name=_NAME,
                    sources=[str(source) for source in _SOURCES],
                    extra_cflags=list(cflags),  # copies: load() appends to the lists it is given
                    extra_ldflags=list(_LDFLAGS),
                    build_directory=str(build_dir),
                    verbose=False,
                )
        except Exception as err:
            (build_dir / FAILED_LOG).write_text(f"{type(err).__name__}: {err}\n")
            failed.write_text(f"the build failed: {_cause(err)}\n")
            raise RuntimeError(
                f"the build failed: {_cause(err)} (output in {build_dir / FAILED_LOG})"
            ) from None


@contextlib.contextmanager
def _only_builder(build_dir: Path):
    """One builder per build folder across processes: an exclusive ``flock`` on a file beside it,
    which the system releases when its process dies however it dies (torch's own lock file is
    not released by a killed build). Others wait here, then find the library built."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): torch's lock file alone
        yield
        return
    with open(build_dir.parent / f"{build_dir.name}.build-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _torch_build_log_quiet():
    """torch's extension builder logs a multi-line banner per check (e.g. an unknown compiler);
    our one-line warning says what matters."""
    import logging

    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logger.setLevel(level)


def _cause(err: Exception) -> str:
    """The line of a build error that says why (the compiler's complaint, not ninja's command)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if any(word in line for word in ("error:", "not found", "No such file", "unrecognized")):
            return line[:300]
    return (lines[0] if lines else type(err).__name__)[:300]


def _load_built(path: Path):
    spec = importlib.util.spec_from_file_location(_NAME, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kernel(name: str):
    """The compiled function ``name`` (e.g. ``rate_spikes``), or None when the extension is
    disabled or unavailable. Every source in ``_SOURCES`` is built into the one module (its build
    folder is keyed by all of them), so a loaded module has every function."""
    module = extension()
    return None if module is None else getattr(module, name)


def extension(retry: bool = False):
    """The compiled module, or None when disabled or unavailable (warned once). ``retry``: build
    again where an earlier build failed (``spikesparse build-ext``); otherwise a failed build is
    remembered in its folder and not tried by every process."""
    if os.environ.get("SPIKESPARSE_NO_EXT", "") == "1":
        return None
    if not _state["tried"] or (retry and _state["module"] is None):
        _state["tried"] = True
        try:
            import torch  # noqa: F401  (the library links against torch's)

            try:
                _state["module"] = _load_or_build(_NATIVE_CFLAGS, retry)
            except Exception:  # a compiler without -march=native: the portable build
                _state["module"] = _load_or_build(_PORTABLE_CFLAGS, retry)
        except Exception as err:  # any build failure means: use the pure-PyTorch path
            warnings.warn(
                f"compiled LIF loops unavailable ({type(err).__name__}: {err}); "
                "using the pure-PyTorch kernels",
                RuntimeWarning,
                stacklevel=2,
            )
    return _state["module"]
