import itertools
import zlib

import pytest
import torch

from spikesparse.neurons import (
    LIFParams,
    leaky_readout,
    lif_multistep,
    readout_weights,
    rlif_multistep,
)
from spikesparse.neurons.reference import lif_reference

CONSTRAINTS = list(
    itertools.product(
        ["subtract", "zero", "zero_rleaky"],  # reset
        [True, False],  # detach_reset
        [0, 2],  # refractory
        [None, 2],  # spike_budget
        [0.0, 0.3],  # adapt_kappa (0 = plain LIF)
        [False, True],  # recurrent
    )
)


def _ids(case):
    reset, det, refr, budget, kappa, rec = case
    return f"{reset}-{'det' if det else 'att'}-ref{refr}-bud{budget}-ad{kappa}-{'rec' if rec else 'ff'}"


def _params(case, **fixed) -> tuple[LIFParams, bool]:
    """LIF parameters of one constraint case, and whether the layer is recurrent."""
    reset, det, refr, budget, kappa, rec = case
    p = LIFParams(
        reset=reset, detach_reset=det, refractory=refr, spike_budget=budget, adapt_kappa=kappa, **fixed
    )
    return p, rec


@pytest.fixture(params=["compiled", "pytorch"])
def backend(request, monkeypatch):
    """Run a test on the compiled time loops and on the pure-PyTorch fallback."""
    from spikesparse._ext import extension

    if request.param == "pytorch":
        monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
    else:
        monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
        assert extension() is not None, "the compiled loops must build on this machine"
    return request.param


