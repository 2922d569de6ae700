"""The recurrent loops' direct BLAS route (packed MKL GEMM) against the at::addmm route."""

import pytest
import torch

from spikesparse.neurons import LIFParams, rlif_multistep


@pytest.fixture
def ext(monkeypatch):
    from spikesparse._ext import extension

    monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
    module = extension()
    assert module is not None, "the compiled loops must build on this machine"
    yield module
    module.set_direct_blas(True)


def _run(ext, direct: bool, dtype=torch.float32):
    ext.set_direct_blas(direct)
    gen = torch.Generator().manual_seed(7)
    cur = (torch.randn(40, 6, 24, generator=gen, dtype=dtype) * 0.6 + 0.35).requires_grad_()
    w = (torch.randn(24, 24, generator=gen, dtype=dtype) * 0.3).requires_grad_()
    g = torch.randn(40, 6, 24, generator=gen, dtype=dtype)
    s, m = rlif_multistep(cur, w, LIFParams(beta=0.9, threshold=0.8, slope=5.0))
    grads = torch.autograd.grad((s * g).sum() + (m * g).sum(), [cur, w])
    return s, m, grads


def test_direct_blas_route_matches_aten(ext):
    assert ext.direct_blas_route() in ("packed", "plain", "aten")
    s_d, m_d, g_d = _run(ext, True)
    s_a, m_a, g_a = _run(ext, False)
    assert ext.direct_blas_route() == "aten"
    assert 0 < s_d.sum() < s_d.numel()
    torch.testing.assert_close(s_d, s_a, atol=0, rtol=0)
    torch.testing.assert_close(m_d, m_a, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_d, g_a, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_double_precision_takes_the_aten_route_unchanged(ext):
    s_d, m_d, g_d = _run(ext, True, torch.float64)
    s_a, m_a, g_a = _run(ext, False, torch.float64)
    assert torch.equal(s_d, s_a) and torch.equal(m_d, m_a)
    for a, b in zip(g_d, g_a, strict=True):
        assert torch.equal(a, b)


def test_threads_split_the_batch_without_changing_results(ext):
    """With 2 threads each thread runs the time loop on its own batch rows (no barrier per step);
    the result must equal the 1-thread run (same spikes, membranes and gradients to rounding)."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run(ext, True)
        torch.set_num_threads(2)
        two = _run(ext, True)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one[0], two[0])
    torch.testing.assert_close(one[1], two[1], atol=1e-5, rtol=1e-5)
    # The weight gradient sums T x B products in one multi-threaded matmul: another summation order.
    for a, b in zip(one[2], two[2], strict=True):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("direct", [True, False])
def test_step_gemm_sum_is_the_sum_of_the_step_products(ext, threads, direct):
    """The benchmark's matmul-only bound of the recurrent steps must do the loops' products:
    sum_t a[t] @ bm, for a non-square matrix and a batch split unevenly between threads."""
    ext.set_direct_blas(direct)
    before = torch.get_num_threads()
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(9, 7, 5, generator=gen)
    bm = torch.randn(5, 11, generator=gen)
    try:
        torch.set_num_threads(threads)
        got = ext.step_gemm_sum(a, bm)
    finally:
        torch.set_num_threads(before)
    assert got.shape == (7, 11)
    torch.testing.assert_close(got, torch.einsum("tbk,kn->bn", a, bm), atol=1e-4, rtol=1e-4)
    with pytest.raises(RuntimeError, match="step_gemm_sum"):
        ext.step_gemm_sum(a, torch.randn(4, 11))
