import pytest
import torch

from spikesparse.study.encoding import (
    ENCODERS,
    SplitCode,
    encode,
    encoded_size,
    latency_encode,
    rate_encode,
    receptive_fields,
)


def test_rate_code_is_binary_reproducible_and_matches_probability():
    values = torch.full((4, 500, 3), 0.3)
    a = rate_encode(values, torch.Generator().manual_seed(1))
    b = rate_encode(values, torch.Generator().manual_seed(1))
    assert a.shape == (500, 4, 3)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(a, b)
    assert abs(a.mean().item() - 0.3) < 0.02


def test_rate_code_of_static_input_draws_every_step():
    values = torch.tensor([[0.0, 0.5, 1.0]])
    s = rate_encode(values, torch.Generator().manual_seed(0), n_steps=2000)
    assert s.shape == (2000, 1, 3)
    rates = s.mean(0)[0]
    assert rates[0] == 0 and rates[2] == 1 and abs(rates[1].item() - 0.5) < 0.04


def test_population_code_prefers_nearest_center():
    p = receptive_fields(torch.tensor([[[0.0, 1.0]]]), population=5, width=0.15)
    assert p.shape == (1, 1, 10)
    assert p[0, 0, :5].argmax() == 0 and p[0, 0, 5:].argmax() == 4
    assert encoded_size(8, {"name": "rate", "population": 5}) == 40
    assert encoded_size(64, {"name": "latency", "n_steps": 8}) == 64


def test_rate_code_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        rate_encode(torch.zeros(3))
    with pytest.raises(ValueError, match="n_steps"):
        rate_encode(torch.zeros(3, 4))  # static input without a number of steps
    with pytest.raises(ValueError, match="sequence"):
        rate_encode(torch.zeros(1, 5, 2), n_steps=7)
    with pytest.raises(ValueError, match="NaN"):
        rate_encode(torch.full((1, 2, 2), float("nan")))


def test_latency_code_fires_larger_inputs_earlier_and_at_most_once():
    values = torch.tensor([[1.0, 0.75, 0.5, 0.25, 0.02, 0.0]])
    s = latency_encode(values, n_steps=5, threshold=0.05)
    assert s.shape == (5, 1, 6)
    per_input = s.sum(0)[0]
    assert per_input.tolist() == [1, 1, 1, 1, 0, 0]  # at most one spike; sub-threshold inputs silent
    first = s[:, 0, :4].argmax(0).tolist()
    assert first == [0, 1, 2, 3]  # step round((1 - v) * (T - 1)): larger value, earlier spike
    assert all(a < b for a, b in zip(first, first[1:], strict=False))


def test_latency_code_property_on_random_inputs():
    values = torch.rand(64, 20, generator=torch.Generator().manual_seed(3))
    s = latency_encode(values, n_steps=16)
    assert s.sum(0).max() <= 1
    t = torch.where(s.sum(0) > 0, s.argmax(0).float(), torch.tensor(float("inf")))
    a, b = values[:, :-1], values[:, 1:]
    ta, tb = t[:, :-1], t[:, 1:]
    firing = torch.isfinite(ta) & torch.isfinite(tb)
    assert torch.all(ta[firing & (a > b)] <= tb[firing & (a > b)])


def test_latency_code_rejects_sequences_and_encode_names_the_encoder():
    with pytest.raises(ValueError, match="static"):
        latency_encode(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="unknown encoding"):
        encode(torch.zeros(2, 3), {"name": "phase"}, None)
    out = encode(torch.ones(2, 3), {"name": "latency", "n_steps": 4}, None)
    assert out[0].sum() == 6


@pytest.mark.parametrize(
    "shape, spec",
    [
        ((37, 20, 3), {"name": "rate", "population": 9, "width": 0.08, "gain": 2.0}),
        ((37, 6), {"name": "rate", "n_steps": 11, "population": 5}),
        ((37, 6), {"name": "rate", "n_steps": 7}),
        ((37, 6), {"name": "latency", "n_steps": 16, "threshold": 0.05}),
    ],
)
def test_split_code_batches_equal_encoding_each_batch(shape, spec):
    """Training encodes from a SplitCode: every batch (random index, slice, the short last one)
    must equal encoding that batch's values directly with the same generator, draw for draw."""
    values = torch.rand(shape, generator=torch.Generator().manual_seed(5))
    code = SplitCode(values, spec)
    assert len(code) == 37 and code.prepared
    perm = torch.randperm(37, generator=torch.Generator().manual_seed(6))
    g_split, g_direct = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    for index in (perm[:16], perm[16:32], perm[32:], slice(0, 16), slice(32, 48)):
        got = code.batch(index, g_split)
        want = encode(values[index], spec, g_direct)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert torch.equal(got, want)