@pytest.mark.parametrize("case", CONSTRAINTS, ids=[_ids(c) for c in CONSTRAINTS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernel_matches_autograd_reference(case, dtype, backend):
    """Spikes, membranes and every gradient equal the plain step loop within 1e-5."""
    p, rec = _params(case, beta=0.8, threshold=0.7, slope=5.0)
    gen = torch.Generator().manual_seed(zlib.crc32(_ids(case).encode()))
    T, B, N = 16, 4, 6
    cur = (torch.randn(T, B, N, generator=gen, dtype=dtype) * 0.8 + 0.4).requires_grad_()
    w = (torch.randn(N, N, generator=gen, dtype=dtype) * 0.4).requires_grad_() if rec else None
    g_s = torch.randn(T, B, N, generator=gen, dtype=dtype)
    g_m = torch.randn(T, B, N, generator=gen, dtype=dtype)
    leaves = [cur] + ([w] if rec else [])

    s_fast, m_fast = rlif_multistep(cur, w, p) if rec else lif_multistep(cur, p)
    grads_fast = torch.autograd.grad((s_fast * g_s).sum() + (m_fast * g_m).sum(), leaves)
    s_ref, m_ref = lif_reference(cur, p, w)
    grads_ref = torch.autograd.grad((s_ref * g_s).sum() + (m_ref * g_m).sum(), leaves)

    assert s_fast.sum() > 0, "test input should make some neurons fire"
    torch.testing.assert_close(s_fast, s_ref, atol=0, rtol=0)
    torch.testing.assert_close(m_fast, m_ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads_fast, grads_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_lif_forward_hand_computed(backend):
    """beta=0.5, threshold=1, subtract reset: hand-traced membrane and spikes."""
    cur = torch.tensor([0.6, 0.6, 0.6, 0.0, 2.0]).view(5, 1, 1)
    spikes, mem = lif_multistep(cur, LIFParams(beta=0.5, threshold=1.0))
    # mem: 0.6 ; 0.9 ; 1.05 (>1, spike) ; 0.525 - 1 = -0.475 ; -0.2375 + 2 = 1.7625 (spike)
    torch.testing.assert_close(mem.flatten(), torch.tensor([0.6, 0.9, 1.05, -0.475, 1.7625]))
    assert spikes.flatten().tolist() == [0, 0, 1, 0, 1]


def test_zero_reset_hand_computed(backend):
    cur = torch.tensor([1.5, 0.2, 0.2]).view(3, 1, 1)
    spikes, mem = lif_multistep(cur, LIFParams(beta=0.5, threshold=1.0, reset="zero"))
    # 1.5 (spike) ; reset to 0 then + 0.2 = 0.2 ; 0.1 + 0.2 = 0.3
    torch.testing.assert_close(mem.flatten(), torch.tensor([1.5, 0.2, 0.3]))
    assert spikes.flatten().tolist() == [1, 0, 0]


def test_threshold_is_strict():
    spikes, _ = lif_multistep(torch.ones(1, 1, 1), LIFParams(beta=0.0, threshold=1.0))
    assert spikes.item() == 0


def test_refractory_never_fires_twice_within_k():
    k = 3
    cur = torch.full((40, 2, 8), 5.0)  # drives a spike on every allowed step
    spikes, _ = lif_multistep(cur, LIFParams(refractory=k))
    times = spikes[:, 0, 0].nonzero().flatten()
    assert (times.diff() > k).all()
    assert times.diff().eq(k + 1).all()  # and fires again as soon as allowed


def test_spike_budget_caps_spikes():
    spikes, _ = lif_multistep(torch.full((30, 3, 4), 5.0), LIFParams(spike_budget=4))
    assert spikes.sum(0).max() == 4


def test_adaptive_threshold_rises_after_spike():
    p = LIFParams(adapt_kappa=0.5, adapt_rho=0.9)
    cur = torch.full((30, 1, 1), 1.2)
    s_alif, _ = lif_multistep(cur, p)
    s_lif, _ = lif_multistep(cur, LIFParams())
    assert s_alif.sum() < s_lif.sum()
    # the membrane after the first spike has to climb past threshold + kappa to fire again
    _, mem = lif_reference(cur, p)
    first = int(s_alif.flatten().nonzero()[0])
    second = int(s_alif.flatten().nonzero()[1])
    assert mem.flatten()[second] > 1.0 + 0.5 * 0.9 ** (second - first - 1) - 1e-6


def test_compiled_path_is_used_when_it_covers_the_case(monkeypatch):
    from spikesparse.neurons import _compiled_for

    monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
    x = torch.zeros(2, 1, 1)
    assert _compiled_for(x, LIFParams(), recurrent=True) is not None
    assert _compiled_for(x, LIFParams(reset="zero"), recurrent=False) is not None
    assert _compiled_for(x, LIFParams(refractory=2), recurrent=False) is None
    for constrained in (dict(refractory=2), dict(spike_budget=3), dict(adapt_kappa=0.5)):
        assert _compiled_for(x, LIFParams(**constrained), recurrent=True) is not None
    assert _compiled_for(x, LIFParams(reset="zero", refractory=2), recurrent=True) is None
    assert _compiled_for(x, LIFParams(detach_reset=False), recurrent=False) is None
    monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
    assert _compiled_for(x, LIFParams(), recurrent=True) is None


def test_forward_equals_snntorch_leaky(backend):
    import snntorch as snn
    from snntorch import surrogate

    torch.manual_seed(0)
    cur = torch.randn(20, 4, 7) * 0.7 + 0.3
    for reset in ("subtract", "zero"):
        lif = snn.Leaky(
            beta=0.85, threshold=0.9, reset_mechanism=reset, spike_grad=surrogate.fast_sigmoid(25)
        )
        mem = lif.reset_mem()
        spk_ref, mem_ref = [], []
        for t in range(20):
            spk, mem = lif(cur[t], mem)
            spk_ref.append(spk)
            mem_ref.append(mem)
        s, m = lif_multistep(cur, LIFParams(beta=0.85, threshold=0.9, reset=reset))
        torch.testing.assert_close(s, torch.stack(spk_ref))
        torch.testing.assert_close(m, torch.stack(mem_ref), atol=1e-5, rtol=1e-5)


def test_forward_equals_snntorch_rleaky(backend):
    import snntorch as snn
    from snntorch import surrogate

    torch.manual_seed(1)
    n = 6
    cur = torch.randn(25, 3, n) * 0.6 + 0.4
    # RLeaky's zero reset also discards the input and recurrence of the step after a spike,
    # unlike Leaky's (our "zero", tested above): that is our "zero_rleaky".
    for reset, ours in (("subtract", "subtract"), ("zero", "zero_rleaky")):
        rlif = snn.RLeaky(
            beta=0.9,
            linear_features=n,
            threshold=1.0,
            reset_mechanism=reset,
            spike_grad=surrogate.fast_sigmoid(25),
        )
        with torch.no_grad():
            rlif.recurrent.weight.copy_(torch.randn(n, n) * 0.5)
            rlif.recurrent.bias.zero_()
        spk, mem = rlif.init_rleaky()
        spk_ref, mem_ref = [], []
        for t in range(25):
            spk, mem = rlif(cur[t], spk, mem)
            spk_ref.append(spk)
            mem_ref.append(mem)
        s, m = rlif_multistep(cur, rlif.recurrent.weight.detach(), LIFParams(beta=0.9, reset=ours))
        torch.testing.assert_close(s, torch.stack(spk_ref))
        torch.testing.assert_close(m, torch.stack(mem_ref), atol=1e-5, rtol=1e-5)


def test_leaky_readout_equals_step_loop():
    torch.manual_seed(2)
    s = (torch.rand(9, 3, 5) < 0.3).float()
    lin = torch.nn.Linear(5, 2)
    u, acc = torch.zeros(3, 2), torch.zeros(3, 2)
    for t in range(9):
        u = 0.8 * u + lin(s[t])
        acc = acc + u
    torch.testing.assert_close(leaky_readout(s, lin, 0.8), acc / 9)
    torch.testing.assert_close(readout_weights(3, 1.0), torch.tensor([1.0, 2 / 3, 1 / 3]))


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.zeros(4, 3), r"shape \[T, B, N\]"),
        (torch.zeros(0, 2, 3), "at least one time step"),
        (torch.zeros(4, 2, 3, dtype=torch.int64), "floating-point"),
        (torch.full((4, 2, 3), float("nan")), "NaN"),
    ],
)
def test_kernel_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        lif_multistep(bad)


