"""Input checks shared by the library's public functions (``api``, ``conversion``, the models and
the neuron parameters): one message per kind of bad input, naming the argument, so a user sees
the cause instead of a NaN result or an error from deep inside torch."""

from __future__ import annotations

import math
import numbers

import torch


def real_number(name: str, value: object, tensors: bool = False) -> float:
    """``value`` as a finite float: a Python or NumPy real (not a bool), or with ``tensors`` a
    one-element tensor (a scheduled loss weight). A string, a bool, NaN or an infinity is named
    here rather than failing, or passing, inside a comparison whose message names nothing."""
    if tensors and isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def whole_number(name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum``: an int, a NumPy integer or a float without a fraction
    (2.0 from a computed size); 1.5 steps or neurons has no meaning."""
    whole = isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer()
    if not whole or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


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
