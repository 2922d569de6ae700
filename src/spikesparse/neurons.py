"""Multi-step leaky integrate-and-fire (LIF) kernels with a hand-written backward.

Why: the per-time-step Python loop with autograd builds a graph node per step and op, which is
the training bottleneck of surrogate-gradient SNNs. Here the whole membrane recurrence over T
steps is one autograd Function. Its forward runs without a graph; its backward is a linear
recurrence (the reset and every constraint are treated as state, not differentiated), so it
only needs the surrogate derivative and the spikes.

Dynamics (snnTorch ``Leaky``/``RLeaky`` conventions, reset applied one step later)::

    subtract reset:  mem[t] = beta * mem[t-1] + I[t] - theta[t-1] * s[t-1]
    zero reset:      mem[t] = beta * (1 - s[t-1]) * mem[t-1] + I[t]
    spike:           s[t]   = H(mem[t] - theta[t]) * gate[t]          (strictly above)
    recurrent:       I[t]   = I_in[t] + s[t-1] @ W_rec.T

Hard constraints live inside the neuron and act through ``gate`` (and ``theta``):

- refractory ``k``: after a spike at t the neuron cannot fire at t+1 .. t+k (it keeps
  integrating; only the spike is blocked);
- spike budget ``K``: a neuron cannot fire after its K-th spike of a sample;
- adaptive threshold (ALIF): ``theta[t] = threshold + a[t]``, ``a[t] = rho * a[t-1] +
  kappa * s[t-1]``.

The surrogate derivative is the fast sigmoid ``1 / (slope * |mem - theta| + 1)^2``, multiplied
by ``gate`` (a blocked neuron passes no gradient). ``gate``, ``theta`` and (by default) the reset
are stop-gradient. ``detach_reset=False`` lets the gradient flow through the reset term too.
Thresholds are fixed hyper-parameters, not learnable.

Every function here takes and returns time-major tensors ``[T, B, N]`` so they can be used with
any framework's spike tensors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

RESETS = ("subtract", "zero")


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
    if not torch.isfinite(x.sum()):
        raise ValueError(f"{name} contains NaN or infinite values")


def fast_sigmoid_grad(x: torch.Tensor, slope: float) -> torch.Tensor:
    """Surrogate derivative of H(x): 1 / (slope * |x| + 1)^2."""
    return fast_sigmoid_grad_(x.clone(), slope)


def fast_sigmoid_grad_(x: torch.Tensor, slope: float) -> torch.Tensor:
    """In-place ``fast_sigmoid_grad``: overwrites and returns ``x``."""
    return x.abs_().mul_(slope).add_(1.0).pow_(-2)


class _LIFFunction(torch.autograd.Function):
    """Membrane recurrence over all T steps; ``w_rec`` is an empty tensor for feed-forward."""

    @staticmethod
    def forward(ctx, current, w_rec, p: LIFParams, return_mem: bool = True):  # noqa: D401
        T, B, N = current.shape
        recurrent = w_rec.numel() > 0
        ext = _compiled_for(current, p, recurrent)
        ctx.ext = ext
        ctx.p = p
        ctx.recurrent = recurrent
        ctx.set_materialize_grads(False)
        if ext is not None:
            if recurrent:
                eye = torch.eye(N, dtype=w_rec.dtype, device=w_rec.device)
                w_eff_t = (w_rec.t() - p.threshold * eye).contiguous()
                spikes, surrogate, mems = ext.rec_forward(
                    current, w_eff_t, p.beta, p.threshold, p.slope, return_mem
                )
            else:
                spikes, surrogate, mems = ext.ff_forward(
                    current, p.beta, p.threshold, p.slope, p.reset == "zero", return_mem
                )
            ctx.save_for_backward(surrogate, spikes, w_rec)
            return (spikes, mems) if return_mem else spikes
        spikes = current.new_empty(T, B, N)  # every step is written
        mems = current.new_empty(T, B, N)
        thetas = current.new_empty(T, B, N) if p.adaptive else None
        gates = torch.ones(T, B, N, dtype=torch.bool, device=current.device) if p.gated else None
        mem = current.new_zeros(B, N)
        s_prev = current.new_zeros(B, N)
        theta_prev = current.new_full((B, N), p.threshold) if p.adaptive else p.threshold
        adapt = current.new_zeros(B, N) if p.adaptive else None
        refr = torch.zeros(B, N, dtype=torch.int32, device=current.device) if p.refractory else None
        count = torch.zeros(B, N, dtype=torch.int32, device=current.device) if p.spike_budget else None
        # With a constant threshold the subtractive reset folds into the recurrent weight:
        # one addmm gives input + recurrence - reset.
        fold = recurrent and p.reset == "subtract" and not p.adaptive
        if recurrent:
            w_t = w_rec.t()
            if fold:
                w_t = w_t - p.threshold * torch.eye(N, dtype=w_rec.dtype, device=w_rec.device)
        for t in range(T):
            if p.reset == "subtract":
                mem = torch.add(current[t], mem, alpha=p.beta, out=mems[t])
                if recurrent and t > 0:
                    mem.addmm_(s_prev, w_t)  # recurrence (and folded reset) in place
                if p.adaptive:
                    mem.sub_(s_prev * theta_prev)
                elif not fold:
                    mem.sub_(s_prev, alpha=p.threshold)
            else:
                mem = torch.addcmul(current[t], mem, (1.0 - s_prev).mul_(p.beta), out=mems[t])
                if recurrent and t > 0:
                    mem.addmm_(s_prev, w_t)
            theta = theta_prev
            if p.adaptive:
                theta = p.threshold + adapt
                thetas[t] = theta
            s = spikes[t]
            if p.gated:
                fire = mem > theta
                open_ = gates[t]
                if p.refractory:
                    open_ &= refr == 0
                if p.spike_budget:
                    open_ &= count < p.spike_budget
                fire &= open_
                s.copy_(fire)
            else:
                torch.gt(mem, theta, out=s)  # straight into the float spike buffer
            if p.refractory:
                refr = torch.where(fire, p.refractory, (refr - 1).clamp_(min=0))
            if p.spike_budget:
                count += fire
            if p.adaptive:
                adapt = adapt.mul_(p.adapt_rho).add_(s, alpha=p.adapt_kappa)
                theta_prev = theta
            s_prev = s
        keep_mem = p.reset == "zero" and not p.detach_reset
        # Without a membrane output the surrogate overwrites the membrane buffer (one pass and
        # one T x B x N allocation fewer).
        shifted = (
            mems.sub_(p.threshold)
            if not (return_mem or keep_mem or p.adaptive)
            else (mems - (thetas if p.adaptive else p.threshold))
        )
        surrogate = fast_sigmoid_grad_(shifted, p.slope)
        if p.gated:
            surrogate.mul_(gates)
        ctx.save_for_backward(surrogate, spikes, w_rec, mems if keep_mem else None, thetas)
        return (spikes, mems) if return_mem else spikes

    @staticmethod
    def backward(ctx, grad_spikes, grad_mems=None):
        p: LIFParams = ctx.p
        if grad_spikes is None:
            grad_spikes = torch.zeros_like(ctx.saved_tensors[0])
        if ctx.ext is not None:
            surrogate, spikes, w_rec = ctx.saved_tensors
            g_mem = grad_mems if grad_mems is not None else surrogate.new_empty(0)
            if ctx.recurrent:
                grad_current, grad_w = ctx.ext.rec_backward(
                    grad_spikes, g_mem, surrogate, spikes, w_rec.contiguous(), p.beta
                )
                return grad_current, grad_w if ctx.needs_input_grad[1] else None, None, None
            grad_current = ctx.ext.ff_backward(
                grad_spikes, g_mem, surrogate, spikes, p.beta, p.reset == "zero"
            )
            return grad_current, None, None, None
        surrogate, spikes, w_rec, mems, thetas = ctx.saved_tensors
        T, B, N = surrogate.shape
        grad_current = torch.empty_like(surrogate)
        d_next = None  # dL/dmem[t+1]
        zero_reset = p.reset == "zero"
        if zero_reset:
            carry = (1.0 - spikes).mul_(p.beta)  # dmem[t+1]/dmem[t]
        attached = not p.detach_reset
        if not ctx.recurrent and not attached:
            # Feed-forward, detached reset: dmem[t] = g_s[t] * surr[t] (+ g_mem[t]) + c[t] * dmem[t+1]
            # is a linear recurrence: form the driving term for all T at once, then one op per step.
            torch.mul(grad_spikes, surrogate, out=grad_current)
            if grad_mems is not None:
                grad_current.add_(grad_mems)
            for t in range(T - 2, -1, -1):
                if zero_reset:
                    grad_current[t].addcmul_(carry[t], grad_current[t + 1])
                else:
                    grad_current[t].add_(grad_current[t + 1], alpha=p.beta)
            return grad_current, None, None, None
        scratch = surrogate.new_empty(B, N)
        for t in range(T - 1, -1, -1):
            gs = grad_spikes[t]
            last = t == T - 1  # nothing flows back from beyond the sequence
            if ctx.recurrent and not last:
                gs = torch.addmm(gs, d_next, w_rec, out=scratch)
            if attached and not last:
                if zero_reset:
                    gs = gs - p.beta * mems[t] * d_next
                else:
                    theta_t = thetas[t] if p.adaptive else p.threshold
                    gs = gs - theta_t * d_next
            d = torch.mul(gs, surrogate[t], out=grad_current[t])
            if not last:
                if zero_reset:
                    d.addcmul_(carry[t], d_next)
                else:
                    d.add_(d_next, alpha=p.beta)
            if grad_mems is not None:
                d.add_(grad_mems[t])
            d_next = d
        grad_w = None
        if ctx.recurrent and ctx.needs_input_grad[1]:
            # dL/dW_rec[i, j] = sum_t dI[t+1, :, i] * s[t, :, j]: one matmul over all T.
            grad_w = grad_current[1:].reshape(-1, N).t() @ spikes[:-1].reshape(-1, N)
        return grad_current, grad_w, None, None


def _compiled_for(current: torch.Tensor, p: LIFParams, recurrent: bool):
    """The compiled loops when they cover this case (CPU, detached reset, no constraint, no
    adaptation; recurrent layers with subtractive reset), else None for the PyTorch loop."""
    if current.device.type != "cpu" or not p.detach_reset or p.gated or p.adaptive:
        return None
    if recurrent and p.reset != "subtract":
        return None
    from ._ext import extension

    return extension()


_NO_WEIGHT: dict[tuple, torch.Tensor] = {}


def _empty_like(x: torch.Tensor) -> torch.Tensor:
    key = (x.dtype, x.device)
    if key not in _NO_WEIGHT:
        _NO_WEIGHT[key] = torch.empty(0, dtype=x.dtype, device=x.device)
    return _NO_WEIGHT[key]


def run_lif(current: torch.Tensor, w_rec: torch.Tensor | None, params: LIFParams) -> torch.Tensor:
    """Spikes only, unchecked: for models that validated their input once (hidden currents are
    finite whenever the input and weights are). Feed-forward when ``w_rec`` is None."""
    w = _empty_like(current) if w_rec is None else w_rec
    return _LIFFunction.apply(current, w, params, False)


def lif_multistep(
    current: torch.Tensor, params: LIFParams = LIFParams()
) -> tuple[torch.Tensor, torch.Tensor]:
    """Feed-forward LIF over a whole sequence: input current ``[T, B, N]`` -> (spikes, mem)."""
    check_sequence(current, "current")
    return _LIFFunction.apply(current, _empty_like(current), params)


def rlif_multistep(
    current: torch.Tensor, w_rec: torch.Tensor, params: LIFParams = LIFParams()
) -> tuple[torch.Tensor, torch.Tensor]:
    """Recurrent LIF: ``current`` ``[T, B, N]`` from the input layer, ``w_rec`` ``[N, N]``
    (row = target neuron, as in ``nn.Linear``), fed the previous step's spikes."""
    check_sequence(current, "current")
    n = current.shape[-1]
    if w_rec.shape != (n, n):
        raise ValueError(f"w_rec must have shape ({n}, {n}), got {tuple(w_rec.shape)}")
    return _LIFFunction.apply(current, w_rec, params)


