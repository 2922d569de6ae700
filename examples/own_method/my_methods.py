"""A regularizer and a dataset of your own, used by the study without editing spikesparse.

config.yaml beside this file names them as ``my_methods:RateCeiling`` and
``my_methods:make_pulses``; Snakemake finds this module in its working directory (--directory).
"""

from __future__ import annotations

import numpy as np
import torch

from spikesparse.regularizers import Regularizer, check_hidden_spikes, neuron_rates


class RateCeiling(Regularizer):
    """Penalize only neurons firing above a ceiling: ``lam * mean_i max(0, r_i - max_rate)^2``.

    Unlike homeostatic L2 it leaves quiet neurons alone; unlike the spike-count loss it does not
    push neurons below ``max_rate``.
    """

    name = "rate_ceiling"
    # The config keys this method accepts besides `lambdas`, each with its rule (a JSON-schema
    # fragment): config validation names the key path of a bad value. `params = ("max_rate",)`
    # alone would accept the key with any value.
    param_schema = {"max_rate": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}}

    def __init__(self, lam: float, max_rate: float = 0.1) -> None:
        super().__init__(lam)
        if not 0.0 < max_rate < 1.0:
            raise ValueError(f"rate_ceiling: max_rate must lie in (0, 1), got {max_rate}")
        self.max_rate = float(max_rate)

    def __call__(self, hidden_spikes, epoch=0):
        check_hidden_spikes(hidden_spikes)
        rates = torch.cat([neuron_rates(s) for s in hidden_spikes])
        excess = torch.clamp(rates - self.max_rate, min=0.0).pow(2).mean()
        penalty = self.lam * excess
        return penalty, {"penalty": float(penalty.detach()), "excess_sq": float(excess.detach())}


def make_pulses(
    n_train: int = 160,
    n_val: int = 48,
    n_test: int = 96,
    n_steps: int = 30,
    n_channels: int = 4,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Noisy channels; label 1 when one channel carries a short pulse. Sequences ``[n, T, C]`` in
    [0, 1] (one rate-coded draw per step), labels int64."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        x = np.clip(0.3 + 0.1 * rng.standard_normal((n, n_steps, n_channels)), 0.0, 1.0)
        y = (np.arange(n) % 2).astype(np.int64)
        for i in np.flatnonzero(y):
            t0, ch = rng.integers(0, n_steps - 5), rng.integers(0, n_channels)
            x[i, t0 : t0 + 5, ch] = 0.95
        out[f"x_{split}"], out[f"y_{split}"] = x.astype(np.float32), y
    return out


make_pulses.static = False  # sequences: the dataset sets the number of steps, no n_steps in encoding
