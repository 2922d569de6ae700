"""Export a trained spikesparse SNN to NIR (Neuromorphic Intermediate Representation).

Why: NIR is how a trained SNN moves to other simulators (snnTorch, Norse, SpikingJelly, ...) and
to neuromorphic hardware. A study's model is ``Affine -> LIF`` per hidden layer (a recurrent layer
adds a ``Linear`` from the LIF back to itself) and an ``Affine -> LI`` leaky readout.

Mapping of our discrete-time neuron onto NIR's continuous one (``tau dv/dt = (v_leak - v) + r I``,
integrated with step ``dt``, as snnTorch's exporter does with ``dt = 1e-4``): ``beta = 1 - dt /
tau``, so ``tau = dt / (1 - beta)`` and ``r = tau / dt`` (the input enters with weight 1),
``v_leak = 0``; ``beta = 1`` (no leak) becomes an ``IF`` node. The readout's ``readout_beta``
maps the same way onto an ``LI`` node; the study's logits are the time mean of its membrane.

What NIR cannot say: its LIF resets *to* ``v_reset`` (our ``reset="zero"``); the default
subtractive reset is only exported with ``approximate=True`` (exported as a zero reset, so
spikes differ once a membrane overshoots). The hard constraints (refractory period, spike budget,
adaptive threshold) have no NIR node and are rejected.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .models import SpikingNet

DT = 1e-4


def _require_nir():
    try:
        import nir
    except ImportError:
        raise ImportError("NIR export needs the nir package: pip install 'spikesparse[nir]'") from None
    return nir


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _leaky_node(nir, beta: float, n: int, threshold: float | None):
    """LIF (threshold given) or LI node with our beta; beta = 1 is IF (LI: not exportable)."""
    if beta >= 1.0:
        if threshold is None:
            raise ValueError("readout_beta = 1 (no leak) has no NIR LI equivalent")
        return nir.IF(
            r=np.ones(n, np.float32),
            v_threshold=np.full(n, threshold, np.float32),
            v_reset=np.zeros(n, np.float32),
        )
    tau = np.full(n, DT / (1.0 - beta), np.float32)
    r = tau / DT
    if threshold is None:
        return nir.LI(tau=tau, r=r, v_leak=np.zeros(n, np.float32))
    return nir.LIF(
        tau=tau,
        r=r,
        v_leak=np.zeros(n, np.float32),
        v_threshold=np.full(n, threshold, np.float32),
        v_reset=np.zeros(n, np.float32),
    )


def to_nir(model: SpikingNet, include_readout: bool = True, approximate: bool = False):
    """The model as a ``nir.NIRGraph``: ``input -> layer0 -> lif0.lif (-> lif0.w_rec -> lif0.lif)
    -> layer1 -> ... -> readout -> readout_li -> output``.

    ``include_readout=False`` ends the graph at the last hidden layer's spikes (for tools without
    an LI node, e.g. snnTorch 1.0's importer). Raises ValueError for what NIR cannot represent
    (see the module docstring).
    """
    nir = _require_nir()
    if not isinstance(model, SpikingNet):
        raise TypeError(f"to_nir takes a spikesparse SpikingNet, got {type(model).__name__}")
    p = model.neuron
    if p.refractory or p.spike_budget is not None or p.adaptive:
        raise ValueError(
            "to_nir: hard constraints (refractory, spike_budget, adapt_kappa) have no NIR node; "
            f"this model has refractory={p.refractory}, spike_budget={p.spike_budget}, "
            f"adapt_kappa={p.adapt_kappa}"
        )
    if p.reset != "zero":
        if not approximate:
            raise ValueError(
                f"to_nir: NIR's LIF resets to v_reset (reset='zero'); this model uses reset={p.reset!r}. "
                "Pass approximate=True to export it as a zero reset anyway"
            )
        warnings.warn(
            "to_nir: exporting a subtract-reset model as NIR's zero reset", UserWarning, stacklevel=2
        )
    nodes = {"input": nir.Input(input_type={"input": np.array([model.n_in])})}
    edges = []
    prev = "input"
    for i, layer in enumerate(model.layers):
        n = layer.out_features
        nodes[f"layer{i}"] = nir.Affine(weight=_np(layer.weight), bias=_np(layer.bias))
        lif = f"lif{i}.lif"
        nodes[lif] = _leaky_node(nir, p.beta, n, p.threshold)
        edges += [(prev, f"layer{i}"), (f"layer{i}", lif)]
        if model.recurrent:
            nodes[f"lif{i}.w_rec"] = nir.Linear(weight=_np(model.w_rec[i]))
            edges += [(lif, f"lif{i}.w_rec"), (f"lif{i}.w_rec", lif)]
        prev = lif
    if include_readout:
        n_out = model.readout.out_features
        nodes["readout"] = nir.Affine(weight=_np(model.readout.weight), bias=_np(model.readout.bias))
        nodes["readout_li"] = _leaky_node(nir, model.readout_beta, n_out, None)
        edges += [(prev, "readout"), ("readout", "readout_li")]
        prev, n_last = "readout_li", n_out
    else:
        n_last = model.layers[-1].out_features
    nodes["output"] = nir.Output(output_type={"output": np.array([n_last])})
    edges.append((prev, "output"))
    metadata = {"source": "spikesparse", "dt": DT, "time_step_semantics": "one NIR step per model step"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def write_nir(model: SpikingNet, path: str, **kwargs) -> None:
    """Write ``to_nir(model, **kwargs)`` to an HDF5 ``.nir`` file."""
    nir = _require_nir()
    nir.write(path, to_nir(model, **kwargs))
