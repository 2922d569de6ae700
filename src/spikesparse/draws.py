"""The rate code's random half: Bernoulli spikes from firing probabilities, drawn on the run's
CPU generator. Its own module (torch only) so the core library, conversion included, uses it
without the workflow extra that ``encoding``'s config schemas need (jsonschema)."""

from __future__ import annotations

import torch


def bernoulli_spikes(
    p: torch.Tensor, generator: torch.Generator | None, index: slice | torch.Tensor | None = None
) -> torch.Tensor:
    """The random half of the rate code: one Bernoulli draw per step and neuron from ``p``
    (``[N, T, C]``; ``index`` picks the rows B to draw for, all by default) -> time-major spikes
    ``[T, B, C]``, drawn in time-major order on the CPU generator so a run's spikes depend only on
    its seed, not on the device.

    On the CPU the compiled draw (``csrc/rate_code.cpp``) gathers, draws and compares in one
    pass, with torch.rand's numbers bit for bit and the generator left in the same state; the
    torch.rand path below is its definition and the fallback."""
    fused = _fused_draw(p, generator, index)
    if fused is not None:
        return fused
    if index is not None:
        p = p[index]
    p = p.transpose(0, 1)
    noise = torch.rand(p.shape, generator=generator, dtype=p.dtype, device="cpu").to(p.device)
    # The comparison writes 0.0 / 1.0 straight into the noise buffer: no bool tensor to convert.
    return torch.lt(noise, p, out=noise)


def _fused_draw(p: torch.Tensor, generator: torch.Generator | None, index) -> torch.Tensor | None:
    """The compiled draw where it applies (float32 on the CPU, a CPU generator, rows picked by a
    slice or an int64 index), else None."""
    if p.device.type != "cpu" or p.dtype != torch.float32 or p.dim() != 3 or p.stride(-1) != 1:
        return None
    if generator is not None and generator.device.type != "cpu":
        return None
    if index is None or isinstance(index, slice):
        index = torch.arange(len(p))[slice(None) if index is None else index]
    elif not (isinstance(index, torch.Tensor) and index.dtype == torch.int64 and index.dim() == 1):
        return None
    from ._ext import kernel

    rate_spikes = kernel("rate_spikes")
    return None if rate_spikes is None else rate_spikes(p, index, generator)
