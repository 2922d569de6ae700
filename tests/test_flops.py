"""The FLOP count (spikesparse.flops) against what PyTorch's own counter sees the model do:
the count must be the matmuls a SpikingNet's training pass actually needs, no more."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from spikesparse.flops import sgemm_peak_gflops, snn_forward_flops, snn_products, snn_training_flops
from spikesparse.models import SpikingNet
from spikesparse.neurons import LIFParams, kernel

N_IN, HIDDEN, N_OUT, T, B = 7, [5, 6], 3, 9, 4


def counted(net: SpikingNet, train: bool) -> int:
    x = (torch.rand(T, B, N_IN, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    with FlopCounterMode(display=False) as counter:
        if train:
            F.cross_entropy(net(x).logits, torch.arange(B) % N_OUT).backward()
        else:
            with torch.no_grad():
                net(x)
    return counter.get_total_flops()


# The time pooling's gradient for the last layer's spikes, c[t] * g_pooled: a [T, 1] @ [1, B N]
# product that the last layer's backward forms step by step (neurons.run_lif with pool=...), so
# torch's counter no longer sees it as a matmul; the count keeps it, and so does this check.
POOLING_GRADIENT = 2 * T * B * HIDDEN[-1]


@pytest.mark.parametrize("train", [False, True])
def test_feedforward_count_is_what_torch_counts(train):
    net = SpikingNet(N_IN, HIDDEN, N_OUT, LIFParams(), recurrent=False)
    ours = (snn_training_flops if train else snn_forward_flops)(N_IN, HIDDEN, N_OUT, T, False)
    assert counted(net, train) + (POOLING_GRADIENT if train else 0) == B * ours


def test_recurrent_backward_is_what_torch_counts(monkeypatch):
    # The PyTorch loop (no compiled kernel) so that torch's counter sees every product. It does
    # not count the forward recurrence's in-place addmm_, so that term is added by hand: T - 1
    # steps of [B, N] @ [N, N] per layer (and the pooling's gradient, see above). Everything
    # else, the backward recurrence and the recurrent weight's gradient included, is torch's own
    # count.
    monkeypatch.setattr(kernel, "_compiled_for", lambda *args: None)
    net = SpikingNet(N_IN, HIDDEN, N_OUT, LIFParams(), recurrent=True)
    forward_recurrence = sum(2 * (T - 1) * B * n * n for n in HIDDEN)
    assert counted(net, True) + forward_recurrence + POOLING_GRADIENT == B * snn_training_flops(
        N_IN, HIDDEN, N_OUT, T, True
    )
    assert counted(net, False) + forward_recurrence == B * snn_forward_flops(N_IN, HIDDEN, N_OUT, T, True)


@pytest.mark.parametrize("threads", [1, 2])
def test_sgemm_peak_runs_at_the_thread_count_asked_and_restores_the_callers(threads, monkeypatch):
    before = torch.get_num_threads()
    seen = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (seen.append(n), real(n)))
    peak = sgemm_peak_gflops(threads=threads, n=128, repeats=3, blocks=2)
    assert 0.01 < peak < 1e5
    assert seen == [threads, before]
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("batch", [1, 5])
def test_the_product_list_is_the_count(recurrent, batch):
    """``snn_products`` is the one list behind the counts: ``batch`` samples' products are
    ``batch`` times the per-sample count, forward and training."""
    net = (N_IN, HIDDEN, N_OUT, T, recurrent)
    train = sum(p.flops for p in snn_products(*net, batch=batch))
    fwd = sum(p.flops for p in snn_products(*net, batch=batch, train=False))
    assert train == batch * snn_training_flops(*net)
    assert fwd == batch * snn_forward_flops(*net)
    steps = [p for p in snn_products(*net, batch=batch) if p.op == "steps"]
    assert len(steps) == (2 * len(HIDDEN) if recurrent else 0)
    expected = [(T - 1, batch, n, n) for n in HIDDEN for _ in range(2)] if recurrent else []
    assert [(p.repeat, p.m, p.k, p.n) for p in steps] == expected


def test_products_runner_runs_without_the_compiled_loops_and_names_a_bad_op(monkeypatch):
    """Without the compiled loops the recurrent steps run as the PyTorch loop runs them (one
    ``addmm_`` per step); an unknown operation is refused by name."""
    from spikesparse.flops import Product, products_runner, products_seconds

    monkeypatch.setattr("spikesparse._ext.extension", lambda: None)
    products = snn_products(N_IN, HIDDEN, N_OUT, T, True, batch=B)
    products_runner(products)()
    assert products_seconds(products, repeats=3, warmup=1) > 0
    with pytest.raises(ValueError, match="'conv'"):
        products_runner([Product("conv", 2, 2, 2)])
