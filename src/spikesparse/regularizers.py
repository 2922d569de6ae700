"""Sparsity regularizers: small loss terms with one interface.

Each regularizer is built from its config block and called as
``penalty, parts = reg(hidden_spikes, epoch)`` where ``hidden_spikes`` is a list of ``[T, B, N]``
tensors (one per hidden spiking layer). ``penalty`` is a scalar tensor added to the task loss;
``parts`` holds named floats for the training log. The training loop knows nothing about any
particular regularizer: it looks them up by name in ``REGULARIZERS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch


def check_hidden_spikes(hidden_spikes: Sequence[torch.Tensor]) -> None:
    """Regularizers take a non-empty list of ``[T, B, N]`` spike tensors; say so when not."""
    if isinstance(hidden_spikes, torch.Tensor) or len(hidden_spikes) == 0:
        raise ValueError("hidden_spikes must be a non-empty list of [T, B, N] tensors")
    for i, s in enumerate(hidden_spikes):
        if not isinstance(s, torch.Tensor) or s.dim() != 3:
            shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
            raise ValueError(f"hidden_spikes[{i}] must have shape [T, B, N], got {shape}")


def neuron_rates(spikes: torch.Tensor) -> torch.Tensor:
    """Per-neuron firing probability per step, averaged over batch and time: ``[T, B, N]`` -> ``[N]``."""
    return spikes.mean(dim=(0, 1))


class Regularizer:
    """Base class: subclasses set ``name``, ``params`` (config keys they accept) and ``uses_lambda``."""

    name: ClassVar[str]
    params: ClassVar[tuple[str, ...]] = ()
    uses_lambda: ClassVar[bool] = True

    def __init__(self, lam: float = 0.0) -> None:
        if not lam >= 0:
            raise ValueError(f"{self.name}: lambda must be >= 0, got {lam}")
        self.lam = float(lam)

    def __call__(
        self, hidden_spikes: Sequence[torch.Tensor], epoch: int = 0
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError


class NoRegularizer(Regularizer):
    """The unregularized baseline: zero penalty."""

    name = "none"
    uses_lambda = False

    def __call__(self, hidden_spikes, epoch=0):
        check_hidden_spikes(hidden_spikes)
        zero = hidden_spikes[0].new_zeros(())
        return zero, {"penalty": 0.0}


class HomeostaticL2(Regularizer):
    """Homeostatic L2 toward a target rate r* (seed 000).

    ``scope="neuron"``: ``lam * mean_{l,i} (r_{l,i} - r*)^2`` over every hidden neuron, so both
    excess firing and silence are penalized. ``scope="layer"``: ``lam * sum_l (mean_i r_{l,i} -
    r*)^2``, the population form, which lets individual neurons stray. Rates are per step, in
    [0, 1], computed on the current batch.
    """

    name = "homeostatic_l2"
    params = ("target_rate", "scope")

    def __init__(self, lam: float, target_rate: float = 0.05, scope: str = "neuron") -> None:
        super().__init__(lam)
        if not 0.0 < target_rate < 1.0:
            raise ValueError(f"homeostatic_l2: target_rate must lie in (0, 1), got {target_rate}")
        if scope not in ("neuron", "layer"):
            raise ValueError(f"homeostatic_l2: scope must be 'neuron' or 'layer', got {scope!r}")
        self.target_rate = float(target_rate)
        self.scope = scope

    def __call__(self, hidden_spikes, epoch=0):
        check_hidden_spikes(hidden_spikes)
        rates = [neuron_rates(s) for s in hidden_spikes]
        if self.scope == "neuron":
            deviation = torch.cat(rates) - self.target_rate
            raw = deviation.pow(2).mean()
        else:
            raw = sum((r.mean() - self.target_rate) ** 2 for r in rates)
        penalty = self.lam * raw
        return penalty, {
            "penalty": float(penalty.detach()),
            "rate_deviation_sq": float(raw.detach()),
        }


REGULARIZERS: dict[str, type[Regularizer]] = {cls.name: cls for cls in (NoRegularizer, HomeostaticL2)}


def build_regularizer(spec: dict) -> Regularizer:
    """Regularizer from a run spec's ``regularizer`` block: ``{"name": ..., "lam": ..., params}``."""
    spec = dict(spec)
    name = spec.pop("name")
    if name not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {name!r}; known: {sorted(REGULARIZERS)}")
    cls = REGULARIZERS[name]
    lam = spec.pop("lam", 0.0)
    unknown = set(spec) - set(cls.params)
    if unknown:
        raise ValueError(f"regularizer {name!r} does not take {sorted(unknown)}")
    return cls(lam, **spec) if cls.uses_lambda else cls(0.0)
