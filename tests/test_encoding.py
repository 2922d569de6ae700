import pytest
import torch

from spikesparse.encoding import encoded_size, rate_encode, receptive_fields


def test_rate_code_is_binary_reproducible_and_matches_probability():
    values = torch.full((4, 500, 3), 0.3)
    a = rate_encode(values, torch.Generator().manual_seed(1))
    b = rate_encode(values, torch.Generator().manual_seed(1))
    assert a.shape == (500, 4, 3)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(a, b)
    assert abs(a.mean().item() - 0.3) < 0.02


def test_population_code_prefers_nearest_center():
    p = receptive_fields(torch.tensor([[[0.0, 1.0]]]), population=5, width=0.15)
    assert p.shape == (1, 1, 10)
    assert p[0, 0, :5].argmax() == 0 and p[0, 0, 5:].argmax() == 4
    assert encoded_size(8, {"name": "rate", "population": 5}) == 40


def test_rate_code_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        rate_encode(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="NaN"):
        rate_encode(torch.full((1, 2, 2), float("nan")))