def test_params_reject_bad_values():
    with pytest.raises(ValueError, match="refractory"):
        LIFParams(refractory=-1)
    with pytest.raises(ValueError, match="spike_budget"):
        LIFParams(spike_budget=0)
    with pytest.raises(ValueError, match="reset"):
        LIFParams(reset="hard")
    with pytest.raises(ValueError, match="w_rec"):
        rlif_multistep(torch.zeros(3, 2, 4), torch.zeros(3, 3))


@pytest.mark.parametrize("case", CONSTRAINTS[::3], ids=[_ids(c) for c in CONSTRAINTS[::3]])
def test_spikes_only_path_matches_reference(case, backend):
    """``run_lif`` (used by the models) reuses the membrane buffer; its gradients must not change."""
    from spikesparse.neurons import run_lif

    p, rec = _params(case, beta=0.85, threshold=0.6, slope=4.0)
    gen = torch.Generator().manual_seed(zlib.crc32(_ids(case).encode()) + 1)
    cur = (torch.randn(12, 3, 5, generator=gen, dtype=torch.float64) + 0.3).requires_grad_()
    w = (torch.randn(5, 5, generator=gen, dtype=torch.float64) * 0.4).requires_grad_() if rec else None
    g = torch.randn(12, 3, 5, generator=gen, dtype=torch.float64)
    leaves = [cur] + ([w] if rec else [])
    s_fast = run_lif(cur, w, p)
    s_ref, _ = lif_reference(cur, p, w)
    torch.testing.assert_close(s_fast, s_ref, atol=0, rtol=0)
    for a, b in zip(
        torch.autograd.grad((s_fast * g).sum(), leaves),
        torch.autograd.grad((s_ref * g).sum(), leaves),
        strict=True,
    ):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("case", CONSTRAINTS[::2], ids=[_ids(c) for c in CONSTRAINTS[::2]])
