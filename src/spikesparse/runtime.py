"""Process set-up for training jobs: reproducibility, threads, device, allocator."""

from __future__ import annotations

import ctypes
import random

import numpy as np
import torch

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


def seed_everything(seed: int, threads: int = 1) -> None:
    """Same seed + same thread count -> bit-identical results on CPU."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    # Deterministic mode also fills every new uninitialized tensor with NaN, a guard against
    # reading memory nobody wrote. Nothing here reads such memory (the same seed gives the same
    # bytes with the fill on or off, tests/test_runtime.py), and the fill cost about 8 % of a
    # training step (a full write of every buffer the kernels then overwrite anyway).
    torch.utils.deterministic.fill_uninitialized_memory = False


def pick_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU. ``cuda`` without a GPU is an error, not a fallback."""
    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA device is available")
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
