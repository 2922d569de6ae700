"""Average pooling as the models and the conversion run it.

Why a module of its own: PyTorch's CPU average-pool kernel is slow on the study's shapes (many
short rows, ``[T * B, C, L]``): it was 29 % of a conv SNN training step (``make bench``, W3) and
43 % of a converted conv net's simulation. The size-2, stride-2 pool of one dimension, the
default study's only pool, is the mean of each pair, ``(a + b) / 2``: what the kernel computes,
forward and backward, so the fast form gives the same bits (tested). Every other pool runs
PyTorch's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def avg_pool_pairs(v: torch.Tensor) -> torch.Tensor:
    """``F.avg_pool1d(v, 2, 2)`` over the last dimension, bit for bit, as the mean of each pair
    (an odd length drops its last position, as the pool does)."""
    return _PairMean.apply(v)


class _PairMean(torch.autograd.Function):
    """Forward: the mean of each pair; backward: ``grad / 2`` to both members of each pair (and 0
    to an odd length's dropped last position). On CPU in float32/float64 each is one pass of the
    compiled kernel (``csrc/pair_pool.cpp``); elsewhere, or without the compiled kernels, the
    same numbers from PyTorch ops: ``(even + odd) / 2`` over strided views (a sum over a trailing
    dimension of 2 is a slow reduction), and the halves written by one broadcasting copy
    (autograd's backward of the two strided slices would allocate and zero-fill an input-sized
    tensor per slice, 10 % of a conv SNN epoch)."""

    @staticmethod
    def forward(ctx, v):  # noqa: D401
        ctx.length = v.shape[-1]
        compiled = _kernel("pair_mean", v)
        if compiled is not None:
            return compiled(v)
        n = v.shape[-1] // 2
        return torch.add(v[..., 0 : 2 * n : 2], v[..., 1 : 2 * n : 2]).div_(2)

    @staticmethod
    def backward(ctx, grad):
        compiled = _kernel("pair_spread", grad)
        if compiled is not None:
            return compiled(grad, ctx.length)
        half = grad / 2
        g = half.unsqueeze(-1).expand(*half.shape, 2).flatten(-2)
        return F.pad(g, (0, 1)) if ctx.length % 2 else g


def _kernel(name: str, t: torch.Tensor):
    """The compiled kernel ``name`` when it covers ``t`` (CPU, float32 or float64), else None."""
    if t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
        return None
    from ._ext import kernel

    return kernel(name)


def is_pairs(size, stride) -> bool:
    """Whether a pool of this size and stride (ints or tuples) is the 1-D pair mean."""
    return tuple(_as_tuple(size)) == (2,) and tuple(_as_tuple(stride)) == (2,)


def _as_tuple(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class AvgPool1d(nn.AvgPool1d):
    """``nn.AvgPool1d`` whose size-2, stride-2 case (no padding, floor mode) runs as
    ``avg_pool_pairs``: same outputs and gradients, same attributes, still an ``nn.AvgPool1d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if is_pairs(self.kernel_size, self.stride) and _as_tuple(self.padding) == (0,) and not self.ceil_mode:
            return avg_pool_pairs(x)
        return super().forward(x)

    @classmethod
    def like(cls, pool: nn.Module) -> nn.Module:
        """This class with ``pool``'s settings when ``pool`` is a plain ``nn.AvgPool1d``;
        anything else is returned as it is."""
        if type(pool) is not nn.AvgPool1d:
            return pool
        return cls(pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode, pool.count_include_pad)


def avg_pool(v: torch.Tensor, size: tuple, stride: tuple) -> torch.Tensor:
    """Average pool over the last ``len(size)`` dimensions of ``v`` ``[N, C, ...]``."""
    if is_pairs(size, stride):
        return avg_pool_pairs(v)
    return (F.avg_pool1d if len(size) == 1 else F.avg_pool2d)(v, size, stride)
