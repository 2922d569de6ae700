"""One step function per neuron kind, each with its parameter and state type (the Norse pattern).

Why: a step function states a neuron's dynamics in a few lines that a reader can check against
the equations, and lets code that needs one step at a time (the conversion simulator, a user's
own loop) use the same neuron as the study. The multi-step kernels in ``kernel`` are the fast
path for whole sequences and are tested to agree with these steps.

Every ``*_step(input, state, params) -> (spikes, new_state)`` takes the input of one step
``[B, N]`` and never modifies ``state`` in place. ``run_steps`` is the time loop over any of them.
The LIF family follows the conventions of ``spikesparse.neurons`` (snnTorch's): the reset of a
spike acts at the next step, the threshold is strict, ``state.mem`` is the membrane after the
step's integration. The constraint kinds (refractory, budget, ALIF) take one constraint each;
their combinations, and the speed, are the multi-step kernels' job.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from .params import LIFParams


@dataclass(frozen=True)
class IFParams:
    """Integrate-and-fire neuron of the ANN -> SNN conversion: no leak, reset by subtraction,
    fires when the membrane reaches the threshold (inclusive, unlike the LIF's strict ``>``: a
    normalized activation of exactly 1 must give a spike every step)."""

    threshold: float = 1.0

    def __post_init__(self) -> None:
        if not self.threshold > 0 or math.isinf(self.threshold):
            raise ValueError(f"threshold must be finite and > 0, got {self.threshold}")


DEFAULT_IF = IFParams()


class IFState(NamedTuple):
    v: torch.Tensor  # membrane [B, N]


def if_state(batch: int, n: int, like: torch.Tensor) -> IFState:
    """Resting state: membrane 0."""
    return IFState(like.new_zeros(batch, n))


def if_step(current: torch.Tensor, state: IFState, p: IFParams = DEFAULT_IF) -> tuple[torch.Tensor, IFState]:
    """``v += I``; spike where ``v >= threshold``; the spike subtracts the threshold at once, so
    the residue carries over (rate = activation / threshold on average).

    Float32 CPU tensors of one shape without a gradient take the compiled step
    (``csrc/if_step.cpp``, one pass instead of five operations, the same numbers)."""
    compiled = _compiled_if_step(current, state.v)
    if compiled is not None:
        spikes, v = compiled(current, state.v, p.threshold)
        return spikes, IFState(v)
    v = state.v + current
    spikes = (v >= p.threshold).to(v.dtype)
    return spikes, IFState(v - spikes * p.threshold)


def _compiled_if_step(current: torch.Tensor, v: torch.Tensor):
    """The compiled IF step when it covers these tensors, else None for the PyTorch operations."""
    tensors = (current, v)
    if current.shape != v.shape or torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return None
    if any(t.dtype != torch.float32 or t.device.type != "cpu" or not t.is_contiguous() for t in tensors):
        return None
    from .._ext import kernel

    return kernel("if_step")


# ---- LIF family --------------------------------------------------------------------------------


class LIFState(NamedTuple):
    mem: torch.Tensor  # membrane after the last step's integration [B, N]
    spikes: torch.Tensor  # the last step's spikes: their reset acts at the next step


class RefractoryState(NamedTuple):
    mem: torch.Tensor
    spikes: torch.Tensor
    blocked: torch.Tensor  # steps the neuron may not fire any more (int32)


class BudgetState(NamedTuple):
    mem: torch.Tensor
    spikes: torch.Tensor
    count: torch.Tensor  # spikes fired so far in this sample (int32)


class ALIFState(NamedTuple):
    mem: torch.Tensor
    spikes: torch.Tensor
    adapt: torch.Tensor  # threshold adaptation a[t]
    theta: torch.Tensor  # threshold used at the last step (its reset subtracts it)


def lif_state(batch: int, n: int, like: torch.Tensor) -> LIFState:
    """Resting state: membrane 0, no spike."""
    return LIFState(like.new_zeros(batch, n), like.new_zeros(batch, n))


def refractory_state(batch: int, n: int, like: torch.Tensor) -> RefractoryState:
    z = torch.zeros(batch, n, dtype=torch.int32, device=like.device)
    return RefractoryState(*lif_state(batch, n, like), z)


def budget_state(batch: int, n: int, like: torch.Tensor) -> BudgetState:
    z = torch.zeros(batch, n, dtype=torch.int32, device=like.device)
    return BudgetState(*lif_state(batch, n, like), z)


def alif_state(batch: int, n: int, like: torch.Tensor, p: LIFParams) -> ALIFState:
    mem, spikes = lif_state(batch, n, like)
    return ALIFState(mem, spikes, like.new_zeros(batch, n), like.new_full((batch, n), p.threshold))


def _integrate(current, mem, spikes, theta_prev, p: LIFParams, rec=None) -> torch.Tensor:
    """The membrane update with the previous step's reset: subtract ``theta * s``, or zero reset
    in snnTorch Leaky's form (``zero``) or RLeaky's (``zero_rleaky``); ``rec`` the recurrence."""
    if p.reset == "subtract":
        mem = torch.add(current, mem, alpha=p.beta)
        if rec is not None:
            mem = mem + rec
        return mem - spikes * theta_prev
    if p.reset == "zero_rleaky":
        pre = torch.add(current, mem, alpha=p.beta)
        return (1.0 - spikes) * (pre if rec is None else pre + rec)
    mem = torch.addcmul(current, mem, (1.0 - spikes) * p.beta)
    return mem if rec is None else mem + rec


def _plain(p: LIFParams, kind: str) -> None:
    if p.gated or p.adaptive:
        raise ValueError(f"{kind} takes no refractory period, spike budget or adaptation: {p}")


def lif_step(current: torch.Tensor, state: LIFState, p: LIFParams) -> tuple[torch.Tensor, LIFState]:
    """Leaky integrate-and-fire: ``mem = beta mem + I - theta s_prev``; spike where ``mem > theta``."""
    _plain(p, "lif_step")
    mem = _integrate(current, state.mem, state.spikes, p.threshold, p)
    spikes = (mem > p.threshold).to(mem.dtype)
    return spikes, LIFState(mem, spikes)


def rlif_step(
    current: torch.Tensor, state: LIFState, w_rec: torch.Tensor, p: LIFParams
) -> tuple[torch.Tensor, LIFState]:
    """Recurrent LIF: the input gets ``s_prev @ W_rec.T`` (row = target neuron)."""
    _plain(p, "rlif_step")
    mem = _integrate(current, state.mem, state.spikes, p.threshold, p, state.spikes @ w_rec.t())
    spikes = (mem > p.threshold).to(mem.dtype)
    return spikes, LIFState(mem, spikes)


def refractory_step(
    current: torch.Tensor, state: RefractoryState, p: LIFParams
) -> tuple[torch.Tensor, RefractoryState]:
    """LIF that may not fire in the ``p.refractory`` steps after a spike (it keeps integrating)."""
    if p.refractory < 1 or p.spike_budget is not None or p.adaptive:
        raise ValueError(f"refractory_step needs refractory >= 1 and no other constraint: {p}")
    mem = _integrate(current, state.mem, state.spikes, p.threshold, p)
    fire = (mem > p.threshold) & (state.blocked == 0)
    blocked = torch.where(fire, p.refractory, (state.blocked - 1).clamp(min=0)).to(torch.int32)
    spikes = fire.to(mem.dtype)
    return spikes, RefractoryState(mem, spikes, blocked)


def budget_step(current: torch.Tensor, state: BudgetState, p: LIFParams) -> tuple[torch.Tensor, BudgetState]:
    """LIF that may not fire after its ``p.spike_budget``-th spike of the sample."""
    if p.spike_budget is None or p.refractory or p.adaptive:
        raise ValueError(f"budget_step needs a spike_budget and no other constraint: {p}")
    mem = _integrate(current, state.mem, state.spikes, p.threshold, p)
    fire = (mem > p.threshold) & (state.count < p.spike_budget)
    spikes = fire.to(mem.dtype)
    return spikes, BudgetState(mem, spikes, state.count + fire.to(torch.int32))


def alif_step(current: torch.Tensor, state: ALIFState, p: LIFParams) -> tuple[torch.Tensor, ALIFState]:
    """Adaptive threshold: ``theta = threshold + a``, ``a <- rho a + kappa s``; the reset
    subtracts the threshold the spike crossed."""
    if not p.adaptive or p.gated:
        raise ValueError(f"alif_step needs adapt_kappa > 0 and no gate: {p}")
    mem = _integrate(current, state.mem, state.spikes, state.theta, p)
    theta = p.threshold + state.adapt
    spikes = (mem > theta).to(mem.dtype)
    adapt = state.adapt * p.adapt_rho + p.adapt_kappa * spikes
    return spikes, ALIFState(mem, spikes, adapt, theta)


def run_steps(
    step: Callable, current: torch.Tensor, state: tuple, *args
) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """The time loop over one step function: ``current`` ``[T, B, N]`` -> (spikes, membranes,
    final state); ``args`` follow the state in every call (``w_rec``, params). Membranes are
    ``state[0]`` after each step (for IF: after its immediate reset)."""
    spikes, mems = [], []
    for t in range(current.shape[0]):
        s, state = step(current[t], state, *args)
        spikes.append(s)
        mems.append(state[0])
    return torch.stack(spikes), torch.stack(mems), state
