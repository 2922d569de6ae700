"""Multi-step LIF kernels: the whole membrane recurrence over T steps in one call.

Why: the per-time-step Python loop with autograd builds a graph node per step and op, which is
the training bottleneck of surrogate-gradient SNNs. Here the recurrence is one autograd Function
whose forward runs without a graph and whose backward is a linear recurrence (the reset and every
constraint are treated as state, not differentiated), so it only needs the surrogate derivative
and the spikes. Without autograd (validation and test under ``torch.no_grad``) the same loops run
without the Function and without computing or keeping anything for a backward pass, so a model's
prediction is bit-identical to its training forward at a fraction of the cost.

Two implementations of each loop: the compiled one (``csrc/lif_loops.cpp``, CPU, the
unconstrained case) and the pure-PyTorch one below, which covers every constraint.
"""

from __future__ import annotations

import torch

from .params import LIFParams, check_sequence
from .readout import time_pool


def fast_sigmoid_grad(x: torch.Tensor, slope: float) -> torch.Tensor:
    """Surrogate derivative of H(x): 1 / (slope * |x| + 1)^2."""
    return fast_sigmoid_grad_(x.clone(), slope)


def fast_sigmoid_grad_(x: torch.Tensor, slope: float) -> torch.Tensor:
    """In-place ``fast_sigmoid_grad``: overwrites and returns ``x``."""
    return x.abs_().mul_(slope).add_(1.0).pow_(-2)


_COMPILED_DTYPES = (torch.float32, torch.float64)


def _compiled_for(current: torch.Tensor, p: LIFParams, recurrent: bool):
    """The compiled loops when they cover this case (CPU, float32/float64, detached reset;
    feed-forward layers without constraint or adaptation; recurrent layers with subtractive
    reset, constraints and adaptation included), else None for the PyTorch loop, which also runs
    float16 and bfloat16 (the compiled loops are not built for them)."""
    if current.device.type != "cpu" or current.dtype not in _COMPILED_DTYPES:
        return None
    if not p.detach_reset or p.reset == "zero_rleaky":
        return None
    if recurrent and p.reset != "subtract":
        return None
    if not recurrent and _constrained(p):
        return None
    from .._ext import extension

    return extension()


def _constrained(p: LIFParams) -> bool:
    """A refractory period, a spike budget or an adaptive threshold: the compiled recurrent layer
    then rounds as the PyTorch loop does (``rec_forward_constrained``), so these layers give the
    numbers they gave when only that loop ran them."""
    return p.gated or p.adaptive


def _compiled_forward(ext, current, w_rec, p: LIFParams, recurrent: bool, keep_mem: bool, surrogate: bool):
    """(spikes, surrogate or empty, mems or empty, per-sample spike counts) from the compiled loops."""
    if recurrent and _constrained(p):
        w_t = w_rec.t()
        if not p.adaptive:  # the fixed threshold's reset folds into the weight, as in the loop
            w_t = w_t - p.threshold * torch.eye(w_rec.shape[0], dtype=w_rec.dtype, device=w_rec.device)
        constraints = (p.refractory, p.spike_budget or 0, p.adapt_kappa, p.adapt_rho)
        return ext.rec_forward_constrained(
            current, w_t, p.beta, p.threshold, p.slope, *constraints, keep_mem, surrogate
        )
    if recurrent:
        eye = torch.eye(current.shape[-1], dtype=w_rec.dtype, device=w_rec.device)
        w_eff_t = (w_rec.t() - p.threshold * eye).contiguous()
        return ext.rec_forward(current, w_eff_t, p.beta, p.threshold, p.slope, keep_mem, surrogate)
    return ext.ff_forward(current, p.beta, p.threshold, p.slope, p.reset == "zero", keep_mem, surrogate)


