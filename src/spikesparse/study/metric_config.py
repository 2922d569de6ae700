"""The ``metrics:`` block of a config as one typed value (``MetricConfig``).

Why a type: the block crosses the CLI, training, evaluation, the records, the metric catalog and
the conversion jobs; as a dict a misspelt key is a KeyError deep inside an evaluation, and a
missing one is found only by the metric that reads it. Its defaults live in the config schema
(the one place a config's defaults are filled); here every field is required, and a wrong block
is rejected where it enters (``MetricConfig.of``), naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

MAX_SEED = 2**63 - 1  # the config schema's bound on every seed (definitions.seed)


@dataclass(frozen=True)
class MetricConfig:
    """Settings every run's metrics share (``config.yaml`` ``metrics:``)."""

    saturation_rate: float  # a neuron firing on at least this fraction of steps is saturated
    e_ac_pj: float  # energy per accumulate (pJ)
    e_mac_pj: float  # energy per multiply-accumulate (pJ)
    eval_seed: int  # seed of the validation and test splits' input encoding

    def __post_init__(self) -> None:
        if not 0 < self.saturation_rate <= 1:
            raise ValueError(f"metrics.saturation_rate must be in (0, 1], got {self.saturation_rate}")
        for name in ("e_ac_pj", "e_mac_pj"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"metrics.{name} must be a finite number >= 0, got {value}")
        if (
            isinstance(self.eval_seed, bool)
            or not isinstance(self.eval_seed, int)
            or not 0 <= self.eval_seed <= MAX_SEED
        ):
            raise ValueError(f"metrics.eval_seed must be an integer in [0, 2^63 - 1], got {self.eval_seed!r}")

    @classmethod
    def of(cls, value: MetricConfig | Mapping) -> MetricConfig:
        """``value`` itself, or the config built from a ``metrics:`` mapping (ValueError naming a
        missing or unknown key)."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"metrics must be a mapping, got {type(value).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"metrics.{unknown[0]}: unknown key (known: {', '.join(names)})")
        missing = [n for n in names if n not in value]
        if missing:
            raise ValueError(f"metrics.{missing[0]}: missing")
        return cls(**{n: value[n] for n in names})

    def as_dict(self) -> dict:
        """The block as the records store it (``metrics_config``)."""
        return asdict(self)
