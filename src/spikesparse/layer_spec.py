"""Layer lists of ``model.layers`` without torch: the order rules and the input-shape rule.

Why a module of its own: config validation checks a layer list (``config``), the cost estimate
walks its shapes (``study.budget``) and the model builds it (``models.ConvSpikingNet``); the rules
live here once, as arithmetic on shapes, so checking a layer list builds no module.
"""

from __future__ import annotations

import math
from typing import NamedTuple

LAYER_KINDS = ("conv1d", "conv2d", "pool", "flatten", "dense", "recurrent")


def window_out(sizes, kernel, stride, padding=None) -> list[int]:
    """Output length per spatial dimension of a convolution or pooling window sliding over
    ``sizes``: ``(n + 2 * padding - kernel) // stride + 1`` (PyTorch's rule, floor mode).

    One rule for every shape walk (the models, the E4 ANN, the cost estimate), so they cannot
    disagree on a layer's size. A value below 1 means the window is larger than its padded input;
    each caller reports that in its own terms."""
    padding = padding if padding is not None else (0,) * len(sizes)
    return [(n + 2 * pad - k) // s + 1 for n, k, s, pad in zip(sizes, kernel, stride, padding, strict=True)]


def layer_size(v, dims: int) -> tuple[int, ...]:
    """A layer list's size entry (an integer, or one per spatial dim) as one integer per dim."""
    return tuple(int(a) for a in v) if isinstance(v, (list, tuple)) else (int(v),) * dims


class LayerShape(NamedTuple):
    """One layer of a layer list on the shape walk (``layer_shapes``)."""

    kind: str
    params: dict
    shape_in: list[int]  # per-step input, (C, *spatial) or (F,)
    shape_out: list[int]  # windows of at least 1 position (what a cost estimate continues with)
    window: tuple[int, ...] | None  # conv kernel or pool window per spatial dim
    window_in: list[int] | None  # the sizes the window slides over (a conv's padded input)
    fits: bool  # the window fits its input: no output size below 1


def layer_shapes(model: dict, n_in: int, input_shape=None) -> list[LayerShape]:
    """Walk a layer list over its input (``input_shape_for``, the models' rule) with PyTorch's
    window rule (``window_out``): the one shape walk of the cost estimate (``budget.layer_plan``)
    and of config validation, which refuses a layer whose window does not fit (``fits``) where the
    estimate continues with outputs of 1. Defaults as the schema fills them (kernel 3, stride 1,
    padding 0; pool size 2, stride = size)."""
    shape = list(input_shape_for(model, n_in, input_shape))
    out = []
    for entry in model["layers"]:
        ((kind, p),) = entry.items()
        p = p or {}
        window = window_in = raw = None
        if kind in ("conv1d", "conv2d"):
            dims = 1 if kind == "conv1d" else 2
            window = layer_size(p.get("kernel", 3), dims)[:dims]
            stride = layer_size(p.get("stride", 1), dims)[:dims]
            padding = layer_size(p.get("padding", 0), dims)[:dims]
            window_in = [n + 2 * pad for n, pad in zip(shape[1:], padding, strict=True)]
            raw = window_out(shape[1:], window, stride, padding)
            new = [int(p["channels"]), *(max(1, n) for n in raw)]
        elif kind == "pool":
            dims = len(shape) - 1
            window = layer_size(p.get("size", 2), dims)[:dims]
            stride = layer_size(p.get("stride", p.get("size", 2)), dims)[:dims]
            window_in = shape[1:]
            raw = window_out(window_in, window, stride)
            new = [shape[0], *(max(1, n) for n in raw)]
        elif kind == "flatten":
            new = [math.prod(shape)]
        else:  # dense, recurrent
            new = [int(p["units"])]
        out.append(LayerShape(kind, p, shape, new, window, window_in, raw is None or min(raw) >= 1))
        shape = new
    return out


def input_shape_for(
    model_spec: dict, n_features: int, dataset_shape: list[int] | tuple[int, ...] | None = None
) -> tuple[int, ...]:
    """The per-step input shape a layer-list model reshapes its ``[T, B, F]`` input to.

    The one rule of the data contract (datasets store features flat: static ``x [n, F]``,
    temporal ``x [n, T, channels]``): the model spec's ``input_shape`` if given, else the
    dataset's optional ``input_shape`` array (image datasets store one), else ``(1, F)`` (one
    channel of F positions, for ``conv1d`` on static features). A net without convolutions
    keeps its input flat, ``(F,)``. The shape's product must equal ``F``."""
    layers = model_spec.get("layers") or []
    first_conv = next((k for layer in layers for k in layer if k in ("conv1d", "conv2d")), None)
    if model_spec.get("input_shape") is not None:
        shape, where = tuple(int(v) for v in model_spec["input_shape"]), "model.input_shape"
    elif dataset_shape is not None:
        shape, where = tuple(int(v) for v in dataset_shape), "the dataset's input_shape"
    elif first_conv == "conv2d":
        raise ValueError(
            "model.input_shape: conv2d needs a (C, H, W) input shape (in the model spec or the dataset's "
            f"input_shape array); the data has {n_features} flat features"
        )
    else:
        shape, where = ((1, n_features) if first_conv else (n_features,)), "the default"
    if math.prod(shape) != n_features:
        raise ValueError(
            f"model.input_shape: {where} {list(shape)} has {math.prod(shape)} values, the data {n_features}"
        )
    if first_conv is not None and len(shape) != {"conv1d": 2, "conv2d": 3}[first_conv]:
        raise ValueError(
            f"model.input_shape: {first_conv} needs "
            f"{'(C, L)' if first_conv == 'conv1d' else '(C, H, W)'}, got {list(shape)}"
        )
    return shape


def check_layers(layers: list[dict], input_shape: list[int] | None = None) -> None:
    """ValueError naming ``layers[j]`` when a layer list cannot be built whatever the data's size:
    a conv layer whose input is not ``[C, L]`` (``conv1d``) or ``[C, H, W]`` (``conv2d``), a
    pool after flatten, a dense or recurrent layer before it, no spiking layer at all. (Sizes, a
    kernel larger than its input, are checked when the model is built.)"""
    rank = len(input_shape) if input_shape else None  # dims of a step's input: C + spatial
    spiking = 0
    for j, entry in enumerate(layers):
        ((kind, p),) = entry.items()
        where = f"layers[{j}].{kind}"
        if kind in ("conv1d", "conv2d"):
            need = 2 if kind == "conv1d" else 3
            if rank is None:
                rank = need
            if rank != need:
                got = "flat features" if rank == 1 else f"a {rank - 1}-D map"
                raise ValueError(f"{where}: needs a {need - 1}-D input map, got {got}")
            for key in ("kernel", "stride", "padding"):
                if isinstance(p.get(key), list) and kind == "conv1d":
                    raise ValueError(f"{where}.{key}: one integer for conv1d, got {p[key]}")
            spiking += 1
        elif kind == "pool":
            if rank is None or rank < 2:
                raise ValueError(
                    f"{where}: pools a conv layer's spikes; put it after a conv layer, before flatten"
                )
        elif kind == "flatten":
            rank = 1
        else:
            if rank is not None and rank != 1:
                raise ValueError(f"{where}: needs flat input; put a flatten layer before it")
            rank = 1
            spiking += 1
    if not spiking:
        raise ValueError("layers: needs at least one conv1d, conv2d, dense or recurrent layer")


# What a ReLU ANN converts into IF layers: no recurrence, and average pooling only.
ANN_LAYER_KINDS = ("conv1d", "conv2d", "pool", "flatten", "dense")


def check_ann_layers(layers: list[dict], input_shape: list[int] | None = None) -> None:
    """``check_layers``, and the layers a converted ANN may have: a recurrent layer has no ANN
    counterpart, and a max over spike trains is not the max of the rates, so pools average.
    ValueError naming ``layers[j]`` (config validation and ``conversion_jobs.build_ann`` both ask)."""
    for j, entry in enumerate(layers):
        ((kind, p),) = entry.items()
        if kind not in ANN_LAYER_KINDS:
            raise ValueError(
                f"layers[{j}].{kind}: a converted ANN is feed-forward, with {', '.join(ANN_LAYER_KINDS)} "
                "layers only"
            )
        if kind == "pool" and (p or {}).get("kind", "avg") != "avg":
            raise ValueError(
                f"layers[{j}].pool.kind: a converted ANN pools by average only (a max over spike "
                "trains is not the max of the rates)"
            )
    check_layers(layers, input_shape)