def _pytorch_loop(
    current: torch.Tensor, w_rec: torch.Tensor, p: LIFParams, recurrent: bool, keep_pre: bool = False
):
    """The time loop in PyTorch ops for every neuron kind -> (spikes, mems, thetas, gates, pres);
    ``thetas`` (ALIF) and ``gates`` (refractory, budget) are None when the kind has none.

    ``reset="zero_rleaky"`` follows snnTorch's ``RLeaky``: the step after a spike starts from
    zero, its input and recurrence included, ``mem[t] = (1 - s[t-1]) * pre[t]`` with ``pre[t] =
    beta * mem[t-1] + I[t] (+ s[t-1] @ W_rec.T)``; ``pres`` keeps ``pre`` when ``keep_pre`` (the
    attached reset's backward needs it), else it is None."""
    T, B, N = current.shape
    pres = current.new_empty(T, B, N) if keep_pre else None
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
        elif p.reset == "zero_rleaky":
            mem = torch.add(current[t], mem, alpha=p.beta, out=mems[t])
            if recurrent and t > 0:
                mem.addmm_(s_prev, w_t)
            if pres is not None:
                pres[t] = mem
            mem.mul_(1.0 - s_prev)  # RLeaky: everything of the step after a spike is discarded
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
    return spikes, mems, thetas, gates, pres


class _LIFFunction(torch.autograd.Function):
    """Membrane recurrence over all T steps; ``w_rec`` is an empty tensor for feed-forward.

    With ``pool`` (time weights ``[T]``, ``return_mem`` False) the outputs are the spikes and their
    weighted time sum (``readout.time_pool``), and the backward forms the sum's gradient for each
    step as it needs it instead of receiving it as a ``[T, B, N]`` tensor from a separate node."""

    @staticmethod
    def forward(ctx, current, w_rec, p: LIFParams, return_mem=True, pool=None, counts=False):  # noqa: D401
        recurrent = w_rec.numel() > 0
        ext = _compiled_for(current, p, recurrent)
        ctx.ext = ext
        ctx.p = p
        ctx.recurrent = recurrent
        ctx.pool = pool
        ctx.second = return_mem or pool is not None  # a membrane or pooling output after the spikes
        ctx.set_materialize_grads(False)
        if ext is not None:
            spikes, surrogate, mems, n = _compiled_forward(
                ext, current, w_rec, p, recurrent, return_mem, True
            )
            ctx.save_for_backward(surrogate, spikes, w_rec)
            return _outputs(spikes, mems, return_mem, pool, n if counts else None)
        keep_mem = p.reset != "subtract" and not p.detach_reset
        rleaky = p.reset == "zero_rleaky"
        spikes, mems, thetas, gates, pres = _pytorch_loop(current, w_rec, p, recurrent, rleaky and keep_mem)
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
        # The attached zero reset's backward needs the membrane before the reset (RLeaky: pre).
        saved_mem = (pres if rleaky else mems) if keep_mem else None
        ctx.save_for_backward(surrogate, spikes, w_rec, saved_mem, thetas)
        return _outputs(spikes, mems, return_mem, pool, spikes.sum(dim=0) if counts else None)

    @staticmethod
    def backward(ctx, grad_spikes, *grad_rest):
        p: LIFParams = ctx.p
        pool = ctx.pool
        grad_second = grad_rest[0] if ctx.second else None
        grad_counts = grad_rest[-1] if len(grad_rest) > ctx.second else None
        grad_pooled = grad_second if pool is not None else None
        grad_mems = None if pool is not None else grad_second
        none = (None,) * 4  # p, return_mem, pool, counts
        if ctx.ext is not None:
            surrogate, spikes, w_rec = ctx.saved_tensors
            empty = surrogate.new_empty(0)
            if grad_spikes is None and grad_pooled is None and grad_counts is None:
                grad_spikes = torch.zeros_like(surrogate)
            g_spk = grad_spikes if grad_spikes is not None else empty
            g_mem = grad_mems if grad_mems is not None else empty
            sources = dict(pool_c=pool, grad_pooled=grad_pooled, grad_counts=grad_counts)
            if ctx.recurrent:
                args = (g_spk, g_mem, surrogate, spikes, w_rec.contiguous(), p.beta)
                grad_current, grad_w = ctx.ext.rec_backward(*args, **sources, torch_rounding=_constrained(p))
                return grad_current, grad_w if ctx.needs_input_grad[1] else None, *none
            grad_current = ctx.ext.ff_backward(
                g_spk, g_mem, surrogate, spikes, p.beta, p.reset == "zero", **sources
            )
            return grad_current, None, *none
        # The counts' and the pooling's gradients, added as autograd would add them.
        if grad_counts is not None:
            grad_spikes = (
                grad_counts.expand_as(ctx.saved_tensors[0])
                if grad_spikes is None
                else grad_spikes + grad_counts
            )
        if grad_pooled is not None:
            from_pool = pool.view(-1, *([1] * grad_pooled.dim())) * grad_pooled
            grad_spikes = from_pool if grad_spikes is None else grad_spikes + from_pool
        if grad_spikes is None:
            grad_spikes = torch.zeros_like(ctx.saved_tensors[0])
        return (*_pytorch_backward(ctx, grad_spikes, grad_mems), None, None)


