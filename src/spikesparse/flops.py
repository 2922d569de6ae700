"""Matmul FLOPs a network's forward pass and training step need: the one count behind the study
efficiency (``studybench``) and the kernel benchmark's fraction of the sgemm peak
(``benchmarks/bench_kernels.py``).

Counted: every matrix product the computation needs, 2 FLOPs per multiply-add. For
``models.SpikingNet`` per sample with ``T`` steps:

- forward: ``2 T fan_in fan_out`` per feed-forward layer; ``2 (T - 1) N^2`` per recurrent layer
  (step 0 has no earlier spikes); the readout pools the last layer over time (``2 T N_last``,
  ``neurons.leaky_readout``) and applies its weights once (``2 N_last n_out``);
- backward: the gradient with respect to each operand of a product that needs one, each as many
  FLOPs as the product: every trained weight's, and every input's except the first layer's (its
  input is data). The time pooling's weights are constants and get none; its gradient for the
  spikes (``2 T N_last``) is counted although the kernel forms it step by step inside the last
  layer's backward rather than as a matrix product (``neurons.run_lif`` with ``pool``).

A training pass is therefore ``3 x forward - first layer - pooling``, not ``3 x forward``.
Why "needed" rather than "executed": an implementation that does more (a readout applied at
every step, a gradient for the data) is not credited for it, so a fraction of peak compares
implementations, and the study with the benchmark, on the same useful work. Element-wise work
(membranes, surrogates, Adam) is not counted, so a fraction of peak is a lower bound on what the
machine did.

Beside the matmul side (``Product``, ``products_runner``, ``sgemm_peak_gflops``) stands its conv
counterpart (``ConvProduct``, ``conv_products_runner``, ``conv_peak_gflops``), which the kernel
benchmark's conv workload uses; a conv run's FLOP count itself is ``study.budget.layer_model_flops``
(it needs the study's ``layer_plan``).
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple


class Product(NamedTuple):
    """One matrix product of a step: ``repeat`` times ``[m, k] @ [k, n]``. ``op`` says how
    spikesparse executes it: ``addmm`` (with a bias, as ``nn.Linear``), ``mm``, or ``steps`` (a
    recurrent layer's per-step products, run inside the compiled loops)."""

    op: str
    m: int
    k: int
    n: int
    repeat: int = 1

    @property
    def flops(self) -> int:
        return 2 * self.repeat * self.m * self.k * self.n


def snn_products(
    n_in: int,
    hidden: list[int],
    n_out: int,
    n_steps: int,
    recurrent: bool,
    batch: int = 1,
    train: bool = True,
) -> list[Product]:
    """The matrix products ``models.SpikingNet`` needs for ``batch`` samples: the forward pass,
    and with ``train`` the gradients the backward pass needs (module docstring). The one list
    behind every count here and the kernel benchmark's products-alone bound, which executes it."""
    if not hidden or n_steps < 1:
        raise ValueError(f"need at least one hidden layer and one step, got {hidden}, T={n_steps}")
    T, B = n_steps, batch
    sizes = [n_in, *hidden]
    out = []
    for i, (a, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        out.append(Product("addmm", T * B, a, n))
        if train:
            out.append(Product("mm", n, T * B, a))  # weight gradient
            if i > 0:  # input gradient; the first layer's input is data
                out.append(Product("mm", T * B, n, a))
        if recurrent:  # step 0 has no earlier spikes
            out.append(Product("steps", B, n, n, T - 1))
            if train:
                out.append(Product("steps", B, n, n, T - 1))
                out.append(Product("mm", n, (T - 1) * B, n))
    last = sizes[-1]
    out.append(Product("mm", 1, T, B * last))  # the readout's time pooling
    if train:
        out.append(Product("mm", T, 1, B * last))  # its gradient for the spikes (weights: constants)
    out.append(Product("addmm", B, last, n_out))
    if train:
        out.append(Product("mm", n_out, B, last))
        out.append(Product("mm", B, n_out, last))
    return out


def snn_forward_flops(n_in: int, hidden: list[int], n_out: int, n_steps: int, recurrent: bool) -> int:
    """Matmul FLOPs of one sample's forward pass through ``models.SpikingNet``."""
    return sum(p.flops for p in snn_products(n_in, hidden, n_out, n_steps, recurrent, train=False))


def snn_training_flops(n_in: int, hidden: list[int], n_out: int, n_steps: int, recurrent: bool) -> int:
    """Matmul FLOPs of one sample's training pass (forward and backward) through ``SpikingNet``."""
    return sum(p.flops for p in snn_products(n_in, hidden, n_out, n_steps, recurrent))


def products_runner(products: list[Product], seed: int = 2):
    """A callable that executes ``products`` once each on preallocated random operands, as
    spikesparse executes them (``addmm`` with a bias, ``mm``, recurrent steps through the compiled
    loops' own BLAS route, ``step_gemm_sum``, or without the compiled loops one ``addmm_`` per
    step as the PyTorch loop does), and nothing else.

    Why: timing it gives the products-alone bound, the time a step would take if it did nothing
    but its matmuls. Small products run far below the 1024² peak, so this bound, not 100 %, is
    the ceiling of any fraction of peak that counts these products (kernel benchmark, study
    efficiency)."""
    import torch

    from ._ext import extension

    ext = extension()
    gen = torch.Generator().manual_seed(seed)
    calls = []
    for p in products:
        if p.op == "steps":
            a = torch.randn(p.repeat, p.m, p.k, generator=gen)
            bm = torch.randn(p.k, p.n, generator=gen)
            if ext is not None:
                calls.append(lambda a=a, bm=bm: ext.step_gemm_sum(a, bm))
            else:
                acc = torch.zeros(p.m, p.n)
                calls.append(lambda a=a, bm=bm, acc=acc: [acc.addmm_(a[t], bm) for t in range(len(a))])
        elif p.op == "addmm":
            a, bt = torch.randn(p.m, p.k, generator=gen), torch.randn(p.n, p.k, generator=gen)
            bias = torch.randn(p.n, generator=gen)
            calls.append(lambda a=a, bt=bt, bias=bias: torch.addmm(bias, a, bt.t()))
        elif p.op == "mm":
            a, b = torch.randn(p.m, p.k, generator=gen), torch.randn(p.k, p.n, generator=gen)
            calls.append(lambda a=a, b=b: torch.mm(a, b))
        else:
            raise ValueError(f"unknown product op {p.op!r} (addmm, mm or steps)")

    def run() -> None:
        for call in calls:
            call()

    return run


def products_seconds(products: list[Product], repeats: int = 5, warmup: int = 2) -> float:
    """Median wall seconds of one execution of ``products`` alone (``products_runner``) at the
    caller's thread count."""
    run = products_runner(products)
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def mlp_training_flops(layer_macs: list[int]) -> int:
    """Matmul FLOPs of one sample's training pass through a dense net whose layers have
    ``layer_macs`` multiply-adds each (the first is fed the data, so it needs no input gradient)."""
    if not layer_macs:
        raise ValueError("a dense net needs at least one layer")
    return 3 * 2 * sum(layer_macs) - 2 * layer_macs[0]


def sgemm_peak_gflops(threads: int = 1, n: int = 1024, repeats: int = 10, blocks: int = 5) -> float:
    """The machine's float32 matmul throughput (GFLOP/s) at ``threads`` threads, the denominator
    of every fraction of peak: the best of ``blocks`` timed blocks of ``repeats`` ``torch.mm``
    calls on ``n x n`` matrices, so a neighbour's burst on a shared machine lowers one block, not
    the figure. The caller's thread count is restored."""
    import torch

    from .runtime import torch_threads

    with torch_threads(threads):
        gen = torch.Generator().manual_seed(0)
        a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
        for _ in range(3):
            torch.mm(a, b)
        best = math.inf
        for _ in range(blocks):
            t0 = time.perf_counter()
            for _ in range(repeats):
                torch.mm(a, b)
            best = min(best, time.perf_counter() - t0)
    return 2 * n**3 * repeats / best / 1e9


class ConvProduct(NamedTuple):
    """A conv1d layer's products in a training step: the forward over ``n`` samples (T x batch,
    time folded into the batch as the model runs it) and its two gradients, the input's and the
    weight's (one ``convolution_backward``), each as many FLOPs as the forward. The conv
    counterpart of ``Product``, executed by ``conv_products_runner``."""

    n: int
    c_in: int
    length: int
    c_out: int
    kernel: int
    stride: int = 1
    padding: int = 0

    @property
    def l_out(self) -> int:
        return (self.length + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def flops(self) -> int:
        return 3 * 2 * self.n * self.c_out * self.l_out * self.c_in * self.kernel


def conv_products_runner(products: list, seed: int = 2):
    """``flops.products_runner`` for a list with ``ConvProduct`` entries: each conv layer as
    ``F.conv1d`` with its bias and one ``aten.convolution_backward`` for the input and weight
    gradients (what autograd calls for a ``Conv1d``), on preallocated random operands; the matrix
    products through ``products_runner``.

    Why here, beside ``products_runner``: it is the same products-alone bound for a conv step
    (the kernel benchmark's W3), a step that did nothing but its products, so it lives with the
    FLOP counts and the runner it extends rather than in one benchmark script."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    calls = []
    for p in products:
        if isinstance(p, ConvProduct):
            x = torch.randn(p.n, p.c_in, p.length, generator=gen)
            wt = torch.randn(p.c_out, p.c_in, p.kernel, generator=gen)
            bias = torch.randn(p.c_out, generator=gen)
            grad = torch.randn(p.n, p.c_out, p.l_out, generator=gen)
            calls.append(lambda p=p, x=x, wt=wt, bias=bias: F.conv1d(x, wt, bias, p.stride, p.padding))
            calls.append(
                lambda p=p, x=x, wt=wt, grad=grad: torch.ops.aten.convolution_backward(
                    grad, x, wt, [p.c_out], [p.stride], [p.padding], [1], False, [0], 1, [True, True, False]
                )
            )
    matmuls = products_runner([p for p in products if isinstance(p, Product)], seed)

    def run() -> None:
        for call in calls:
            call()
        matmuls()

    return run


# (batch, in channels, length, out channels, kernel), "same" padding, about 1.6-2.7 GFLOP each.
CONV_PEAK_SHAPES = ((128, 128, 128, 128, 3), (64, 256, 64, 256, 5), (32, 512, 64, 512, 3))


def conv_peak_gflops(threads: int = 1, repeats: int = 3, blocks: int = 2, shapes=CONV_PEAK_SHAPES) -> float:
    """The machine's float32 convolution throughput (GFLOP/s) at ``threads`` threads, the
    denominator of W3's fraction of conv peak: per shape of ``shapes`` the best of ``blocks`` timed
    blocks of ``repeats`` ``F.conv1d`` forwards (bias, "same" padding, 2 FLOPs per multiply-add),
    then the best shape. The caller's thread count is restored.

    Why a peak of its own: a conv step's products run in torch's convolution kernels (oneDNN on
    this CPU), not in the sgemm that ``sgemm_peak_gflops`` times, and those kernels sustain
    their best only with many channels and long rows (128-512 channels here; with 32-64 channels,
    as in W3's own layers, they run well below it, as W1's K = 40 input product runs below the sgemm
    peak). The best of a few such large shapes is to a conv step what the 1024^2 sgemm is to an MLP
    step: what the machine's conv routine can do at all, measured in the same run and under the
    same load as the step, so the fraction compares two numbers taken together. W3's products
    alone (``conv_products_runner``) give the ceiling at its own shapes. It lives here, beside
    ``sgemm_peak_gflops``, so that both peaks a fraction of peak may be taken against have one home.
    """
    import torch
    import torch.nn.functional as F

    from .runtime import torch_threads

    with torch_threads(threads):
        gen = torch.Generator().manual_seed(0)
        best = 0.0
        for n, c_in, length, c_out, k in shapes:
            x = torch.randn(n, c_in, length, generator=gen)
            wt, bias = torch.randn(c_out, c_in, k, generator=gen), torch.randn(c_out, generator=gen)
            for _ in range(2):
                F.conv1d(x, wt, bias, padding=k // 2)
            seconds = math.inf
            for _ in range(blocks):
                t0 = time.perf_counter()
                for _ in range(repeats):
                    F.conv1d(x, wt, bias, padding=k // 2)
                seconds = min(seconds, time.perf_counter() - t0)
            out_len = length + 2 * (k // 2) - k + 1
            best = max(best, 2 * n * c_out * out_len * c_in * k * repeats / seconds / 1e9)
    return best
