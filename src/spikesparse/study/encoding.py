"""Spike encoders: values in [0, 1] -> time-major spike tensors ``[T, B, C]`` (``current``:
analog currents instead of spikes).

Sequence data (``[B, T, C]``) gives one step per sample of the sequence. Static data (``[B, C]``,
e.g. digits) is presented for ``n_steps`` steps: the rate code draws a fresh Bernoulli sample each
step, the latency code fires each input once, earlier for larger values.
"""

from __future__ import annotations

import inspect
import json
import zlib
from collections import OrderedDict

import torch

from ..draws import bernoulli_spikes
from .components import declare

# Steps a static input is presented for; sequence data sets its own (``as_sequence``).
N_STEPS = {"type": "integer", "minimum": 1}


def receptive_fields(values: torch.Tensor, population: int, width: float) -> torch.Tensor:
    """Gaussian receptive fields: each value in [0, 1] -> ``population`` firing probabilities,
    neuron k preferring ``k / (population - 1)``. ``[B, T, C]`` -> ``[B, T, C * population]``."""
    centers = torch.linspace(0.0, 1.0, population, dtype=values.dtype, device=values.device)
    # exp(-(v - c)^2 / (2 w^2)), every op after the first in place: a split's code is tens of MB,
    # and five fresh tensors of that size cost more (allocation, page faults) than the arithmetic.
    p = (values.unsqueeze(-1) - centers).pow_(2).neg_().div_(2 * width**2).exp_()
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
    return bernoulli_spikes(
        as_sequence(rate_probabilities(values, gain, population, width), n_steps), generator
    )


def rate_probabilities(values: torch.Tensor, gain: float, population: int, width: float) -> torch.Tensor:
    """The deterministic half of the rate code: each value -> its neurons' firing probabilities
    (``[..., C]`` -> ``[..., C * population]``), elementwise, so it can be computed once for a
    whole split and indexed per batch (``SplitCode``) with the same numbers as per batch."""
    if torch.isnan(values).any():
        raise ValueError("values contain NaN")
    if gain <= 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    if population < 1:
        raise ValueError(f"population must be >= 1, got {population}")
    if values.dim() not in (2, 3):
        raise ValueError(f"values must have shape [B, T, C] or [B, C], got {tuple(values.shape)}")
    if population > 1:  # a fresh tensor, so scaled and clamped in place
        return receptive_fields(values, population, width).mul_(gain).clamp_(0.0, 1.0)
    return (values * gain).clamp(0.0, 1.0)


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


@declare(
    {
        "gain": {"type": "number"},
        "offset": {"type": "number"},
        "n_steps": N_STEPS,
    }
)
def current_encode(
    values: torch.Tensor,
    generator: torch.Generator | None = None,
    gain: float = 1.0,
    offset: float = 0.0,
    n_steps: int | None = None,
) -> torch.Tensor:
    """Analog input current, no spikes: each value ``v`` enters the first layer as ``gain * v +
    offset`` at its step (static input ``[B, C]``: the same current at each of ``n_steps`` steps).

    Why: a rate code spends most of its steps re-sampling what an analog first layer reads
    directly; fed as current, the first layer's synaptic ops are MACs (``metrics``), the rest of
    the net still runs on spikes. ``gain = 6, offset = -3`` gives back the z-scores of
    standardized MNIST-1D (``data.ann_input_affine``). Deterministic: ``generator`` is unused."""
    del generator
    if torch.isnan(values).any():
        raise ValueError("values contain NaN")
    return (as_sequence(values, n_steps) * gain + offset).transpose(0, 1).contiguous()


