"""Adam for the study's training loops: the arithmetic of ``torch.optim.Adam`` (its multi-tensor
``foreach=True`` path, or with ``foreach=False`` its single-tensor one), without ``torch.optim``'s
per-process cost.

Why not ``torch.optim.Adam``: its ``step`` imports ``torch._dynamo`` on first use (to mark itself
as a graph break for ``torch.compile``), about 1.7 s per process on the study machines. A study
job is one process that trains one setting's seeds in seconds to a minute, so that import was a
fixed share of every job (a quarter of a quick-config job). This class runs the same foreach
operations in the same order with the same scalars as torch's multi-tensor Adam for what the
study uses (constant float learning rate, no weight decay, no AMSGrad, not maximizing), so a
model trained with it is bit-identical to one trained with ``torch.optim.Adam(foreach=True)``;
``tests/test_optim.py`` checks that, step for step, on models of the study's kinds. The ANN of
the conversion experiments (E4) was trained with torch's CPU default, the single-tensor path,
whose per-tensor operations round differently from the foreach ones; ``foreach=False`` runs that
path's operations, so E4's numbers stay what they were (tested the same way).

On float32 CPU parameters the foreach path runs as one compiled call (``csrc/adam.cpp``) with the
same roundings: eight dispatched operations per parameter tensor were about a twentieth of a
small net's training step. The call also reports whether the new weights are finite, which the
training loop asks after every step (``weights_finite``) and which otherwise costs another pass.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import torch


class Adam:
    """Adam (Kingma & Ba) over a list of parameters, one foreach call per operation.

    Each parameter keeps its own step count and moments, created at its first gradient, as in
    ``torch.optim.Adam``: a parameter without a gradient at a step is skipped, not decayed."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        foreach: bool = True,
    ) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("Adam: no parameters to optimize")
        for name, value in (("lr", lr), ("eps", eps)):
            if not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"Adam: {name} must be a number >= 0, got {value!r}")
        if not all(isinstance(b, (int, float)) and 0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas!r}")
        self.lr = float(lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        self.foreach = bool(foreach)
        self.state: dict[int, dict] = {}  # index in params -> step, exp_avg, exp_avg_sq
        # Whether every parameter was finite after the last step, when the compiled step covered
        # all of them; None: not known, weights_finite() checks.
        self._finite: bool | None = None

    def zero_grad(self) -> None:
        """Drop every gradient (``set_to_none``): the next backward writes fresh ones."""
        for p in self.params:
            p.grad = None

    def weights_finite(self) -> bool:
        """Whether every parameter is finite (NaN and inf are not), after the last step."""
        if self._finite is not None:
            return self._finite
        flat = torch.cat([p.detach().reshape(-1) for p in self.params])
        return bool(torch.isfinite(flat).all())

    @torch.no_grad()
    def step(self) -> None:
        self._finite = None
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        for i in live:
            if i not in self.state:
                p = self.params[i]
                self.state[i] = {
                    "step": 0,
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }
            self.state[i]["step"] += 1
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        exp_avgs = [self.state[i]["exp_avg"] for i in live]
        exp_avg_sqs = [self.state[i]["exp_avg_sq"] for i in live]
        # torch keeps the count in a float32 tensor and reads it back as a Python float; below
        # 2**24 steps that is the integer itself, and float ** int converts the int to a double.
        steps = [float(self.state[i]["step"]) for i in live]
        if not self.foreach:
            for p, g, m, v, s in zip(params, grads, exp_avgs, exp_avg_sqs, steps, strict=True):
                m.lerp_(g, 1 - self.beta1)
                v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
                step_size = self.lr / (1 - self.beta1**s)
                denom = (v.sqrt() / (1 - self.beta2**s) ** 0.5).add_(self.eps)
                p.addcdiv_(m, denom, value=-step_size)
            return

        fused = _compiled_step()
        if fused is not None:
            hyper = (self.lr, self.beta1, self.beta2, self.eps)
            status = fused(params, grads, exp_avgs, exp_avg_sqs, steps, *hyper)
            if status >= 0:  # -1: tensors it does not cover (not float32, CPU, contiguous)
                # Parameters without a gradient were not touched, so the flag covers all only
                # when every parameter took part.
                self._finite = status == 1 if len(live) == len(self.params) else None
                return
        torch._foreach_lerp_(exp_avgs, grads, 1 - self.beta1)
        torch._foreach_mul_(exp_avg_sqs, self.beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - self.beta2)
        step_size = [(self.lr / (1 - self.beta1**s)) * -1 for s in steps]
        bias_correction2_sqrt = [(1 - self.beta2**s) ** 0.5 for s in steps]
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, bias_correction2_sqrt)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, exp_avgs, denom, step_size)


# The CPU kernels whose roundings csrc/adam.cpp reproduces: torch's AVX2 and AVX-512 builds fuse
# lerp's and addcmul's multiply-add (checked bit for bit on AVX2); its DEFAULT kernels, on a CPU
# without those instructions, round the multiply and the add separately, so there the foreach
# operations run.
_FUSED_MULTIPLY_ADD = ("AVX2", "AVX512")


@functools.cache
def _cpu_capability() -> str:
    return torch.backends.cpu.get_cpu_capability()


def _compiled_step():
    """The compiled foreach step, or None when the extension is disabled or unavailable or the
    CPU kernels it must match round differently (``_FUSED_MULTIPLY_ADD``)."""
    if _cpu_capability() not in _FUSED_MULTIPLY_ADD:
        return None
    from ._ext import kernel

    return kernel("adam_step")