@pytest.mark.parametrize(
    "spec",
    [{"name": "rate", "n_steps": 5, "population": 3}, {"name": "latency", "n_steps": 8}],
)
def test_a_split_too_large_to_prepare_is_encoded_per_batch_with_the_same_spikes(spec):
    """A large dataset's prepared code would not fit in memory: beyond ``max_bytes`` the split is
    encoded batch by batch, with the same spikes as the prepared path."""
    values = torch.rand(12, 4, generator=torch.Generator().manual_seed(0))
    assert SplitCode.prepared_bytes(values, spec) == 12 * 4 * 4 * (3 if spec["name"] == "rate" else 8)
    prepared = SplitCode(values, spec)
    small = SplitCode(values, spec, max_bytes=SplitCode.prepared_bytes(values, spec) - 1)
    assert prepared.prepared and not small.prepared
    index = torch.tensor([3, 0, 7])
    a = prepared.batch(index, torch.Generator().manual_seed(1))
    b = small.batch(index, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_split_code_calls_other_encoders_per_batch(monkeypatch):
    """An encoder the study does not know how to split (e.g. a plugin's) is called per batch."""
    calls = []

    def phase_encode(values, generator, n_steps=3):
        calls.append(len(values))
        return values.unsqueeze(0).repeat(n_steps, 1, 1)

    monkeypatch.setitem(ENCODERS, "phase", phase_encode)
    code = SplitCode(torch.rand(10, 4), {"name": "phase", "n_steps": 2})
    assert not code.prepared
    out = code.batch(slice(0, 4), None)
    assert out.shape == (2, 4, 4) and calls == [4]
    with pytest.raises(ValueError, match="unknown encoding"):
        SplitCode(torch.rand(10, 4), {"name": "nope"})
    with pytest.raises(ValueError, match="NaN"):
        SplitCode(torch.full((3, 2), float("nan")), {"name": "rate", "n_steps": 2})
    with pytest.raises(ValueError, match="n_steps"):
        SplitCode(torch.rand(3, 2), {"name": "rate"})


def _literal_draw(p, generator, index):
    """The rate code's definition: torch.rand over [T, B, C], compared with p[index]."""
    p = p[index].transpose(0, 1)
    return (torch.rand(p.shape, generator=generator) < p).float()


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("offset", [0, 1, 623, 700])
def test_compiled_draw_is_torch_rand_bit_for_bit_and_leaves_the_same_generator_state(static, offset):
    """The fused gather-draw-compare must see torch.rand's numbers in torch.rand's order from any
    position of the Mersenne Twister (``offset`` draws taken before; 624 per state rebuild), and
    leave the generator where torch.rand would, so the draws after it agree too."""
    from spikesparse import _ext

    ext = _ext.extension()
    assert ext is not None and hasattr(ext, "rate_spikes")
    gen = torch.Generator().manual_seed(3)
    if static:
        p = torch.rand(50, 13, generator=gen).unsqueeze(1).expand(-1, 9, -1)
    else:
        p = torch.rand(50, 9, 13, generator=gen)
    index = torch.randperm(50, generator=gen)[:21]
    g_fused, g_literal = torch.Generator().manual_seed(8), torch.Generator().manual_seed(8)
    torch.rand(offset, generator=g_fused), torch.rand(offset, generator=g_literal)
    for _ in range(4):  # 9 x 21 x 13 = 2457 draws each: several state rebuilds
        fused = ext.rate_spikes(p, index, g_fused)
        assert torch.equal(fused, _literal_draw(p, g_literal, index))
        assert torch.equal(g_fused.get_state(), g_literal.get_state())
    assert torch.equal(torch.rand(5, generator=g_fused), torch.rand(5, generator=g_literal))


def test_rate_code_is_the_same_with_and_without_the_compiled_draw(monkeypatch):
    """SPIKESPARSE_NO_EXT=1 (or no compiler) draws with torch.rand: the same spikes, so a study
    on a machine without the extension reproduces the rate-coded inputs exactly."""
    values = torch.rand(30, 6, generator=torch.Generator().manual_seed(2))
    spec = {"name": "rate", "n_steps": 11, "population": 5}
    index = torch.tensor([4, 29, 0, 7])
    fused = SplitCode(values, spec).batch(index, torch.Generator().manual_seed(9))
    monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
    plain = SplitCode(values, spec).batch(index, torch.Generator().manual_seed(9))
    assert torch.equal(fused, plain) and fused.shape == (11, 4, 30)
    assert fused.sum() > 0


def test_compiled_draw_uses_the_default_generator_like_torch_rand():
    from spikesparse import _ext

    p = torch.full((4, 10, 6), 0.5)
    torch.manual_seed(3)
    want = (torch.rand(10, 4, 6) < 0.5).float()
    state = torch.get_rng_state()
    torch.manual_seed(3)
    assert torch.equal(_ext.extension().rate_spikes(p, torch.arange(4), None), want)
    assert torch.equal(torch.get_rng_state(), state)


def test_compiled_draw_rejects_an_index_out_of_range():
    from spikesparse import _ext

    with pytest.raises(RuntimeError, match="out of range"):
        _ext.extension().rate_spikes(torch.rand(3, 2, 4), torch.tensor([0, 3]), None)


def test_shared_split_code_is_built_once_per_array_and_spec_and_rebuilt_after_a_change():
    """The runs of one training job share each split's prepared code; a different spec, a
    different array or an array changed in place gets its own, and the cache stays bounded."""
    import numpy as np

    from spikesparse.study import encoding

    values = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    spec = {"name": "rate", "n_steps": 5, "population": 3}
    code = encoding.shared_split_code(values, spec)
    assert encoding.shared_split_code(values, spec) is code
    assert encoding.shared_split_code(values, {**spec, "population": 4}) is not code
    assert encoding.shared_split_code(values.copy(), spec) is not code
    values[3, 2] += 0.5  # changed in place: its old code would be stale
    fresh = encoding.shared_split_code(values, spec)
    assert fresh is not code
    want = SplitCode(torch.from_numpy(values.copy()), spec).batch(
        slice(0, 20), torch.Generator().manual_seed(1)
    )
    assert torch.equal(fresh.batch(slice(0, 20), torch.Generator().manual_seed(1)), want)
    for i in range(encoding.SHARED_CODES_KEPT + 3):
        encoding.shared_split_code(values, {**spec, "n_steps": 6 + i})
    assert len(encoding._SHARED_CODES) == encoding.SHARED_CODES_KEPT
