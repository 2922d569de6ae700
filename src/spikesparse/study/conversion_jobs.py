"""The study's E4 jobs (seed 003): train a ReLU ANN, convert it every way the config asks, and
turn each simulation into a row of the conversion table.

The conversion itself (stages, normalization, the L4 adjustment, the IF simulation) is the
library's (``spikesparse.conversion``), the same code ``spikesparse.api.convert`` runs; here is
only what the study adds: the ANN built from the config (``hidden`` sizes or a ``layers`` list),
its training, the sweep over (normalization, alpha, T) on validation and test, and alpha chosen
on validation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import metrics as M
from ..conversion import (
    ConvertedSNN,
    InputAffine,
    ReLUStages,
    Simulation,
    dense_macs,
    l4_adjust,
    layer_events,
    layer_scales,
    normalize,
    simulate_if,
)
from ..layer_spec import check_ann_layers, input_shape_for, layer_size, window_out
from ..optim import Adam
from ..pooling import AvgPool1d
from ..runtime import seed_everything
from .analysis.metric_catalog import converted_metrics
from .metric_config import MetricConfig
from .split_counts import ConversionCounts


def build_ann(
    ann_spec: dict,
    n_features: int,
    n_classes: int,
    input_affine: tuple[float, float] = (1.0, 0.0),
    dataset_shape: tuple[int, ...] | None = None,
) -> nn.Sequential:
    """The ReLU ANN of an E4 experiment as an ``nn.Sequential`` that ``ReLUStages`` converts.

    ``hidden: [n, ...]``: ``InputAffine``, then Linear -> ReLU per hidden layer, a Linear output.
    ``dropout: p`` (> 0) adds dropout after every hidden ReLU, for training only.
    ``layers: [...]`` (the layer syntax of ``model.layers``: conv1d, conv2d, pool, flatten,
    dense): each conv and dense layer followed by a ReLU; ``pool`` must be ``avg`` (a converted
    average pool is the same linear map on spikes; a max over spike trains is not the max of the
    rates). The first conv's zero padding is applied to the stored rates before the input map, so
    that the padded value is a rate of 0 and folding the map into the first layer is exact.
    """
    affine = InputAffine(*input_affine)
    relu = _relu_block(float(ann_spec.get("dropout", 0.0)))
    if not ann_spec.get("layers"):
        sizes = [n_features, *ann_spec["hidden"], n_classes]
        mods: list[nn.Module] = [affine]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            mods.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                mods += relu()
        return nn.Sequential(*mods)
    layers = ann_spec["layers"]
    shape = input_shape_for(ann_spec, n_features, dataset_shape)
    check_ann_layers(layers, list(shape))
    mods = [nn.Unflatten(1, shape)] if len(shape) > 1 else []
    first = True
    for j, entry in enumerate(layers):
        ((kind, p),) = entry.items()
        p = p or {}
        where = f"ann.layers[{j}].{kind}"
        if kind in ("conv1d", "conv2d"):
            dims = 1 if kind == "conv1d" else 2
            padding = layer_size(p.get("padding", 0), dims)
            conv = (nn.Conv1d if dims == 1 else nn.Conv2d)(
                shape[0],
                int(p["channels"]),
                layer_size(p["kernel"], dims),
                stride=layer_size(p.get("stride", 1), dims),
                padding=(0,) * dims if first else padding,
            )
            if first:
                if any(padding):  # (left, right[, top, bottom]): the last dim's pair first
                    pads = tuple(v for pad in reversed(padding) for v in (pad, pad))
                    mods.append((nn.ConstantPad1d if dims == 1 else nn.ConstantPad2d)(pads, 0.0))
                mods.append(affine)
            shape = (conv.out_channels, *_conv_out(shape[1:], conv.kernel_size, conv.stride, padding, where))
            mods += [conv, *relu()]
        elif kind == "pool":
            dims = len(shape) - 1
            size, stride = layer_size(p["size"], dims), layer_size(p.get("stride", p["size"]), dims)
            shape = (shape[0], *_conv_out(shape[1:], size, stride, (0,) * dims, where))
            mods.append((AvgPool1d if dims == 1 else nn.AvgPool2d)(size, stride))
        elif kind == "flatten":
            shape = (math.prod(shape),)
            mods.append(nn.Flatten())
        else:
            if first:
                mods.append(affine)
            mods += [nn.Linear(shape[0], int(p["units"])), *relu()]
            shape = (int(p["units"]),)
        first = first and kind in ("pool", "flatten")
    if len(shape) != 1:
        mods.append(nn.Flatten())
        shape = (math.prod(shape),)
    return nn.Sequential(*mods, nn.Linear(shape[0], n_classes))


def _relu_block(dropout: float):
    """The modules after each hidden layer: a ReLU, then dropout while training if asked for
    (a regularizer of the ANN only: the converted net has no dropout, ``ReLUStages`` drops it)."""
    if not 0 <= dropout < 1:
        raise ValueError(f"ann.dropout must be in [0, 1), got {dropout}")
    return lambda: [nn.ReLU(), nn.Dropout(dropout)] if dropout > 0 else [nn.ReLU()]


def _conv_out(sizes, kernel, stride, padding, where: str) -> list[int]:
    out = window_out(sizes, kernel, stride, padding)
    if min(out) < 1:
        raise ValueError(f"{where}: kernel {list(kernel)} is larger than its padded input {list(sizes)}")
    return out


def train_ann(
    ann_spec: dict,
    data: dict[str, np.ndarray],
    seed: int,
    threads: int = 1,
    input_affine: tuple[float, float] = (1.0, 0.0),
    device: torch.device | str = "cpu",
) -> tuple[nn.Sequential, list]:
    """Train the ReLU net with Adam and cross-entropy on ``device``; returns the net and
    per-epoch history. ``input_affine`` (scale, shift) is the net's fixed input map
    (``data.ann_input_affine``). Batches are drawn on the CPU generator, as on every device."""
    seed_everything(seed, threads)
    x = torch.from_numpy(data["x_train"]).to(device)
    y = torch.from_numpy(data["y_train"]).to(device)
    net = build_ann(ann_spec, x.shape[1], n_classes(data), input_affine, dataset_shape(data)).to(device)
    # torch.optim.Adam's CPU default (single-tensor) arithmetic, without its torch._dynamo import.
    opt = Adam(net.parameters(), lr=ann_spec["lr"], foreach=False)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(ann_spec["epochs"]):
        net.train()
        perm = torch.randperm(len(x), generator=generator)
        total, n = 0.0, 0
        for lo in range(0, len(x), ann_spec["batch_size"]):
            idx = perm[lo : lo + ann_spec["batch_size"]].to(device)
            loss = F.cross_entropy(net(x[idx]), y[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"ANN loss became {float(loss)} at epoch {epoch + 1}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
        with torch.no_grad():
            val_acc = ann_accuracy(net, data["x_val"], data["y_val"])
        history.append({"epoch": epoch + 1, "loss": total / n, "val_accuracy": val_acc})
    return net, history


def n_classes(data: dict[str, np.ndarray]) -> int:
    return int(max(data["y_train"].max(), data["y_test"].max()) + 1)


def dataset_shape(data: dict[str, np.ndarray]) -> tuple[int, ...] | None:
    """The per-sample shape an image dataset stores beside its flat features, if any."""
    shape = data.get("input_shape")
    return None if shape is None else tuple(int(v) for v in np.asarray(shape))


@torch.no_grad()
def ann_accuracy(net: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    if len(x) == 0:
        return float("nan")
    net.eval()
    device = next(net.parameters()).device
    pred = torch.cat(
        [net(torch.from_numpy(x[lo : lo + 4096]).to(device)).argmax(1).cpu() for lo in range(0, len(x), 4096)]
    ).numpy()
    return float((pred == y).mean())


def ann_macs(net: nn.Sequential, n_features: int) -> int:
    """MACs per sample of the trained ANN (one pass), the E4 rows' ``ann_macs_per_sample``."""
    return dense_macs(ReLUStages(net), (n_features,))


