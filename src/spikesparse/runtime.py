"""Process set-up for training jobs: reproducibility, threads, device, allocator."""

from __future__ import annotations

import ctypes
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .errors import ConfigError  # a bad device is a config (or spec) value: one line, not a traceback

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_allocator(threshold_bytes: int = 1 << 30) -> bool:
    """Stop glibc from unmapping large temporaries after every step (page faults otherwise
    dominate a training step on CPU). Same effect as MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, threshold_bytes) == 1
    return ok and libc.mallopt(_M_TRIM_THRESHOLD, threshold_bytes) == 1


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch at ``n`` threads inside the block, the caller's count restored after it (timings
    that must run as the study's one-thread jobs do, or at a benchmark's thread count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int, threads: int = 1) -> None:
    """Same seed + same thread count -> bit-identical results on CPU, and on CUDA, where PyTorch's
    deterministic algorithms are switched on.

    Why not on a CPU-only machine: the flag makes PyTorch refuse or replace kernels without a
    deterministic implementation, and those are CUDA kernels; every CPU kernel used here gives
    the same bits with it on or off (tests/test_training.py). Setting it imports torch's compiler
    configuration (``torch._inductor``, which imports ``torch._dynamo``), about 2 s per process,
    a third of a quick-config job's time."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    if torch.cuda.is_available():
        torch.use_deterministic_algorithms(True)
        # Deterministic mode also fills every new tensor with NaN, a guard against reading
        # memory nobody wrote. Nothing here does (the same bits with the fill on,
        # tests/test_training.py), and the fill cost about 8 % of a CPU training step.
        torch.utils.deterministic.fill_uninitialized_memory = False


def pick_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU. ``cuda`` without a GPU is an error, not a fallback."""
    if preference not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device 'cuda' (the config's or spec's device) but this machine has no CUDA device; "
            "use auto or cpu here, or run on a GPU node"
        )
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
