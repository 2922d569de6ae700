"""Spike encoders: values in [0, 1] -> time-major spike tensors ``[T, B, C]``."""

from __future__ import annotations

import torch


def receptive_fields(values: torch.Tensor, population: int, width: float) -> torch.Tensor:
    """Gaussian receptive fields: each value in [0, 1] -> ``population`` firing probabilities,
    neuron k preferring ``k / (population - 1)``. ``[B, T, C]`` -> ``[B, T, C * population]``."""
    centers = torch.linspace(0.0, 1.0, population, dtype=values.dtype, device=values.device)
    p = torch.exp(-((values.unsqueeze(-1) - centers) ** 2) / (2 * width**2))
    return p.reshape(*values.shape[:-1], values.shape[-1] * population)


def rate_encode(
    values: torch.Tensor,
    generator: torch.Generator | None = None,
    gain: float = 1.0,
    population: int = 1,
    width: float = 0.15,
) -> torch.Tensor:
    """Bernoulli rate code of a sequence ``[B, T, C]``: one draw per step and input neuron.

    ``population == 1``: one neuron per channel, p = gain * value. ``population > 1``: each
    channel is read by a population with Gaussian receptive fields (``receptive_fields``), so a
    single draw per step carries far more information about the value than one Bernoulli coin.
    The randomness comes from ``generator`` so a run is reproducible from its seed.
    """
    if values.dim() != 3:
        raise ValueError(f"values must have shape [B, T, C], got {tuple(values.shape)}")
    if torch.isnan(values).any():
        raise ValueError("values contain NaN")
    if gain <= 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    if population < 1:
        raise ValueError(f"population must be >= 1, got {population}")
    if population > 1:
        values = receptive_fields(values, population, width)
    p = (values * gain).clamp_(0.0, 1.0).transpose(0, 1)
    noise = torch.rand(p.shape, generator=generator, dtype=p.dtype, device="cpu").to(p.device)
    return (noise < p).to(values.dtype).contiguous()


ENCODERS = {"rate": rate_encode}


def encoded_size(n_channels: int, spec: dict) -> int:
    """Number of input neurons an encoder produces for ``n_channels`` channels."""
    return n_channels * int(spec.get("population", 1))


def encode(values: torch.Tensor, spec: dict, generator: torch.Generator | None) -> torch.Tensor:
    """Encode with the encoder named in ``spec["name"]`` and its parameters."""
    params = {k: v for k, v in spec.items() if k != "name"}
    if spec["name"] not in ENCODERS:
        raise ValueError(f"unknown encoding {spec['name']!r}; known: {sorted(ENCODERS)}")
    return ENCODERS[spec["name"]](values, generator, **params)