def _outputs(spikes, mems, return_mem: bool, pool, counts):
    """The layer's outputs: the spikes, then the membranes (``return_mem``) or the readout's time
    pooling (``pool``), then the per-sample spike counts ``[B, N]`` unless ``counts`` is None."""
    out = [spikes]
    if pool is not None:
        out.append(time_pool(spikes, pool))
    elif return_mem:
        out.append(mems)
    if counts is not None:
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


def _pytorch_backward(ctx, grad_spikes, grad_mems):
    """The backward of the PyTorch loop -> (grad_current, grad_w_rec, None, None)."""
    p: LIFParams = ctx.p
    surrogate, spikes, w_rec, mems, thetas = ctx.saved_tensors
    if p.reset == "zero_rleaky":
        return _rleaky_zero_backward(ctx, grad_spikes, grad_mems, surrogate, spikes, w_rec, mems)
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


def _rleaky_zero_backward(ctx, grad_spikes, grad_mems, surrogate, spikes, w_rec, pres):
    """Backward of the zero reset in RLeaky's form, ``mem[t] = (1 - s[t-1]) * pre[t]``.

    With ``d[t] = dL/dmem[t]`` and ``e[t] = dL/dpre[t] = (1 - s[t-1]) d[t]``: the input current
    and the recurrent weight get ``e``; ``d[t] = (g_s[t] + e[t+1] @ W_rec) * surr[t] + beta *
    e[t+1] (+ g_mem[t])``, and the attached reset adds ``-pre[t+1] * d[t+1]`` to the spike's
    gradient."""
    p: LIFParams = ctx.p
    T = surrogate.shape[0]
    N = surrogate.shape[-1]
    keep = 1.0 - spikes  # (1 - s[t]) gates step t + 1
    grad_current = torch.empty_like(surrogate)
    d_next = e_next = None
    for t in range(T - 1, -1, -1):
        gs = grad_spikes[t]
        if e_next is not None:
            if ctx.recurrent:
                gs = torch.addmm(gs, e_next, w_rec)
            if pres is not None:
                gs = gs - pres[t + 1] * d_next
        d = gs * surrogate[t]
        if e_next is not None:
            d.add_(e_next, alpha=p.beta)
        if grad_mems is not None:
            d.add_(grad_mems[t])
        e = torch.mul(d, keep[t - 1], out=grad_current[t]) if t > 0 else grad_current[t].copy_(d)
        d_next, e_next = d, e
    grad_w = None
    if ctx.recurrent and ctx.needs_input_grad[1]:
        grad_w = grad_current[1:].reshape(-1, N).t() @ spikes[:-1].reshape(-1, N)
    return grad_current, grad_w, None, None