def sweep(
    net: nn.Sequential, data: dict[str, np.ndarray], spec: dict, metric_cfg: MetricConfig
) -> list[dict]:
    """Every (normalization, alpha, T) on the validation and the test split: one row each.

    Input spikes come from fixed seeds (validation: the run seed, test: ``eval_seed``) so the
    variants of one net see identical input and differ only in their weights. The simulation
    runs on the net's device (its input spikes are drawn on the CPU generator).
    """
    metric_cfg = MetricConfig.of(metric_cfg)
    stages = ReLUStages(net.eval())
    device = next(net.parameters()).device
    x_calib = torch.from_numpy(data["x_train"][: spec["calibration_samples"]]).to(device)
    rows = []
    macs = dense_macs(stages, (data["x_train"].shape[1],))
    for normalization in spec["normalizations"]:
        scales = layer_scales(
            stages, x_calib, normalization, spec["percentile"], spec.get("percentile_of", "nonzero")
        )
        base = normalize(stages, scales)
        for alpha in spec["alphas"]:
            snn = l4_adjust(base, float(alpha))
            for split, seed in (("val", spec["seed"]), ("test", metric_cfg.eval_seed)):
                x = torch.from_numpy(data[f"x_{split}"])
                y = data[f"y_{split}"]
                if len(x) == 0:
                    continue
                sim = simulate_if(snn, x, spec["time_steps"], torch.Generator().manual_seed(seed))
                for t in sorted(sim.predictions):
                    rows.append(_row(normalization, float(alpha), t, split, sim, y, snn, macs, metric_cfg))
    return rows


def _row(
    normalization, alpha, t, split, sim: Simulation, y, snn: ConvertedSNN, macs, metric_cfg: MetricConfig
) -> dict:
    """One conversion row: the setting, then the catalog's converted metrics of the simulation's
    first ``t`` steps (``metric_catalog.converted_metrics``)."""
    synops = acs = 0.0
    events = layer_events(snn, sim.input_counts[t], sim.hidden_counts[t])
    for layer, e in zip(snn.layers, events, strict=True):
        ops = M.layer_op_counts(layer, e.unsqueeze(0), spikes=True)
        synops += ops["synops"]
        acs += ops["acs"]
    counts = ConversionCounts(
        n_samples=len(y),
        n_steps=t,
        pred=sim.predictions[t],
        y=y,
        counts=[c.flatten().cpu() for c in sim.hidden_counts[t]],
        in_counts=sim.input_counts[t].flatten(),
        synops_total=synops,
        acs_total=acs,
        ann_macs=macs,
        metric_cfg=metric_cfg,
    )
    setting = {"normalization": normalization, "alpha": alpha, "time_steps": t, "split": split}
    return {**setting, **converted_metrics(counts)}


def choose_alpha(rows: list[dict]) -> dict[tuple[str, int], float]:
    """Alpha per (normalization, T) with the best *validation* accuracy; ties go to the smaller
    alpha, so the adjustment is only chosen when it helps. The test split is never looked at."""
    best: dict[tuple[str, int], tuple[float, float]] = {}
    for r in rows:
        if r["split"] != "val":
            continue
        key = (r["normalization"], r["time_steps"])
        cand = (r["accuracy"], -r["alpha"])
        if key not in best or cand > best[key]:
            best[key] = cand
    return {key: -neg_alpha for key, (_, neg_alpha) in best.items()}
