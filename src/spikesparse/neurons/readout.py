"""The study's non-spiking leaky readout, collapsed into one weighted time sum."""

from __future__ import annotations

import torch


def readout_weights(n_steps: int, beta: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """Time weights c_t with mean_t(leaky integrator of x) = sum_t c_t x[t].

    A non-spiking leaky readout ``u[t] = beta * u[t-1] + W s[t]`` averaged over time equals
    ``W @ sum_t c_t s[t]`` with ``c_t = (1/T) * sum_{tau >= t} beta^(tau - t)``, so the readout
    needs one matmul instead of T.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    k = torch.arange(n_steps, device=device, dtype=torch.float64)
    remaining = n_steps - k  # number of terms tau = t .. T-1
    c = (1.0 - beta**remaining) / (1.0 - beta) if beta < 1.0 else remaining
    return (c / n_steps).to(dtype)


_TIME_WEIGHTS: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def time_weights(
    n_steps: int, beta: float, device=None, dtype=torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(readout_weights(...), their sum)``, computed once per (T, beta, device, dtype): a model
    asks for them every forward pass. Shared tensors: read them, never write them."""
    key = (n_steps, float(beta), torch.device(device) if device is not None else torch.device("cpu"), dtype)
    if key not in _TIME_WEIGHTS:
        c = readout_weights(n_steps, beta, device, dtype)
        _TIME_WEIGHTS[key] = (c, c.sum())
    return _TIME_WEIGHTS[key]


def time_pool(spikes: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``sum_t c[t] * spikes[t]``: ``[T, B, N]`` -> ``[B, N]``."""
    return torch.tensordot(c, spikes, dims=([0], [0]))


def readout_from_pool(pooled: torch.Tensor, linear: torch.nn.Linear, c_sum: torch.Tensor) -> torch.Tensor:
    """The readout's time-mean membrane from the pooled spikes; the bias enters every step, so it
    is weighted by ``sum_t c_t`` (``c_sum``)."""
    out = pooled @ linear.weight.t()
    if linear.bias is not None:
        out = out + c_sum * linear.bias
    return out


def leaky_readout(spikes: torch.Tensor, linear: torch.nn.Linear, beta: float) -> torch.Tensor:
    """Time-mean membrane of a leaky, non-spiking readout layer: ``[T, B, N]`` -> ``[B, out]``."""
    c, c_sum = time_weights(spikes.shape[0], beta, spikes.device, spikes.dtype)
    return readout_from_pool(time_pool(spikes, c), linear, c_sum)
