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


def neuron_rates(spikes: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Per-neuron firing probability per step, averaged over batch and time: ``[T, B, N]`` -> ``[N]``.
    ``counts``: the same spikes' per-sample counts ``[B, N]`` when already made (``spike_counts``),
    which give the same bits with one pass less."""
    if counts is None:
        return spikes.mean(dim=(0, 1))
    return counts.sum(dim=0) / (spikes.shape[0] * spikes.shape[1])


def spike_counts(hidden_spikes: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Each layer's per-sample spike counts ``[B, N]`` (the sum over time): the ones the model's
    layers returned with the spikes (``models.HiddenSpikes``), else summed here.

    Spikes are 0 or 1, so the counts are exact integers and every sum over them equals, bit for
    bit, the same sum over the spikes (and so do their gradients)."""
    return [s.sum(dim=0) if c is None else c for s, c in _with_counts(hidden_spikes)]


def _with_counts(hidden_spikes: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """(spikes, counts) per layer: the counts the model's layers returned (``models.HiddenSpikes``),
    else None, and the penalties compute from the spikes exactly as before, whatever values they
    hold (the library functions of ``spikesparse.api`` accept any spike-like tensor)."""
    counts = getattr(hidden_spikes, "counts", None)
    return list(
        zip(hidden_spikes, counts if counts is not None else [None] * len(hidden_spikes), strict=True)
    )


# The unweighted terms, one definition each: the classes below multiply them by their (scheduled)
# weight, and ``spikesparse.api`` exposes them on spikes of any layout.


def homeostatic_deviation(
    hidden_spikes: Sequence[torch.Tensor], target_rate: float, scope: str = "neuron"
) -> torch.Tensor:
    """Squared deviation of the rates from ``target_rate``: ``mean_{l,i} (r_{l,i} - r*)^2``
    (``scope="neuron"``) or ``sum_l (mean_i r_{l,i} - r*)^2`` (``scope="layer"``)."""
    rates = [neuron_rates(s, c) for s, c in _with_counts(hidden_spikes)]
    if scope == "neuron":
        return (torch.cat(rates) - target_rate).pow(2).mean()
    return sum((r.mean() - target_rate) ** 2 for r in rates)


def mean_spike_rate(hidden_spikes: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean firing probability of all hidden neurons: ``sum s / (B * sum_l N_l * T)``."""
    total = sum(s.sum() if c is None else c.sum() for s, c in _with_counts(hidden_spikes))
    T, B = hidden_spikes[0].shape[:2]
    return total / (B * sum(s.shape[2] for s in hidden_spikes) * T)


def mean_excess_spikes(hidden_spikes: Sequence[torch.Tensor]) -> torch.Tensor:
    """Spikes after each neuron's first in a sample (see ``excess_spikes``), averaged over samples
    and the neurons of all layers."""
    return torch.cat([excess_spikes(s) for s in hidden_spikes], dim=1).mean()


class Regularizer:
    """Base class: subclasses set ``name``, ``param_schema`` (the config keys they accept, each
    with a JSON-schema fragment: type, range, allowed values; see ``spikesparse.study.components``) and
    ``uses_lambda``. ``params``, the tuple of accepted keys, follows from ``param_schema``; a
    plugin may set only ``params`` (any value accepted for those keys)."""

    name: ClassVar[str]
    params: ClassVar[tuple[str, ...]] = ()
    param_schema: ClassVar[dict[str, dict]] = {}
    uses_lambda: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "param_schema" in cls.__dict__ and "params" not in cls.__dict__:
            cls.params = tuple(cls.param_schema)

    def __init__(self, lam: float = 0.0) -> None:
        if not lam >= 0:
            raise ValueError(f"{self.name}: lambda must be >= 0, got {lam}")
        self.lam = float(lam)

    def __call__(
        self, hidden_spikes: Sequence[torch.Tensor], epoch: int = 0
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def weight(self, epoch: int) -> float:
        """Penalty weight applied during ``epoch`` (0-based); logged per epoch in the history."""
        return self.lam

    def end_epoch(self, row: dict) -> None:
        """Called with each epoch's history row; regularizers with a schedule update it here."""

    @classmethod
    def schedule_problem(cls, params: dict, epochs: int) -> tuple[str, str] | None:
        """What in ``params`` (the config's keys for this regularizer) an experiment of ``epochs``
        epochs never reaches, as (key, why), or None. Config validation asks before any run, so
        a schedule that would leave the penalty off for the whole training is refused there; a
        regularizer with a schedule overrides this."""
        return None


# Epochs over which a schedule ramps the weight in (spike_count, first_spike).
RAMP_EPOCHS = {"type": "integer", "minimum": 1}


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
    param_schema = {
        "target_rate": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "scope": {"type": "string", "enum": ["neuron", "layer"]},
    }

    DEFAULT_TARGET_RATE: ClassVar[float] = 0.05  # seed 000's 5 %

    def __init__(self, lam: float, target_rate: float = DEFAULT_TARGET_RATE, scope: str = "neuron") -> None:
        super().__init__(lam)
        if not 0.0 < target_rate < 1.0:
            raise ValueError(f"homeostatic_l2: target_rate must lie in (0, 1), got {target_rate}")
        if scope not in ("neuron", "layer"):
            raise ValueError(f"homeostatic_l2: scope must be 'neuron' or 'layer', got {scope!r}")
        self.target_rate = float(target_rate)
        self.scope = scope

    def __call__(self, hidden_spikes, epoch=0):
        check_hidden_spikes(hidden_spikes)
        raw = homeostatic_deviation(hidden_spikes, self.target_rate, self.scope)
        penalty = self.lam * raw
        return penalty, {
            "penalty": float(penalty.detach()),
            "rate_deviation_sq": float(raw.detach()),
        }


class SpikeCount(Regularizer):
    """Explicit spike-count term (seed 002): ``lam(e) * S`` with S the mean firing probability
    of all hidden neurons, ``sum s / (B * sum_l N_l * T)``, so lambda does not depend on the
    network's size.

    ``schedule="ramp"`` anneals the weight in: ``lam(e) = lam * min(1, (e + 1) / ramp_epochs)``
    for 0-based epoch e (the first epoch already gets ``lam / ramp_epochs``);
    ``schedule="constant"`` is the ablation with the full weight from the start.
    """

    name = "spike_count"
    param_schema = {
        "schedule": {"type": "string", "enum": ["ramp", "constant"]},
        "ramp_epochs": RAMP_EPOCHS,
    }

    def __init__(self, lam: float, schedule: str = "ramp", ramp_epochs: int = 10) -> None:
        super().__init__(lam)
        if schedule not in ("ramp", "constant"):
            raise ValueError(f"spike_count: schedule must be 'ramp' or 'constant', got {schedule!r}")
        if ramp_epochs < 1:
            raise ValueError(f"spike_count: ramp_epochs must be >= 1, got {ramp_epochs}")
        self.schedule = schedule
        self.ramp_epochs = int(ramp_epochs)

    def weight(self, epoch: int) -> float:
        if self.schedule == "constant":
            return self.lam
        return self.lam * min(1.0, (epoch + 1) / self.ramp_epochs)

    def __call__(self, hidden_spikes, epoch=0):
        check_hidden_spikes(hidden_spikes)
        mean_rate = mean_spike_rate(hidden_spikes)
        penalty = self.weight(epoch) * mean_rate
        total = sum(float(c.detach().sum()) for c in spike_counts(hidden_spikes))
        return penalty, {
            "penalty": float(penalty.detach()),
            "spike_rate": float(mean_rate.detach()),
            "spikes_per_sample": total / hidden_spikes[0].shape[1],
        }


def excess_spikes(spikes: torch.Tensor) -> torch.Tensor:
    """Spikes after each neuron's first in a sample: ``sum_t s[t] * 1[sum_{tau<t} s[tau] >= 1]``.

    The indicator is a stop-gradient mask, so the gradient flows only through the spikes that
    come after the first; ``[T, B, N]`` -> ``[B, N]``.
    """
    return (spikes * _after_first_mask(spikes.detach())).sum(dim=0)


def _after_first_mask(spikes: torch.Tensor) -> torch.Tensor:
    """``1[sum_{tau<t} s[tau] >= 1]`` as a float mask ``[T, B, N]``, by a running sum over steps.

    Why not ``cumsum``: a scan along the leading (time) dimension and the bool mask it fed cost 2-8x
    this loop of two in-place ops per step (first-spike jobs spent a tenth of their time there);
    the running sum adds the same binary spikes in the same order, so the mask is identical.
    On the CPU the compiled loop (``csrc/first_spike.cpp``) makes the same additions in one pass;
    this loop is its definition and the fallback."""
    if spikes.device.type == "cpu" and spikes.dtype == torch.float32:
        from ._ext import kernel

        compiled = kernel("after_first_mask")
        if compiled is not None:
            return compiled(spikes)
    mask = torch.empty_like(spikes)
    steps, masks = spikes.unbind(0), mask.unbind(0)
    masks[0].zero_()  # nothing comes before the first step
    seen = steps[0].clone()  # spikes strictly before step t, for t = 1
    for t in range(1, len(steps)):
        torch.ge(seen, 1.0, out=masks[t])
        seen.add_(steps[t])
    return mask


class FirstSpike(Regularizer):
    """First-spike penalty (seed 001): ``lam * mean_{b,i} excess_spikes``; the first spike of a
    neuron in a sample is free, so the penalty does not push toward silence.

    ``two_phase``: phase 1 trains without the penalty (optionally with a wake-up term
    ``wake_up * mean max(0, 1 - n_{b,i})`` that pulls neurons with no spike in a sample back up),
    phase 2 switches the penalty on. The switch is ``switch="epoch"`` (at ``switch_epoch``,
    0-based) or ``switch="plateau"``: validation accuracy has not improved for ``patience``
    epochs and the training epoch's silent fraction (its history row's) is below
    ``silent_epsilon``. Single-phase (``two_phase: false``) applies the penalty from the first
    epoch.

    ``after_switch="at_once"`` applies the full ``lam`` from the switch on; ``"ramp"`` raises it
    linearly, ``lam * min(1, (e - e_switch + 1) / ramp_epochs)`` for 0-based epoch e, because a
    full penalty landing on a net the wake-up term made dense is what switched layers off in our
    first study. For single-phase the ramp starts at epoch 0.
    """

    name = "first_spike"
    param_schema = {
        "two_phase": {"type": "boolean"},
        "switch": {"type": "string", "enum": ["epoch", "plateau"]},
        "switch_epoch": {"type": "integer", "minimum": 0},
        "patience": {"type": "integer", "minimum": 1},
        "silent_epsilon": {"type": "number", "minimum": 0, "maximum": 1},
        "wake_up": {"type": "number", "minimum": 0},
        "after_switch": {"type": "string", "enum": ["at_once", "ramp"]},
        "ramp_epochs": RAMP_EPOCHS,
    }

    def __init__(
        self,
        lam: float,
        two_phase: bool = True,
        switch: str = "epoch",
        switch_epoch: int = 5,
        patience: int = 2,
        silent_epsilon: float = 0.05,
        wake_up: float = 0.0,
        after_switch: str = "at_once",
        ramp_epochs: int = 5,
    ) -> None:
        super().__init__(lam)
        if switch not in ("epoch", "plateau"):
            raise ValueError(f"first_spike: switch must be 'epoch' or 'plateau', got {switch!r}")
        if after_switch not in ("at_once", "ramp"):
            raise ValueError(f"first_spike: after_switch must be 'at_once' or 'ramp', got {after_switch!r}")
        if ramp_epochs < 1:
            raise ValueError(f"first_spike: ramp_epochs must be >= 1, got {ramp_epochs}")
        if switch_epoch < 0 or patience < 1:
            raise ValueError("first_spike: switch_epoch must be >= 0 and patience >= 1")
        if not 0.0 <= silent_epsilon <= 1.0 or not wake_up >= 0:
            raise ValueError("first_spike: silent_epsilon must lie in [0, 1] and wake_up be >= 0")
        self.two_phase = bool(two_phase)
        self.switch = switch
        self.switch_epoch = int(switch_epoch)
        self.patience = int(patience)
        self.silent_epsilon = float(silent_epsilon)
        self.wake_up = float(wake_up)
        self.after_switch = after_switch
        self.ramp_epochs = int(ramp_epochs)
        self.switched_at: int | None = None if self.two_phase else 0
        self._best = -float("inf")
        self._stale = 0

    @classmethod
    def schedule_problem(cls, params: dict, epochs: int) -> tuple[str, str] | None:
        """A two-phase switch at an epoch the experiment never reaches (phase 2, the penalty,
        starts at 0-based ``switch_epoch``): its runs would train without the penalty. The
        default switch_epoch (5) did so in a 3-epoch experiment."""
        reg = cls(lam=0.0, **params)  # the defaults, as the runs will have them
        if reg.two_phase and reg.switch == "epoch" and reg.switch_epoch >= epochs:
            default = "" if "switch_epoch" in params else " (the default)"
            return "switch_epoch", (
                f"{reg.switch_epoch}{default} must be < the experiment's training.epochs={epochs}: "
                f"phase 2 (the penalty) starts at 0-based epoch {reg.switch_epoch}, so the runs "
                "would train without it"
            )
        return None

    def switch_at(self) -> int | None:
        """First 0-based epoch of phase 2 (0 for single-phase; None while a plateau is awaited)."""
        if not self.two_phase:
            return 0
        return self.switch_epoch if self.switch == "epoch" else self.switched_at

    def penalty_on(self, epoch: int) -> bool:
        start = self.switch_at()
        return start is not None and epoch >= start

    def weight(self, epoch: int) -> float:
        if not self.penalty_on(epoch):
            return 0.0
        if self.after_switch == "at_once":
            return self.lam
        return self.lam * min(1.0, (epoch - self.switch_at() + 1) / self.ramp_epochs)

    def end_epoch(self, row: dict) -> None:
        """Plateau criterion: decide after each epoch whether the next one is phase 2."""
        if self.switch != "plateau" or self.switched_at is not None:
            return
        acc = row.get("val_accuracy", float("nan"))
        if acc > self._best:
            self._best, self._stale = acc, 0
        else:
            self._stale += 1
        if self._stale >= self.patience and row["silent_fraction"] < self.silent_epsilon:
            self.switched_at = row["epoch"]  # 1-based epoch just finished = next 0-based epoch

    def __call__(self, hidden_spikes, epoch=0):
        check_hidden_spikes(hidden_spikes)
        raw = mean_excess_spikes(hidden_spikes)
        on = self.penalty_on(epoch)
        penalty = self.weight(epoch) * raw if on else raw * 0.0
        parts = {"excess_per_neuron": float(raw.detach()), "phase": 2.0 if on else 1.0}
        if self.two_phase and not on and self.wake_up > 0:
            counts = torch.cat([s.sum(dim=0) for s in hidden_spikes], dim=1)
            wake = torch.clamp(1.0 - counts, min=0.0).mean()
            penalty = penalty + self.wake_up * wake
            parts["wake_up"] = float(wake.detach())
        parts["penalty"] = float(penalty.detach())
        return penalty, parts


REGULARIZERS: dict[str, type[Regularizer]] = {
    cls.name: cls for cls in (NoRegularizer, HomeostaticL2, SpikeCount, FirstSpike)
}