def _infer(
    current: torch.Tensor, w_rec: torch.Tensor, p: LIFParams, return_mem: bool, pool=None, counts=False
):
    """The forward loops alone: no autograd Function, no surrogate, nothing kept for backward.
    Spikes and membranes are computed by the same code as in training, so they are identical."""
    recurrent = w_rec.numel() > 0
    ext = _compiled_for(current, p, recurrent)
    if ext is not None:
        spikes, _, mems, n = _compiled_forward(ext, current, w_rec, p, recurrent, return_mem, False)
        return _outputs(spikes, mems, return_mem, pool, n if counts else None)
    spikes, mems, _, _, _ = _pytorch_loop(current, w_rec, p, recurrent)
    return _outputs(spikes, mems, return_mem, pool, spikes.sum(dim=0) if counts else None)


def _apply(
    current: torch.Tensor, w_rec: torch.Tensor, p: LIFParams, return_mem: bool, pool=None, counts=False
):
    """Autograd Function when a gradient can flow, else the inference loops."""
    if torch.is_grad_enabled() and (current.requires_grad or w_rec.requires_grad):
        return _LIFFunction.apply(current, w_rec, p, return_mem, pool, counts)
    return _infer(current, w_rec, p, return_mem, pool, counts)


DEFAULT_LIF = LIFParams()  # frozen, so one shared default is safe

_NO_WEIGHT: dict[tuple, torch.Tensor] = {}


def _empty_like(x: torch.Tensor) -> torch.Tensor:
    key = (x.dtype, x.device)
    if key not in _NO_WEIGHT:
        _NO_WEIGHT[key] = torch.empty(0, dtype=x.dtype, device=x.device)
    return _NO_WEIGHT[key]


def run_lif(
    current: torch.Tensor,
    w_rec: torch.Tensor | None,
    params: LIFParams,
    *,
    pool: torch.Tensor | None = None,
    counts: bool = False,
):
    """Spikes only, unchecked: for models that validated their input once (hidden currents are
    finite whenever the input and weights are). Feed-forward when ``w_rec`` is None.

    ``pool`` (time weights ``[T]``, e.g. ``readout_weights``): also return ``time_pool(spikes,
    pool)``, bit for bit what the two calls give, with a cheaper backward: the sum's gradient
    ``c[t] * g_pooled`` is formed step by step inside the layer's backward instead of as a
    ``[T, B, N]`` tensor written by one node and read by the next.

    ``counts``: also return each sample's spike count per neuron, ``spikes.sum(0)`` ``[B, N]``,
    for rate penalties and statistics (exact integers, so any sum over them equals the same sum
    over the spikes). Their gradient likewise enters the layer's backward directly instead of
    being added to the spikes' gradient as a ``[T, B, N]`` tensor.

    Returns the spikes, then the pooling, then the counts (a tuple when more than the spikes)."""
    w = _empty_like(current) if w_rec is None else w_rec
    return _apply(current, w, params, False, pool, counts)


def lif_multistep(
    current: torch.Tensor, params: LIFParams = DEFAULT_LIF
) -> tuple[torch.Tensor, torch.Tensor]:
    """Feed-forward LIF over a whole sequence: input current ``[T, B, N]`` -> (spikes, mem)."""
    check_sequence(current, "current")
    return _apply(current, _empty_like(current), params, True)


def rlif_multistep(
    current: torch.Tensor, w_rec: torch.Tensor, params: LIFParams = DEFAULT_LIF
) -> tuple[torch.Tensor, torch.Tensor]:
    """Recurrent LIF: ``current`` ``[T, B, N]`` from the input layer, ``w_rec`` ``[N, N]``
    (row = target neuron, as in ``nn.Linear``), fed the previous step's spikes."""
    check_sequence(current, "current")
    n = current.shape[-1]
    if w_rec.shape != (n, n):
        raise ValueError(f"w_rec must have shape ({n}, {n}), got {tuple(w_rec.shape)}")
    return _apply(current, w_rec, params, True)
