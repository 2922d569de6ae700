"""Input checks shared by the library's public functions (``api``, ``conversion``): one message
per kind of bad input, naming the argument, so a user sees the cause instead of a NaN result or
an error from deep inside torch."""

from __future__ import annotations

import torch


def check_values(name: str, x: torch.Tensor) -> None:
    """ValueError for a complex tensor or one holding NaN or an infinity: a penalty or a count
    over them would be NaN or silently wrong (a NaN compares false with everything)."""
    if x.is_complex():
        raise ValueError(f"{name} must be real (spikes, rates or currents), got dtype {x.dtype}")
    if x.is_floating_point() and not bool(torch.isfinite(x.detach()).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


def check_sizes(name: str, shape: torch.Size, time_dim: int = 0) -> None:
    """ValueError naming the empty dimension: T = 0 steps, B = 0 samples or no neurons."""
    if shape[time_dim] == 0:
        raise ValueError(f"{name} has no time steps (T = 0), shape {tuple(shape)}")
    batch_dim = 1 if time_dim in (0, -len(shape)) else 0
    if shape[batch_dim] == 0:
        raise ValueError(f"{name} has no samples (B = 0), shape {tuple(shape)}")
    if 0 in shape:
        raise ValueError(f"{name} has no neurons, shape {tuple(shape)}")


def check_batch(name: str, x: object) -> None:
    """ValueError unless ``x`` is a non-empty batch ``[B, *in_shape]`` of finite real values."""
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or 0 in x.shape:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a non-empty batch [B, *in_shape], got {got}")
    check_values(name, x)
