"""Spike encoders: values in [0, 1] -> time-major spike tensors ``[T, B, C]``.

Sequence data (``[B, T, C]``) gives one step per sample of the sequence. Static data (``[B, C]``,
e.g. digits) is presented for ``n_steps`` steps: the rate code draws a fresh Bernoulli sample each
step, the latency code fires each input once, earlier for larger values.
"""

from __future__ import annotations

import torch

from .components import declare

# Steps a static input is presented for; sequence data sets its own (``as_sequence``).
N_STEPS = {"type": "integer", "minimum": 1}


def receptive_fields(values: torch.Tensor, population: int, width: float) -> torch.Tensor:
    """Gaussian receptive fields: each value in [0, 1] -> ``population`` firing probabilities,
    neuron k preferring ``k / (population - 1)``. ``[B, T, C]`` -> ``[B, T, C * population]``."""
    centers = torch.linspace(0.0, 1.0, population, dtype=values.dtype, device=values.device)
    p = torch.exp(-((values.unsqueeze(-1) - centers) ** 2) / (2 * width**2))
    return p.reshape(*values.shape[:-1], values.shape[-1] * population)


def as_sequence(values: torch.Tensor, n_steps: int | None) -> torch.Tensor:
    """``[B, T, C]`` stays; static ``[B, C]`` is repeated over ``n_steps`` steps."""
    if values.dim() == 2:
        if not n_steps or n_steps < 1:
            raise ValueError("static input [B, C] needs n_steps >= 1 in the encoding")
        return values.unsqueeze(1).expand(-1, n_steps, -1)
    if values.dim() == 3:
        if n_steps is not None and n_steps != values.shape[1]:
            raise ValueError(
                f"n_steps={n_steps} given for sequence input with {values.shape[1]} steps; "
                "sequence data sets its own length (leave n_steps out)"
            )
        return values
    raise ValueError(f"values must have shape [B, T, C] or [B, C], got {tuple(values.shape)}")


@declare(
    {
        "gain": {"type": "number", "exclusiveMinimum": 0},
        "population": {"type": "integer", "minimum": 1},
        "width": {"type": "number", "exclusiveMinimum": 0},
        "n_steps": N_STEPS,
    }
)
def rate_encode(
    values: torch.Tensor,
    generator: torch.Generator | None = None,
    gain: float = 1.0,
    population: int = 1,
    width: float = 0.15,
    n_steps: int | None = None,
) -> torch.Tensor:
    """Bernoulli rate code of a sequence ``[B, T, C]``: one draw per step and input neuron.

    ``population == 1``: one neuron per channel, p = gain * value. ``population > 1``: each
    channel is read by a population with Gaussian receptive fields (``receptive_fields``), so a
    single draw per step carries far more information about the value than one Bernoulli coin.
    The randomness comes from ``generator`` so a run is reproducible from its seed. Static
    input ``[B, C]`` is presented for ``n_steps`` steps with a fresh draw per step.
    """
    values = as_sequence(values, n_steps)
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


@declare(
    {"n_steps": N_STEPS, "threshold": {"type": "number", "minimum": 0, "exclusiveMaximum": 1}},
    static_only=True,
)
def latency_encode(
    values: torch.Tensor,
    generator: torch.Generator | None = None,
    n_steps: int = 16,
    threshold: float = 0.05,
) -> torch.Tensor:
    """Time-to-first-spike code of static input ``[B, C]``: each input fires at most once, at
    step ``round((1 - v) * (n_steps - 1))``, so larger values fire earlier (v = 1 at step 0);
    inputs with ``v <= threshold`` never fire (background carries no spike). Deterministic:
    ``generator`` is accepted for a common signature and not used.
    """
    del generator
    if values.dim() != 2:
        raise ValueError(f"latency coding takes static input [B, C], got {tuple(values.shape)}")
    if torch.isnan(values).any():
        raise ValueError("values contain NaN")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must lie in [0, 1), got {threshold}")
    v = values.clamp(0.0, 1.0)
    step = torch.round((1.0 - v) * (n_steps - 1)).long()
    fires = v > threshold
    out = torch.zeros(n_steps, *values.shape, dtype=values.dtype, device=values.device)
    out.scatter_(0, step.unsqueeze(0), fires.to(values.dtype).unsqueeze(0))
    return out


# Each encoder declares its config parameters (``param_schema``) and whether it takes static data
# only (``static_only``); ``spikesparse.components`` checks a config's encoding against them.
ENCODERS = {"rate": rate_encode, "latency": latency_encode}


def encoded_size(n_channels: int, spec: dict) -> int:
    """Number of input neurons an encoder produces for ``n_channels`` channels."""
    return n_channels * int(spec.get("population", 1) if spec["name"] == "rate" else 1)


def encode(values: torch.Tensor, spec: dict, generator: torch.Generator | None) -> torch.Tensor:
    """Encode with the encoder named in ``spec["name"]`` and its parameters."""
    params = {k: v for k, v in spec.items() if k != "name"}
    if spec["name"] not in ENCODERS:
        raise ValueError(f"unknown encoding {spec['name']!r}; known: {sorted(ENCODERS)}")
    return ENCODERS[spec["name"]](values, generator, **params)
