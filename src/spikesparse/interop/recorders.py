"""Record per-layer spikes (and synaptic-layer inputs) from an snnTorch, Norse or SpikingJelly model.

Why forward hooks: the regularizers and counters need every spiking layer's output at every step,
but each library returns only the last layer's (and keeps the rest in its own state objects). A
hook on each neuron module sees its spikes as they are made, without changing the user's model or
training loop, and keeps them attached to the autograd graph so a penalty on them trains the model.

Which modules are neurons: snnTorch ``SpikingNeuron`` subclasses (``Leaky``, ``RLeaky``, ...),
Norse ``SNNCell``/``SNN`` subclasses except the non-spiking leaky integrators (``LI*``), and
SpikingJelly ``BaseNode`` subclasses; or the types passed as ``neuron_types``. A module's output
that is a tuple (snnTorch ``(spk, mem)``, Norse ``(z, state)``) contributes its first element.

Time: in single-step use (snnTorch loops, Norse cells, SpikingJelly ``step_mode="s"``) each module
is called once per step and the recorder stacks the calls into ``[T, B, ...]``; in multi-step use
(Norse ``LIF`` on a sequence, SpikingJelly ``step_mode="m"``) pass ``multistep=True``: each module
is called once with the whole ``[T, B, ...]`` sequence.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import torch
from torch import nn

from .. import api
from ..conversion import SYNAPSES

_NORSE_NON_SPIKING = {"LI", "LICell", "LIBox", "LIBoxCell", "LIF_box_Cell"}


def default_neuron_types() -> tuple[type, ...]:
    """Neuron base classes of the peer libraries that are already imported (a model built with
    one has imported it; importing the others would only cost time), and our ``LIF``."""
    types: list[type] = [api.LIF]  # ConvLIF is one
    if "snntorch" in sys.modules:
        from snntorch._neurons import SpikingNeuron

        types.append(SpikingNeuron)
    if "norse" in sys.modules:
        from norse.torch.module.snn import SNN, SNNCell

        types += [SNN, SNNCell]
    if "spikingjelly" in sys.modules:
        from spikingjelly.activation_based.neuron import BaseNode

        types.append(BaseNode)
    return tuple(types)


def _is_neuron(module: nn.Module, types: tuple[type, ...]) -> bool:
    if not isinstance(module, types):
        return False
    norse_module = type(module).__module__.startswith("norse.")
    return not (norse_module and type(module).__name__ in _NORSE_NON_SPIKING)


class SpikeRecorder:
    """Collects every spiking layer's output and every synaptic layer's input during forwards.

    Use as a context manager (hooks are removed on exit) or call ``attach``/``detach``; call
    ``clear`` before each batch. ``spikes()`` returns ``{module name: [T, B, ...]}`` still on the
    autograd graph, ready for ``spikesparse.api`` regularizers; ``inputs()`` returns the detached
    inputs of the Linear/Conv layers for ``synaptic_operations``; ``metrics()`` returns the
    NeuroBench-named counters per sample.
    """

    def __init__(
        self,
        model: nn.Module,
        multistep: bool = False,
        neuron_types: Iterable[type] | None = None,
        record_inputs: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"SpikeRecorder: model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        self.multistep = bool(multistep)
        types = tuple(neuron_types) if neuron_types is not None else default_neuron_types()
        self.neurons = {name: m for name, m in model.named_modules() if _is_neuron(m, types)}
        if not self.neurons:
            raise ValueError(
                f"SpikeRecorder: no spiking neuron module found in {type(model).__name__} "
                f"(looked for {[t.__name__ for t in types]}); pass neuron_types"
            )
        # name -> (the synaptic layer, the module whose input is its [T, B, ...] input): a
        # ConvLIF folds T into the batch before its conv, so its own input is recorded instead.
        fused = {f"{name}.conv": m for name, m in model.named_modules() if isinstance(m, api.ConvLIF)}
        hooked = {
            name: fused.get(name, m)
            for name, m in model.named_modules()
            if record_inputs and isinstance(m, SYNAPSES)
        }
        self.synapses = {name: m for name, m in model.named_modules() if name in hooked}
        self._hooked = hooked
        self._spikes: dict[str, list[torch.Tensor]] = {}
        self._inputs: dict[str, list[torch.Tensor]] = {}
        self._handles: list = []

    # -- hooks
    def attach(self) -> SpikeRecorder:
        if self._handles:
            return self
        for name, m in self.neurons.items():
            self._handles.append(m.register_forward_hook(self._spike_hook(name)))
        for name, m in self._hooked.items():
            self._handles.append(m.register_forward_hook(self._input_hook(name)))
        return self

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> SpikeRecorder:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def clear(self) -> None:
        """Forget what was recorded (call before each batch)."""
        self._spikes, self._inputs = {}, {}

    def _spike_hook(self, name: str):
        def hook(module, args, output):
            out = output[0] if isinstance(output, tuple | list) else output
            self._spikes.setdefault(name, []).append(out)

        return hook

    def _input_hook(self, name: str):
        def hook(module, args, output):
            self._inputs.setdefault(name, []).append(args[0].detach())

        return hook

    # -- results
    def _stack(self, calls: dict[str, list[torch.Tensor]], what: str) -> dict[str, torch.Tensor]:
        if not calls:
            raise ValueError(f"SpikeRecorder: nothing recorded ({what}); run the model inside the recorder")
        counts = {name: len(c) for name, c in calls.items()}
        if self.multistep:
            repeated = {n: k for n, k in counts.items() if k != 1}
            if repeated:
                raise ValueError(
                    f"SpikeRecorder(multistep=True): {what} of {repeated} recorded more than once; each "
                    "module "
                    "must see the whole [T, B, ...] sequence once per batch (call clear() between batches)"
                )
            return {name: c[0] for name, c in calls.items()}
        if len(set(counts.values())) != 1:
            raise ValueError(
                f"SpikeRecorder: modules were called a different number of times {counts}; in single-step "
                "use every module runs once per step (multi-step modules need multistep=True)"
            )
        return {name: torch.stack(c) for name, c in calls.items()}

    def spikes(self) -> dict[str, torch.Tensor]:
        """Spikes of every neuron module, ``[T, B, ...]``, in model order; differentiable."""
        return self._stack(self._spikes, "spikes")

    def inputs(self) -> dict[str, torch.Tensor]:
        """Input of every Linear/Conv module, ``[T, B, ...]``, detached."""
        return self._stack(self._inputs, "synaptic-layer inputs")

    def metrics(self, e_ac: float = api.M.E_AC_PJ, e_mac: float = api.M.E_MAC_PJ) -> dict[str, float]:
        """NeuroBench-named counters of what was recorded, per sample: ``ActivationSparsity``,
        ``Effective_ACs``, ``Effective_MACs``, ``Dense`` and the study's ``SynOps``,
        ``firing_rate``, ``active_fraction`` and ``energy_pj``."""
        spikes = self.spikes()
        out = {
            "ActivationSparsity": api.activation_sparsity(spikes),
            "firing_rate": api.firing_rate(spikes),
            "active_fraction": api.active_fraction(spikes),
        }
        if self.synapses:
            inputs = self.inputs()
            ops = api.synaptic_operations([self.synapses[n] for n in inputs], list(inputs.values()))
            out.update(ops)
            out["energy_pj"] = api.energy_pj(ops, e_ac, e_mac)
        return out