@pytest.mark.parametrize("spike_grad", [False, True], ids=["pool-only", "pool+spikes"])
def test_pooled_output_is_bit_identical_to_the_two_calls(case, spike_grad, backend):
    """``run_lif(..., pool=c)`` returns the spikes and ``time_pool(spikes, c)`` and forms the sum's
    gradient inside the layer's backward: outputs and every gradient must equal, bit for bit,
    ``run_lif`` followed by ``time_pool`` with autograd adding the two gradients (float32, the
    study's dtype; with and without a second gradient reaching the spikes, as a penalty gives)."""
    from spikesparse.neurons import run_lif
    from spikesparse.neurons.readout import time_pool

    p, rec = _params(case, beta=0.9, threshold=1.0, slope=25.0)
    gen = torch.Generator().manual_seed(zlib.crc32(_ids(case).encode()) + 7)
    cur = (torch.randn(15, 6, 33, generator=gen) * 0.8 + 0.5).requires_grad_()
    w = (torch.randn(33, 33, generator=gen) * 0.3).requires_grad_() if rec else None
    g_pool = torch.randn(6, 33, generator=gen)
    g_spk = torch.randn(15, 6, 33, generator=gen)
    c = readout_weights(15, 0.9)
    leaves = [cur] + ([w] if rec else [])

    def loss_and_outputs(fused: bool):
        if fused:
            s, pooled = run_lif(cur, w, p, pool=c)
        else:
            s = run_lif(cur, w, p)
            pooled = time_pool(s, c)
        loss = (pooled * g_pool).sum() + ((s * g_spk).sum() if spike_grad else 0.0)
        return loss, s, pooled

    loss_f, s_f, pool_f = loss_and_outputs(True)
    loss_r, s_r, pool_r = loss_and_outputs(False)
    assert torch.equal(s_f, s_r) and torch.equal(pool_f, pool_r)
    for a, b in zip(torch.autograd.grad(loss_f, leaves), torch.autograd.grad(loss_r, leaves), strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():  # the inference path returns the same pair
        s_i, pool_i = run_lif(cur, w, p, pool=c)
    assert torch.equal(s_i, s_r) and torch.equal(pool_i, pool_r)


def test_time_weights_are_computed_once_and_equal_readout_weights():
    from spikesparse.neurons.readout import time_weights

    c, c_sum = time_weights(7, 0.85)
    assert torch.equal(c, readout_weights(7, 0.85)) and torch.equal(c_sum, c.sum())
    assert time_weights(7, 0.85)[0] is c  # cached: a model asks every forward pass
    assert time_weights(7, 0.85, dtype=torch.float64)[0].dtype == torch.float64


CONSTRAINED = [dict(refractory=3), dict(spike_budget=4), dict(adapt_kappa=0.5, adapt_rho=0.95),
               dict(refractory=2, spike_budget=3, adapt_kappa=0.3)]  # fmt: skip


@pytest.mark.parametrize("constraint", CONSTRAINED, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_constrained_recurrent_layer_is_bit_identical_on_both_paths(constraint, monkeypatch):
    """The compiled recurrent loop with a refractory period, a spike budget or ALIF rounds as the
    PyTorch loop (std::fma where ATen fuses): in float32, the study's dtype, at one thread as the
    study runs, spikes, membranes, the readout pooling and every gradient (through spikes,
    membranes and the pooling) are equal bit for bit, and so is the inference path."""
    from spikesparse.neurons import run_lif
    from spikesparse.neurons.kernel import _compiled_for

    p = LIFParams(beta=0.9, threshold=1.0, slope=25.0, **constraint)
    gen = torch.Generator().manual_seed(zlib.crc32(repr(constraint).encode()))
    T, B, N = 40, 16, 24
    cur = (torch.randn(T, B, N, generator=gen) * 0.8 + 0.3).requires_grad_()
    w = (torch.randn(N, N, generator=gen) * 0.2).requires_grad_()
    g_s, g_m = torch.randn(T, B, N, generator=gen), torch.randn(T, B, N, generator=gen)
    g_pool = torch.randn(B, N, generator=gen)
    c = readout_weights(T, 0.9)

    def results(path: str):
        if path == "pytorch":
            monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
        else:
            monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
            assert _compiled_for(cur, p, recurrent=True) is not None
        s, m = rlif_multistep(cur, w, p)
        grads = torch.autograd.grad((s * g_s).sum() + (m * g_m).sum(), [cur, w])
        s_p, pooled = run_lif(cur, w, p, pool=c)
        grads_p = torch.autograd.grad((s_p * g_s).sum() + (pooled * g_pool).sum(), [cur, w])
        with torch.no_grad():
            s_i, m_i = rlif_multistep(cur, w, p)
        return [s, m, *grads, s_p, pooled, *grads_p, s_i, m_i]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        compiled, pytorch = results("compiled"), results("pytorch")
    finally:
        torch.set_num_threads(threads)
    assert compiled[0].sum() > 0 and (compiled[0] == 0).any()
    for a, b in zip(compiled, pytorch, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("case", CONSTRAINTS[::2], ids=[_ids(c) for c in CONSTRAINTS[::2]])
@pytest.mark.parametrize("others", ["counts-only", "spikes", "pool", "spikes+pool"])
def test_counts_output_is_bit_identical_to_summing_the_spikes(case, others, backend):
    """``run_lif(..., counts=True)`` also returns ``spikes.sum(0)`` and takes the counts' gradient
    inside the layer's backward: the counts and every gradient must equal, bit for bit, summing
    the returned spikes with autograd adding the gradients, alone and together with a gradient
    on the spikes themselves and with the readout's pooling (float32)."""
    from spikesparse.neurons import run_lif

    p, rec = _params(case, beta=0.9, threshold=1.0, slope=25.0)
    gen = torch.Generator().manual_seed(zlib.crc32(_ids(case).encode()) + 11)
    cur = (torch.randn(14, 5, 31, generator=gen) * 0.8 + 0.5).requires_grad_()
    w = (torch.randn(31, 31, generator=gen) * 0.3).requires_grad_() if rec else None
    g_cnt, g_pool = torch.randn(5, 31, generator=gen), torch.randn(5, 31, generator=gen)
    g_spk = torch.randn(14, 5, 31, generator=gen)
    pool = readout_weights(14, 0.9) if "pool" in others else None
    leaves = [cur] + ([w] if rec else [])

    def loss_and_outputs(fused: bool):
        out = run_lif(cur, w, p, pool=pool, counts=fused)
        out = out if isinstance(out, tuple) else (out,)
        s, counts = out[0], out[-1] if fused else out[0].sum(dim=0)
        loss = (counts * g_cnt).sum()
        if "spikes" in others:
            loss = loss + (s * g_spk).sum()
        if pool is not None:
            loss = loss + (out[1] * g_pool).sum()
        return loss, s, counts

    loss_f, s_f, c_f = loss_and_outputs(True)
    loss_r, s_r, c_r = loss_and_outputs(False)
    assert torch.equal(s_f, s_r) and torch.equal(c_f, c_r) and c_f.sum() > 0
    for a, b in zip(torch.autograd.grad(loss_f, leaves), torch.autograd.grad(loss_r, leaves), strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():  # the inference path returns the same counts
        c_i = run_lif(cur, w, p, pool=pool, counts=True)[-1]
    assert torch.equal(c_i, c_r)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("threads", [1, 2])
def test_feedforward_loops_give_each_neuron_the_same_numbers_in_any_tile(reset, threads):
    """The compiled feed-forward loops run neurons in tiles (each tile's whole time loop, then the
    next). Neurons are independent, so a neuron's spikes, surrogate, count and current gradient
    must not depend on which tile it falls in, how many neurons sit beside it or how many threads
    run: a layer of 3 tiles and a remainder gives, bit for bit, what each of its neurons gives
    alone in a one-neuron layer."""
    from spikesparse._ext import extension

    ext = extension()
    assert ext is not None, "the compiled loops must build on this machine"
    gen = torch.Generator().manual_seed(7)
    T, B, N = 6, 3, 2048 + 37  # B * N = 3 tiles of 2,048 neurons and a remainder
    cur = torch.randn(T, B, N, generator=gen) * 0.8 + 0.4
    g_s, g_m = torch.randn(T, B, N, generator=gen), torch.randn(T, B, N, generator=gen)
    g_c, g_p = torch.randn(B, N, generator=gen), torch.randn(B, N, generator=gen)
    c = readout_weights(T, 0.9)
    zero = reset == "zero"
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:

        def layer(x, gs, gm, gc, gp):
            s, sg, m, n = ext.ff_forward(x, 0.9, 1.0, 25.0, zero, True, True)
            grad = ext.ff_backward(gs, gm, sg, s, 0.9, zero, pool_c=c, grad_pooled=gp, grad_counts=gc)
            return [s, sg, m, n, grad]

        whole = layer(cur, g_s, g_m, g_c, g_p)
    finally:
        torch.set_num_threads(previous)
    assert 0 < whole[0].mean() < 1
    for b, i in [(0, 0), (1, 2047), (2, 5), (2, 2048), (2, N - 1), (1, 1000)]:
        alone = layer(*(t[..., b : b + 1, i : i + 1].contiguous() for t in (cur, g_s, g_m, g_c, g_p)))
        for a, w in zip(alone, whole, strict=True):
            assert torch.equal(a.squeeze(), w[..., b, i])