def readout_weights(n_steps: int, beta: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """Time weights c_t with mean_t(leaky integrator of x) = sum_t c_t x[t].

    A non-spiking leaky readout ``u[t] = beta * u[t-1] + W s[t]`` averaged over time equals
    ``W @ sum_t c_t s[t]`` with ``c_t = (1/T) * sum_{tau >= t} beta^(tau - t)``, so the readout
    needs one matmul instead of T.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    k = torch.arange(n_steps, device=device, dtype=torch.float64)
    remaining = n_steps - k  # number of terms tau = t .. T-1
    c = (1.0 - beta**remaining) / (1.0 - beta) if beta < 1.0 else remaining
    return (c / n_steps).to(dtype)


def leaky_readout(spikes: torch.Tensor, linear: torch.nn.Linear, beta: float) -> torch.Tensor:
    """Time-mean membrane of a leaky, non-spiking readout layer: ``[T, B, N]`` -> ``[B, out]``.

    The bias enters every step, so it is weighted by sum_t c_t as well.
    """
    c = readout_weights(spikes.shape[0], beta, spikes.device, spikes.dtype)
    pooled = torch.tensordot(c, spikes, dims=([0], [0]))
    out = pooled @ linear.weight.t()
    if linear.bias is not None:
        out = out + c.sum() * linear.bias
    return out