@declare({}, sequence_only=True)
def spikes_encode(values: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Data that are spikes already (binned events, e.g. SHD: ``[B, T, C]`` counts or 0/1) ->
    time-major ``[T, B, C]`` float, unchanged: no coding and no random draw (the pass-through for
    ``spikesparse.study.local_data``'s event datasets; config allows it on sequence datasets only)."""
    del generator
    if values.dim() != 3:
        raise ValueError(f"spikes pass-through takes sequence input [B, T, C], got {tuple(values.shape)}")
    return values.transpose(0, 1).to(torch.float32).contiguous()


# Each encoder declares its config parameters (``param_schema``) and whether it takes static data
# only (``static_only``); ``spikesparse.study.registry`` checks a config's encoding against them.
ENCODERS = {
    "rate": rate_encode,
    "latency": latency_encode,
    "current": current_encode,
    "spikes": spikes_encode,
}


def encoded_size(n_channels: int, spec: dict) -> int:
    """Number of input neurons an encoder produces for ``n_channels`` channels."""
    return n_channels * int(spec.get("population", 1) if spec["name"] == "rate" else 1)


def _encoder(spec: dict):
    if spec["name"] not in ENCODERS:
        raise ValueError(f"unknown encoding {spec['name']!r}; known: {sorted(ENCODERS)}")
    return ENCODERS[spec["name"]], {k: v for k, v in spec.items() if k != "name"}


def encoder_params(spec: dict) -> dict:
    """The parameters ``spec``'s encoder runs with: the spec's own, and the encoder's defaults
    for the rest, read from its signature (so each default is written once, in the encoder)."""
    encoder, params = _encoder(spec)
    defaults = {
        name: p.default
        for name, p in inspect.signature(encoder).parameters.items()
        if name not in ("values", "generator") and p.default is not inspect.Parameter.empty
    }
    return {**defaults, **params}


def encode(values: torch.Tensor, spec: dict, generator: torch.Generator | None) -> torch.Tensor:
    """Encode with the encoder named in ``spec["name"]`` and its parameters."""
    encoder, params = _encoder(spec)
    return encoder(values, generator, **params)


class SplitCode:
    """One split of a dataset, ready to be encoded batch by batch with ``spec``'s encoder.

    Why: training encodes every batch of every epoch. The deterministic part of a code (the
    rate code's receptive fields and probabilities, the whole latency code) depends only on
    the sample, so it is computed once here for the split; a batch then costs an index and, for
    the rate code, its Bernoulli draw. ``batch(index, generator)`` returns exactly what
    ``encode(values[index], spec, generator)`` returns, draw for draw (the draws come from the
    same generator calls in the same order; the probabilities are elementwise, so computing
    them for the split instead of the batch changes no number). Other encoders, and a split
    whose prepared code would exceed ``max_bytes`` (a large dataset), are encoded per batch.
    """

    MAX_BYTES = 512 * 2**20

    def __init__(self, values: torch.Tensor, spec: dict, max_bytes: int = MAX_BYTES) -> None:
        encoder, self._params = _encoder(spec)
        self._values = values
        self._encoder = encoder
        self._kind = "batch"
        if self.prepared_bytes(values, spec) > max_bytes:
            return
        if encoder is rate_encode:
            p = encoder_params(spec)
            self._prepared = rate_probabilities(values, p["gain"], p["population"], p["width"])
            self._n_steps = p["n_steps"]
            self._sequence = as_sequence(self._prepared, self._n_steps)  # [N, T, C], a view
            self._kind = "rate"
        elif encoder is latency_encode:
            self._prepared = latency_encode(values, None, **self._params)  # [T, N, C]
            self._kind = "latency"

    @staticmethod
    def prepared_bytes(values: torch.Tensor, spec: dict) -> int:
        """Memory the prepared code of ``values`` takes: per value, ``population`` probabilities
        (rate) or ``n_steps`` spikes (latency); 0 for an encoder that is not prepared."""
        per_value = {"rate": "population", "latency": "n_steps"}.get(spec["name"])
        if per_value is None:
            return 0
        return values.numel() * values.element_size() * int(encoder_params(spec)[per_value])

    @property
    def prepared(self) -> bool:
        """Whether the split's code was prepared once (else every batch is encoded afresh)."""
        return self._kind != "batch"

    def __len__(self) -> int:
        return len(self._values)

    def batch(self, index, generator: torch.Generator | None) -> torch.Tensor:
        """Spikes ``[T, B, C]`` of the samples ``index`` (a slice or an index tensor)."""
        if self._kind == "rate":
            return bernoulli_spikes(self._sequence, generator, index)
        if self._kind == "latency":
            if isinstance(index, torch.Tensor) and index.dtype == torch.int64 and index.dim() == 1:
                return torch.index_select(self._prepared, 1, index)  # the same copy, 6x faster
            return self._prepared[:, index].contiguous()
        return self._encoder(self._values[index], generator, **self._params)


# The SplitCodes of the current process, most recent last:
# (id of values, spec JSON) -> (values, checksum of their bytes, code).
_SHARED_CODES: OrderedDict[tuple[int, str], tuple[object, int, SplitCode]] = OrderedDict()
SHARED_CODES_KEPT = 4  # a group job needs three (train, validation, test) of one dataset


def shared_split_code(values, spec: dict) -> SplitCode:
    """The ``SplitCode`` of ``values`` (a NumPy array or tensor) under ``spec``, built once per
    process and reused by every later run that asks for the same array and spec.

    Why: a training job trains several runs on one loaded dataset, and each run's training,
    validation and test evaluation prepared the same deterministic code again (E1's receptive
    fields over the training split take about 80 ms, some 4 % of a run). A SplitCode is never
    changed after it is built and its draws come from the caller's generator, so sharing it
    changes no number. Keyed by the array object itself (kept alive with the entry, so its id
    cannot be reused) and the spec, and checked against a CRC-32 of its bytes (a few ms), so an
    array changed in place gets a fresh code; the least recently used entries beyond
    ``SHARED_CODES_KEPT`` are dropped."""
    tensor = torch.from_numpy(values) if not isinstance(values, torch.Tensor) else values
    checksum = zlib.crc32(tensor.detach().cpu().contiguous().numpy().view("uint8"))
    key = (id(values), json.dumps(spec, sort_keys=True, default=str))
    hit = _SHARED_CODES.get(key)
    if hit is not None and hit[0] is values and hit[1] == checksum:
        _SHARED_CODES.move_to_end(key)
        return hit[2]
    code = SplitCode(tensor, spec)
    _SHARED_CODES[key] = (values, checksum, code)
    while len(_SHARED_CODES) > SHARED_CODES_KEPT:
        _SHARED_CODES.popitem(last=False)
    return code
