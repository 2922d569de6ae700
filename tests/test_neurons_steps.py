"""Step functions of the neuron package against hand-traced values and the multi-step kernels."""

import pytest
import torch

from spikesparse.neurons import (
    IFParams,
    IFState,
    LIFParams,
    alif_state,
    alif_step,
    budget_state,
    budget_step,
    if_state,
    if_step,
    lif_multistep,
    lif_state,
    lif_step,
    refractory_state,
    refractory_step,
    rlif_multistep,
    rlif_step,
    run_steps,
)


def test_if_step_hand_traced():
    # input 0.6 each step, threshold 1: v 0.6, 1.2 -> spike, 0.2 + 0.6 = 0.8, 1.4 -> spike, 0.4
    state = if_state(1, 1, torch.zeros(1))
    out = []
    for _ in range(4):
        s, state = if_step(torch.full((1, 1), 0.6), state)
        out.append(s.item())
    assert out == [0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(state.v, torch.full((1, 1), 0.4))


def test_if_threshold_is_inclusive_and_state_not_modified():
    state = IFState(torch.zeros(2, 3))
    s, new = if_step(torch.ones(2, 3), state, IFParams(threshold=1.0))
    assert s.eq(1).all() and new.v.eq(0).all()
    assert state.v.eq(0).all()  # the old state is untouched


def test_if_rate_approximates_activation():
    a = torch.tensor([[0.0, 0.25, 0.5, 0.9, 1.0]])
    state, total = if_state(1, 5, a), torch.zeros(1, 5)
    for _ in range(200):
        s, state = if_step(a, state)
        total += s
    torch.testing.assert_close(total / 200, a, atol=1 / 200, rtol=0)


@pytest.mark.parametrize("threshold", [1.0, 0.3])
def test_if_compiled_step_equals_the_pytorch_operations(threshold, monkeypatch):
    """The compiled step (float32 CPU) against the five PyTorch operations, bit for bit, over a
    long run whose membranes cross the threshold, land on it exactly and go negative."""
    from spikesparse.neurons import steps

    if steps._compiled_if_step(torch.zeros(1), torch.zeros(1)) is None:
        pytest.skip("compiled kernels unavailable (SPIKESPARSE_NO_EXT=1 or no compiler)")
    gen = torch.Generator().manual_seed(0)
    currents = [torch.randn(64, 33, generator=gen) * 0.7 for _ in range(60)]
    currents[3][:, :5] = threshold  # a membrane of exactly the threshold fires (inclusive)
    p = IFParams(threshold=threshold)

    def run():
        state, spikes = if_state(64, 33, currents[0]), []
        for c in currents:
            s, state = if_step(c, state, p)
            spikes.append(s)
        return torch.stack(spikes), state.v

    fast = run()
    monkeypatch.setattr(steps, "_compiled_if_step", lambda *tensors: None)
    slow = run()
    assert fast[0].sum() > 0 and fast[0].dtype == torch.float32
    assert torch.equal(fast[0], slow[0]) and torch.equal(fast[1], slow[1])


def test_if_step_falls_back_where_the_compiled_step_does_not_apply():
    from spikesparse.neurons import steps

    v = torch.zeros(2, 3)
    assert steps._compiled_if_step(torch.zeros(2, 3, dtype=torch.float64), v.double()) is None
    assert steps._compiled_if_step(torch.zeros(1, 3), v) is None  # broadcast
    assert steps._compiled_if_step(torch.zeros(3, 2).t(), v) is None  # not contiguous
    assert steps._compiled_if_step(torch.zeros(2, 3, requires_grad=True), v) is None
    # A gradient flows through the PyTorch operations' path.
    current = torch.full((2, 3), 0.5, requires_grad=True)
    s, state = if_step(current, IFState(torch.zeros(2, 3)))
    state.v.sum().backward()
    assert torch.equal(current.grad, torch.ones(2, 3))


def test_if_params_reject_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        IFParams(threshold=0.0)


# ---- LIF family: the step functions through run_steps equal the multi-step kernels -------------


KINDS = {
    "lif": (dict(), lambda B, N, x, p: lif_state(B, N, x), lif_step),
    "refractory": (dict(refractory=2), lambda B, N, x, p: refractory_state(B, N, x), refractory_step),
    "budget": (dict(spike_budget=3), lambda B, N, x, p: budget_state(B, N, x), budget_step),
    "alif": (dict(adapt_kappa=0.4, adapt_rho=0.8), alif_state, alif_step),
}


@pytest.fixture(params=["compiled", "pytorch"])
def backend(request, monkeypatch):
    if request.param == "pytorch":
        monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
    else:
        monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
    return request.param


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("reset", ["subtract", "zero", "zero_rleaky"])
def test_feed_forward_steps_equal_kernel(kind, reset, backend):
    extra, init, step = KINDS[kind]
    p = LIFParams(beta=0.85, threshold=0.9, reset=reset, **extra)
    gen = torch.Generator().manual_seed(11)
    cur = torch.randn(30, 4, 7, generator=gen, dtype=torch.float64) * 0.7 + 0.45
    s_k, m_k = lif_multistep(cur, p)
    s_s, m_s, _ = run_steps(step, cur, init(4, 7, cur, p), p)
    assert s_k.sum() > 0
    assert torch.equal(s_s, s_k)
    torch.testing.assert_close(m_s, m_k, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("reset", ["subtract", "zero", "zero_rleaky"])
def test_recurrent_step_equals_kernel(reset, backend):
    p = LIFParams(beta=0.9, threshold=0.8, reset=reset)
    gen = torch.Generator().manual_seed(12)
    cur = torch.randn(30, 4, 7, generator=gen, dtype=torch.float64) * 0.6 + 0.4
    w = torch.randn(7, 7, generator=gen, dtype=torch.float64) * 0.3
    s_k, m_k = rlif_multistep(cur, w, p)
    s_s, m_s, _ = run_steps(rlif_step, cur, lif_state(4, 7, cur), w, p)
    assert s_k.sum() > 0
    assert torch.equal(s_s, s_k)
    torch.testing.assert_close(m_s, m_k, atol=1e-12, rtol=1e-12)


def test_steps_refuse_params_of_another_kind():
    x = torch.zeros(1, 1)
    with pytest.raises(ValueError, match="lif_step"):
        lif_step(x, lif_state(1, 1, x), LIFParams(refractory=2))
    with pytest.raises(ValueError, match="refractory_step"):
        refractory_step(x, refractory_state(1, 1, x), LIFParams())
    with pytest.raises(ValueError, match="budget_step"):
        budget_step(x, budget_state(1, 1, x), LIFParams())
    with pytest.raises(ValueError, match="alif_step"):
        alif_step(x, alif_state(1, 1, x, LIFParams()), LIFParams())
