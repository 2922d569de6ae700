"""Spiking neurons: parameter types, multi-step kernels with a hand-written backward, readout.

Dynamics (snnTorch ``Leaky``/``RLeaky`` conventions, reset applied one step later)::

    subtract reset:  mem[t] = beta * mem[t-1] + I[t] - theta[t-1] * s[t-1]
    zero reset:      mem[t] = beta * (1 - s[t-1]) * mem[t-1] + I[t]       (snnTorch Leaky, NIR)
    zero_rleaky:     mem[t] = (1 - s[t-1]) * (beta * mem[t-1] + I[t])     (snnTorch RLeaky)
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

Modules: ``params`` (parameter types, input check), ``kernel`` (the multi-step kernels: compiled
loops, PyTorch loops, autograd Function, inference path), ``steps`` (one step function per neuron
kind with its parameter and state type), ``readout`` (leaky readout).
"""

from .kernel import (
    _compiled_for,
    _LIFFunction,
    fast_sigmoid_grad,
    fast_sigmoid_grad_,
    lif_multistep,
    rlif_multistep,
    run_lif,
)
from .params import RESETS, LIFParams, check_sequence
from .readout import leaky_readout, readout_weights
from .steps import (
    ALIFState,
    BudgetState,
    IFParams,
    IFState,
    LIFState,
    RefractoryState,
    alif_state,
    alif_step,
    budget_state,
    budget_step,
    if_state,
    if_step,
    lif_state,
    lif_step,
    refractory_state,
    refractory_step,
    rlif_step,
    run_steps,
)

__all__ = [
    "RESETS",
    "ALIFState",
    "BudgetState",
    "LIFState",
    "RefractoryState",
    "alif_state",
    "alif_step",
    "budget_state",
    "budget_step",
    "lif_state",
    "lif_step",
    "refractory_state",
    "refractory_step",
    "rlif_step",
    "run_steps",
    "IFParams",
    "IFState",
    "LIFParams",
    "_LIFFunction",
    "_compiled_for",
    "check_sequence",
    "fast_sigmoid_grad",
    "fast_sigmoid_grad_",
    "if_state",
    "if_step",
    "leaky_readout",
    "lif_multistep",
    "readout_weights",
    "rlif_multistep",
    "run_lif",
]
