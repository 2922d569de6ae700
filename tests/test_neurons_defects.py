"""Defects found off the study's path, each with a test that failed before its fix.

The zero reset in snnTorch RLeaky's form (``reset="zero_rleaky"``; ``"zero"`` stays Leaky's,
which NIR's LIF with a recurrent edge also means) is tested against snnTorch in
``test_neurons.py::test_forward_equals_snntorch_rleaky`` and against the autograd reference in
``test_neurons.py::test_kernel_matches_autograd_reference``.
"""

import pytest
import torch

from spikesparse.models import SpikingNet
from spikesparse.neurons import LIFParams, check_sequence, lif_multistep, rlif_multistep, run_lif
from spikesparse.neurons.reference import lif_reference


def test_finite_input_whose_float32_sum_overflows_is_accepted():
    x = torch.full((4, 2, 3), 3.0e38)  # every value finite, the float32 sum is inf
    assert not torch.isfinite(x.sum())
    check_sequence(x, "x")
    spikes, _ = lif_multistep(x)
    assert spikes[0].eq(1).all()


def test_finite_float64_input_whose_sum_overflows_is_accepted():
    x = torch.full((2, 2, 2), 1.0e308, dtype=torch.float64)
    check_sequence(x, "x")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_non_finite_input_is_still_rejected(bad, dtype):
    x = torch.zeros(3, 2, 2, dtype=dtype)
    x[1, 0, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_sequence(x, "x")


LOW = [torch.float16, torch.bfloat16]
KINDS = [
    LIFParams(beta=0.9, threshold=0.8),
    LIFParams(reset="zero"),
    LIFParams(refractory=2),
    LIFParams(adapt_kappa=0.3),
]


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("p", KINDS, ids=["lif", "zero", "refractory", "alif"])
def test_half_precision_on_cpu_runs_and_matches_reference(dtype, recurrent, p, monkeypatch):
    """float16/bfloat16 on CPU: the compiled loops (float32/64 only) hand over to the PyTorch
    loop instead of crashing; spikes equal the step-by-step reference in the same dtype."""
    monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
    gen = torch.Generator().manual_seed(5)
    cur = (torch.randn(12, 3, 6, generator=gen) * 0.8 + 0.5).to(dtype).requires_grad_()
    w = (torch.randn(6, 6, generator=gen) * 0.3).to(dtype).requires_grad_() if recurrent else None
    s, m = rlif_multistep(cur, w, p) if recurrent else lif_multistep(cur, p)
    s_ref, _ = lif_reference(cur, p, w)
    assert s.dtype == dtype and m.dtype == dtype
    assert s.sum() > 0
    if dtype == torch.float16:
        assert torch.equal(s, s_ref)
    else:
        # bfloat16 keeps 8 mantissa bits: the folded reset (W - theta I) rounds differently from
        # the reference's separate subtraction, and a flipped spike feeds back; most must agree.
        assert (s == s_ref).float().mean() > 0.9
    leaves = [cur] + ([w] if recurrent else [])
    grads = torch.autograd.grad(s.float().sum() + m.float().sum(), leaves)
    assert all(g.dtype == dtype and torch.isfinite(g.float()).all() for g in grads)
    with torch.no_grad():
        assert torch.equal(run_lif(cur, w, p), s)


@pytest.mark.parametrize("recurrent", [False, True])
def test_bfloat16_model_trains_on_cpu(recurrent):
    torch.manual_seed(0)
    net = SpikingNet(5, [8], 3, LIFParams(), recurrent=recurrent).to(torch.bfloat16)
    out = net((torch.rand(10, 4, 5) < 0.5).to(torch.bfloat16))
    out.logits.float().sum().backward()
    assert net.layers[0].weight.grad is not None


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(beta="0.9"), TypeError, "beta must be a real number, got str '0.9'"),
        (dict(threshold=True), TypeError, "threshold must be a real number, got bool True"),
        (dict(slope=torch.tensor(25.0)), TypeError, "slope must be a real number, got Tensor"),
        (dict(threshold=float("inf")), ValueError, "threshold must be finite, got inf"),
        (dict(adapt_kappa=float("nan")), ValueError, "adapt_kappa must be finite, got nan"),
        (dict(refractory=1.5), ValueError, "refractory must be a whole number >= 0, got 1.5"),
        (dict(spike_budget=2.5), ValueError, "spike_budget must be a whole number >= 1, got 2.5"),
        (dict(spike_budget="3"), ValueError, "spike_budget must be a whole number >= 1, got '3'"),
        (dict(detach_reset=1), TypeError, "detach_reset must be True or False, got 1"),
    ],
)
def test_a_parameter_of_the_wrong_kind_is_named(kwargs, error, match):
    """Before, a NaN adaptation, an infinite threshold and 1.5 refractory steps were accepted, and
    a string failed inside a comparison whose message named no parameter."""
    with pytest.raises(error, match=match):
        LIFParams(**kwargs)


def test_whole_numbers_in_any_numeric_type_are_accepted():
    import numpy as np

    p = LIFParams(refractory=2.0, spike_budget=np.int32(4))
    assert (p.refractory, p.spike_budget) == (2, 4) and type(p.refractory) is type(p.spike_budget) is int
    # ... and through the recurrent compiled constrained loop, which takes the counts as C++
    # integers: before, refractory=2.0 failed there with pybind's "incompatible function arguments".
    w = torch.eye(3) * 0.1
    current = torch.full((6, 2, 3), 0.8)
    spikes, _ = rlif_multistep(current, w, p)
    assert torch.equal(spikes, rlif_multistep(current, w, LIFParams(refractory=2, spike_budget=4))[0])
    assert LIFParams(beta=np.float32(0.5), threshold=1).beta == np.float32(0.5)
