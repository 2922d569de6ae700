"""Parameter types of the neuron package and the input check shared by every entry point.

Why here: the kernels, the step functions, the models and the conversion simulator all read the
same parameter objects, so a constraint is validated once, where it is declared.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch

# "zero": snnTorch Leaky's zero reset (the decayed membrane is reset, the step's input and
# recurrence still enter; NIR's LIF + recurrent edge); "zero_rleaky": snnTorch RLeaky's (the
# whole step after a spike starts from zero, its input and recurrence included).
RESETS = ("subtract", "zero", "zero_rleaky")


@dataclass(frozen=True)
class LIFParams:
    """Parameters of a LIF population, constraints included (all fixed, none learnable)."""

    beta: float = 0.9
    threshold: float = 1.0
    reset: str = "subtract"
    detach_reset: bool = True
    slope: float = 25.0
    refractory: int = 0
    spike_budget: int | None = None
    adapt_kappa: float = 0.0
    adapt_rho: float = 0.9

    def __post_init__(self) -> None:
        for name in ("beta", "threshold", "slope", "adapt_kappa", "adapt_rho"):
            _check_real(name, getattr(self, name))
        for name in ("refractory", "spike_budget"):
            value = getattr(self, name)
            _check_whole(name, value, allow_none=name == "spike_budget")
            if value is not None:  # 2.0 or a NumPy integer as a plain int: the compiled loops take one
                object.__setattr__(self, name, int(value))
        if not isinstance(self.detach_reset, bool):
            raise TypeError(f"detach_reset must be True or False, got {self.detach_reset!r}")
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")
        if not 0.0 <= self.beta <= 1.0 or math.isnan(self.beta):
            raise ValueError(f"beta must lie in [0, 1], got {self.beta}")
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")
        if not self.slope > 0:
            raise ValueError(f"slope must be > 0, got {self.slope}")
        if self.refractory < 0:
            raise ValueError(f"refractory must be >= 0 steps, got {self.refractory}")
        if self.spike_budget is not None and self.spike_budget < 1:
            raise ValueError(f"spike_budget must be >= 1 or None, got {self.spike_budget}")
        if self.adapt_kappa < 0:
            raise ValueError(f"adapt_kappa must be >= 0, got {self.adapt_kappa}")
        if not 0.0 <= self.adapt_rho <= 1.0:
            raise ValueError(f"adapt_rho must lie in [0, 1], got {self.adapt_rho}")

    @property
    def adaptive(self) -> bool:
        return self.adapt_kappa > 0

    @property
    def gated(self) -> bool:
        return self.refractory > 0 or self.spike_budget is not None

    def to_dict(self) -> dict:
        return asdict(self)


def _check_real(name: str, value: object) -> None:
    """A finite real number (a bool, a string or NaN would otherwise pass or fail later under a
    comparison's message that does not name the parameter)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")


def _check_whole(name: str, value: object, allow_none: bool = False) -> None:
    """A whole number of steps or spikes (1.5 refractory steps has no meaning; 2.0 is 2)."""
    if value is None and allow_none:
        return
    whole = isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer()
    if not whole:
        raise TypeError(f"{name} must be a whole number, got {type(value).__name__} {value!r}")


def check_sequence(x: torch.Tensor, name: str, features: int | None = None) -> None:
    """Reject what would otherwise fail deep inside a kernel, naming the argument."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{name} must have shape [T, B, N], got {tuple(x.shape)}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must have at least one time step, got T={x.shape[0]}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if features is not None and x.shape[-1] != features:
        raise ValueError(f"{name} must have {features} features, got {x.shape[-1]}")
    # One reduction instead of an elementwise mask: NaN or inf anywhere makes the sum non-finite.
    # Large finite values can overflow the sum too, so a non-finite sum is confirmed element by
    # element before the input is rejected. Summed in the input's own dtype: a float64 sum first
    # converted the whole input (a sixth of an E2 step's time) for a case the check handles anyway.
    total = x.sum()
    if not torch.isfinite(total) and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
