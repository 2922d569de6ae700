"""Parameter types of the neuron package and the input check shared by every entry point.

Why here: the kernels, the step functions, the models and the conversion simulator all read the
same parameter objects, so a constraint is validated once, where it is declared.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..checks import real_number, whole_number

# "zero": snnTorch Leaky's zero reset (the decayed membrane is reset, the step's input and
# recurrence still enter; NIR's LIF + recurrent edge); "zero_rleaky": snnTorch RLeaky's (the
# whole step after a spike starts from zero, its input and recurrence included).
_INT32_MAX = 2**31 - 1
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
            real_number(name, getattr(self, name))
        # Stored as int: the compiled loops take them as C++ integers (refractory=2.0 failed there).
        object.__setattr__(self, "refractory", whole_number("refractory", self.refractory, 0))
        if self.spike_budget is not None:
            object.__setattr__(self, "spike_budget", whole_number("spike_budget", self.spike_budget, 1))
        for name in ("refractory", "spike_budget"):
            # the loops count steps and spikes in int32 (a larger value failed in the forward)
            if (getattr(self, name) or 0) > _INT32_MAX:
                raise ValueError(
                    f"{name} must be <= {_INT32_MAX} (counted in int32), got {getattr(self, name)}"
                )
        if not isinstance(self.detach_reset, bool):
            raise TypeError(f"detach_reset must be True or False, got {self.detach_reset!r}")
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must lie in [0, 1], got {self.beta}")
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")
        if not self.slope > 0:
            raise ValueError(f"slope must be > 0, got {self.slope}")
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
