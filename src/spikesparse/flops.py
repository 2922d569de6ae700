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
