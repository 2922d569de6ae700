"""Export a trained spikesparse SNN to NIR (Neuromorphic Intermediate Representation).

Why: NIR is how a trained SNN moves to other simulators (snnTorch, Norse, SpikingJelly, ...) and
to neuromorphic hardware. A study's model is ``Affine -> LIF`` per hidden layer (a recurrent layer
adds a ``Linear`` from the LIF back to itself) and an ``Affine -> LI`` leaky readout; a
layer-list model (``ConvSpikingNet``) has ``Conv1d``/``Conv2d -> LIF`` layers (one neuron per
channel and position), 2-D average pooling (``AvgPool2d``) and ``Flatten`` before its dense part.

Mapping of our discrete-time neuron onto NIR's continuous one (``tau dv/dt = (v_leak - v) + r I``,
integrated with step ``dt``, as snnTorch's exporter does with ``dt = 1e-4``): ``beta = 1 - dt /
tau``, so ``tau = dt / (1 - beta)`` and ``r = tau / dt`` (the input enters with weight 1),
``v_leak = 0``; ``beta = 1`` (no leak) becomes an ``IF`` node with ``r = 1``: NIR's IF has no
time constant, and the importers we know (snnTorch, Norse) take its ``r`` as the weight of one
step's input, not scaled by ``dt`` (read strictly in continuous time with this graph's ``dt`` it
would need ``r = 1 / dt``; snnTorch 1.0's importer builds a leaky neuron for ``IF``, so such a
model does not round-trip through it). The readout's ``readout_beta``
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

from ..models import ConvSpikingNet, SpikingNet

DT = 1e-4


def _require_nir():
    try:
        import nir
    except ImportError:
        raise ImportError("NIR export needs the nir package: pip install 'spikesparse[nir]'") from None
    return nir


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _leaky_node(nir, beta: float, n: int | tuple[int, ...], threshold: float | None):
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


def to_nir(model: SpikingNet | ConvSpikingNet, include_readout: bool = True, approximate: bool = False):
    """The model as a ``nir.NIRGraph``: ``input -> layer0 -> lif0.lif (-> lif0.w_rec -> lif0.lif)
    -> layer1 -> ... -> readout -> readout_li -> output``.

    ``include_readout=False`` ends the graph at the last hidden layer's spikes (for tools without
    an LI node, e.g. snnTorch 1.0's importer). Raises ValueError for what NIR cannot represent
    (see the module docstring).
    """
    nir = _require_nir()
    if not isinstance(model, SpikingNet | ConvSpikingNet):
        raise TypeError(
            f"to_nir takes a spikesparse SpikingNet or ConvSpikingNet, got {type(model).__name__}"
        )
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
            f"to_nir: exporting a reset={p.reset!r} model as NIR's zero reset (v to v_reset after a "
            "spike): its spikes differ from the model's",
            UserWarning,
            stacklevel=2,
        )
    if isinstance(model, ConvSpikingNet):
        nodes, edges, prev = _conv_nodes(nir, model)
        return _with_readout(nir, model, nodes, edges, prev, model.layer_sizes[-1], include_readout)
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
    return _with_readout(nir, model, nodes, edges, prev, model.layers[-1].out_features, include_readout)


def _conv_nodes(nir, model: ConvSpikingNet):
    """Nodes and edges of a layer-list model up to its last spiking layer (or pooling/flatten):
    ``conv{i}`` (``Conv1d``/``Conv2d``) or ``layer{i}`` (``Affine``) then ``lif{i}.lif`` shaped
    like the layer's output, ``pool{k}`` (``AvgPool2d``; NIR 1.0 has no 1-D or max pooling
    node, so those are rejected), ``flatten{k}``."""
    p = model.neuron
    nodes = {"input": nir.Input(input_type={"input": np.array(model.input_shape)})}
    edges, prev, shape = [], "input", model.input_shape
    for k, step in enumerate(model.plan):
        if step[0] == "spiking":
            i, out_shape = step[1], step[2]
            layer = model.layers[i]
            if isinstance(layer, torch.nn.Linear):
                name = f"layer{i}"
                nodes[name] = nir.Affine(weight=_np(layer.weight), bias=_np(layer.bias))
            else:
                name = f"conv{i}"
                conv = nir.Conv1d if layer.weight.dim() == 3 else nir.Conv2d
                one = layer.weight.dim() == 3  # NIR's Conv1d takes ints, Conv2d tuples
                nodes[name] = conv(
                    input_shape=shape[1] if one else tuple(shape[1:]),
                    weight=_np(layer.weight),
                    stride=layer.stride[0] if one else layer.stride,
                    padding=layer.padding[0] if one else layer.padding,
                    dilation=layer.dilation[0] if one else layer.dilation,
                    groups=layer.groups,
                    bias=_np(layer.bias),
                )
            lif = f"lif{i}.lif"
            nodes[lif] = _leaky_node(nir, p.beta, out_shape, p.threshold)
            edges += [(prev, name), (name, lif)]
            if str(i) in model.w_rec:
                nodes[f"lif{i}.w_rec"] = nir.Linear(weight=_np(model.w_rec[str(i)]))
                edges += [(lif, f"lif{i}.w_rec"), (f"lif{i}.w_rec", lif)]
            prev, shape = lif, out_shape
        elif step[0] == "pool":
            _, kind, size, stride, out_shape = step
            if kind != "avg" or len(size) != 2:
                raise ValueError(
                    f"to_nir: NIR 1.0 has no node for a {len(size)}-D {kind} pool (only 2-D average)"
                )
            name = f"pool{k}"
            nodes[name] = nir.AvgPool2d(
                kernel_size=np.array(size), stride=np.array(stride), padding=np.zeros(2, int)
            )
            edges.append((prev, name))
            prev, shape = name, out_shape
        else:
            name = f"flatten{k}"
            nodes[name] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0)
            edges.append((prev, name))
            prev, shape = name, (step[1],)
    return nodes, edges, prev


def _with_readout(nir, model, nodes: dict, edges: list, prev: str, n_last: int, include_readout: bool):
    """The graph: ``nodes`` and ``edges`` (ending at ``prev``), the readout unless left out, output."""
    if include_readout:
        n_out = model.readout.out_features
        nodes["readout"] = nir.Affine(weight=_np(model.readout.weight), bias=_np(model.readout.bias))
        nodes["readout_li"] = _leaky_node(nir, model.readout_beta, n_out, None)
        edges += [(prev, "readout"), ("readout", "readout_li")]
        prev, n_last = "readout_li", n_out
    nodes["output"] = nir.Output(output_type={"output": np.array([n_last])})
    edges.append((prev, "output"))
    metadata = {"source": "spikesparse", "dt": DT, "time_step_semantics": "one NIR step per model step"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def write_nir(model: SpikingNet | ConvSpikingNet, path: str, **kwargs) -> None:
    """Write ``to_nir(model, **kwargs)`` to an HDF5 ``.nir`` file."""
    nir = _require_nir()
    nir.write(path, to_nir(model, **kwargs))
