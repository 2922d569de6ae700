"""Plain autograd step-loop LIF: the definition the fast kernels in ``neurons`` are tested against.

Written for clarity, not speed: one Python iteration per time step, every operation recorded by
autograd, the surrogate gradient as a tiny autograd Function. Same conventions as ``neurons``.
"""

from __future__ import annotations

import torch

from . import LIFParams


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (ctx.slope * x.abs() + 1.0) ** 2, None


def lif_reference(
    current: torch.Tensor, params: LIFParams, w_rec: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step-by-step LIF (recurrent when ``w_rec`` is given) -> (spikes, mem), both ``[T, B, N]``."""
    p = params
    T, B, N = current.shape
    mem = current.new_zeros(B, N)
    s_prev = current.new_zeros(B, N)
    theta_prev = current.new_full((B, N), p.threshold)
    adapt = current.new_zeros(B, N)
    refr = torch.zeros(B, N, dtype=torch.long)
    count = torch.zeros(B, N, dtype=torch.long)
    spikes, mems = [], []
    for t in range(T):
        drive = current[t]
        if w_rec is not None:
            drive = drive + s_prev @ w_rec.t()
        reset = s_prev if not p.detach_reset else s_prev.detach()
        if p.reset == "subtract":
            mem = p.beta * mem + drive - reset * theta_prev
        elif p.reset == "zero_rleaky":  # snnTorch RLeaky: the step after a spike starts from zero
            mem = (1 - reset) * (p.beta * mem + drive)
        else:  # snnTorch Leaky: only the decayed membrane is reset
            mem = p.beta * (1 - reset) * mem + drive
        theta = p.threshold + adapt
        gate = torch.ones(B, N, dtype=torch.bool)
        if p.refractory:
            gate &= refr == 0
        if p.spike_budget is not None:
            gate &= count < p.spike_budget
        s = _SpikeFn.apply(mem - theta, p.slope) * gate.to(mem.dtype)
        fired = s.detach() > 0
        if p.refractory:
            refr = torch.where(fired, torch.full_like(refr, p.refractory), (refr - 1).clamp(min=0))
        count = count + fired.long()
        if p.adaptive:
            adapt = p.adapt_rho * adapt + p.adapt_kappa * s.detach()
        theta_prev = theta.detach()
        spikes.append(s)
        mems.append(mem)
        s_prev = s
    return torch.stack(spikes), torch.stack(mems)
