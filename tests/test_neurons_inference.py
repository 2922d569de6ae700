"""The inference path (no autograd): same spikes and membranes as the training forward, bit for
bit, without the autograd Function and without the surrogate buffer."""

import itertools
import zlib

import pytest
import torch

import spikesparse.neurons.kernel as kernel
from spikesparse.models import SpikingNet
from spikesparse.neurons import LIFParams, lif_multistep, rlif_multistep, run_lif

CASES = list(
    itertools.product(
        ["subtract", "zero", "zero_rleaky"], [True, False], [0, 3], [None, 2], [0.0, 0.4], [False, True]
    )
)


@pytest.fixture(params=["compiled", "pytorch"])
def backend(request, monkeypatch):
    from spikesparse._ext import extension

    if request.param == "pytorch":
        monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
    else:
        monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
        assert extension() is not None, "the compiled loops must build on this machine"
    return request.param


def _forbid_autograd_function(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the autograd Function ran without a gradient to compute")

    monkeypatch.setattr(kernel._LIFFunction, "apply", fail)


# Every case in float32 (the study's dtype), every fourth in float64 as well.
DTYPED = [(c, torch.float32) for c in CASES] + [(c, torch.float64) for c in CASES[::4]]


@pytest.mark.parametrize("case, dtype", DTYPED, ids=[f"{c}-{d}" for c, d in DTYPED])
def test_inference_equals_training_forward_bitwise(case, dtype, backend, monkeypatch):
    reset, det, refr, budget, kappa, rec = case
    p = LIFParams(
        reset=reset,
        detach_reset=det,
        refractory=refr,
        spike_budget=budget,
        adapt_kappa=kappa,
        beta=0.85,
        threshold=0.8,
        slope=5.0,
    )
    gen = torch.Generator().manual_seed(zlib.crc32(str(case).encode()))
    cur = (torch.randn(20, 5, 17, generator=gen, dtype=dtype) * 0.8 + 0.4).requires_grad_()
    w = (torch.randn(17, 17, generator=gen, dtype=dtype) * 0.3).requires_grad_() if rec else None
    s_train, m_train = rlif_multistep(cur, w, p) if rec else lif_multistep(cur, p)
    h_train = run_lif(cur, w, p)
    assert s_train.grad_fn is not None and h_train.grad_fn is not None
    assert s_train.sum() > 0
    _forbid_autograd_function(monkeypatch)
    with torch.no_grad():
        s_inf, m_inf = rlif_multistep(cur, w, p) if rec else lif_multistep(cur, p)
        h_inf = run_lif(cur, w, p)
    # Grad enabled but nothing to differentiate: the inference path as well.
    s_nograd, _ = rlif_multistep(cur.detach(), w.detach(), p) if rec else lif_multistep(cur.detach(), p)
    for out in (s_inf, m_inf, h_inf, s_nograd):
        assert out.grad_fn is None and not out.requires_grad
    assert torch.equal(s_inf, s_train.detach())
    assert torch.equal(m_inf, m_train.detach())
    assert torch.equal(h_inf, h_train.detach())
    assert torch.equal(s_nograd, s_train.detach())


@pytest.mark.parametrize("recurrent", [True, False])
def test_model_prediction_equals_training_forward(recurrent, backend, monkeypatch):
    torch.manual_seed(3)
    net = SpikingNet(12, [32, 16], 4, LIFParams(), recurrent=recurrent)
    x = (torch.rand(25, 9, 12) < 0.4).float()
    train = net(x)
    _forbid_autograd_function(monkeypatch)
    with torch.no_grad():
        pred = net(x)
    assert torch.equal(pred.logits, train.logits.detach())
    for a, b in zip(pred.hidden_spikes, train.hidden_spikes, strict=True):
        assert torch.equal(a, b.detach())


@pytest.mark.parametrize("recurrent", [True, False])
def test_compiled_inference_skips_the_surrogate(recurrent):
    """With ``surrogate=False`` the compiled loops return an empty surrogate: nothing is computed
    or allocated for a backward pass."""
    p = LIFParams()
    ext = kernel._compiled_for(torch.zeros(1, 1, 1), p, recurrent)
    assert ext is not None, "the compiled loops must build on this machine"
    cur = torch.randn(10, 3, 8) + 0.5
    w = torch.randn(8, 8) * 0.3 if recurrent else kernel._empty_like(cur)
    spikes, surr, mems, _ = kernel._compiled_forward(ext, cur, w, p, recurrent, False, False)
    assert surr.numel() == 0 and mems.numel() == 0
    spikes_t, surr_t, _, _ = kernel._compiled_forward(ext, cur, w, p, recurrent, False, True)
    assert surr_t.shape == cur.shape
    assert torch.equal(spikes, spikes_t)
