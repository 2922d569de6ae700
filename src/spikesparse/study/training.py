"""Surrogate-gradient BPTT training of one run, with per-epoch sparsity history.

A run whose loss or weights become non-finite stops and is marked ``diverged``; every other
status (silent, a silent layer, saturated) is decided on the test set by
``records.run_status``, the one status rule. Aggregation keeps every run as a row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..metrics import saturated_fraction, silent_fraction
from ..models import SpikingNet, build_model
from ..optim import Adam
from ..plugins import build_regularizer
from ..regularizers import spike_counts
from ..runtime import pick_device, seed_everything
from .encoding import SplitCode, encoded_size, shared_split_code


@dataclass
class TrainResult:
    model: SpikingNet
    history: list[dict] = field(default_factory=list)
    status: str = "ok"
    reason: str = ""
    device: str = "cpu"
    wall_time_s: float = 0.0


def encoded_batches(code: SplitCode, generator: torch.Generator, batch_size: int) -> list[torch.Tensor]:
    """A split's spikes batch by batch, stored as booleans (4x smaller than float spikes);
    an analog code (``encoding.current_encode``) is kept as it is.

    Why: validation draws its spikes from a generator reseeded to the same seed every epoch, so
    every epoch would draw the same spikes again; encoding them once per run changes no number."""
    batches = [code.batch(slice(lo, lo + batch_size), generator) for lo in range(0, len(code), batch_size)]
    return [b.bool() if bool(((b == 0) | (b == 1)).all()) else b for b in batches]


@torch.no_grad()
def predict_accuracy(
    model: SpikingNet,
    batches: list[torch.Tensor],
    y: torch.Tensor,
    device: torch.device,
) -> float:
    """Accuracy of ``model`` on pre-encoded spike batches (``encoded_batches``) with labels ``y``."""
    correct, lo = 0, 0
    dtype = next(model.parameters()).dtype
    for spikes in batches:
        pred = model(spikes.to(device=device, dtype=dtype)).logits.argmax(1).cpu()
        correct += int((pred == y[lo : lo + spikes.shape[1]]).sum())
        lo += spikes.shape[1]
    return correct / max(1, len(y))


def train_run(
    spec: dict,
    data: dict[str, np.ndarray],
    threads: int = 1,
    saturation_rate: float = 0.9,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train the model a run spec describes on ``data`` (arrays from ``data.generate``)."""
    start = time.perf_counter()
    seed_everything(spec["seed"], threads)
    device = pick_device(spec.get("device", "auto"))
    x_train = torch.from_numpy(data["x_train"])
    y_train = torch.from_numpy(data["y_train"])
    x_val = torch.from_numpy(data["x_val"])
    y_val = torch.from_numpy(data["y_val"])
    n_classes = int(max(data["y_train"].max(), data["y_test"].max()) + 1)
    model = build_model(
        spec["model"],
        n_in=encoded_size(x_train.shape[-1], spec["encoding"]),
        n_out=n_classes,
        dataset_shape=data["input_shape"].tolist() if "input_shape" in data else None,
    ).to(device)
    regularizer = build_regularizer(spec["regularizer"])
    tr = spec["training"]
    # torch's foreach Adam, bit for bit, without the torch._dynamo import that torch.optim's
    # step costs each job (spikesparse.optim).
    optimizer = Adam(model.parameters(), lr=tr["lr"])
    generator = torch.Generator().manual_seed(spec["seed"])
    result = TrainResult(model=model, device=str(device))
    train_code = shared_split_code(data["x_train"], spec["encoding"])
    val_batches = encoded_batches(
        shared_split_code(data["x_val"], spec["encoding"]), torch.Generator().manual_seed(0), tr["batch_size"]
    )
    n_hidden = sum(model.layer_sizes)

    for epoch in range(tr["epochs"]):
        sums = _train_epoch(
            model,
            regularizer,
            optimizer,
            train_code,
            y_train,
            generator,
            epoch,
            tr["batch_size"],
            device,
            n_hidden,
        )
        if sums.diverged:
            result.status, result.reason = "diverged", sums.diverged
            log(f"epoch {epoch + 1}/{tr['epochs']}: DIVERGED ({result.reason})")
            break
        model.eval()
        val_acc = predict_accuracy(model, val_batches, y_val, device) if len(x_val) else float("nan")
        row = _history_row(sums, epoch, val_acc, regularizer, saturation_rate)
        regularizer.end_epoch(row)
        result.history.append(row)
        log(
            f"epoch {epoch + 1}/{tr['epochs']}  loss {row['loss']:.4f}  task {row['task_loss']:.4f}  "
            f"penalty {row['penalty']:.4f}  rate {row['rate']:.3f}  silent {row['silent_fraction']:.2f}  "
            f"saturated {row['saturated_fraction']:.2f}  train_acc {row['train_accuracy']:.3f}  "
            f"val_acc {val_acc:.3f}"
        )
    result.wall_time_s = time.perf_counter() - start
    return result


@dataclass
class _EpochSums:
    """What one epoch's training batches add up to (per-sample sums), or why it diverged."""

    spike_sum: torch.Tensor  # spikes per hidden neuron over the epoch
    loss: float = 0.0
    task_loss: float = 0.0
    penalty: float = 0.0
    correct: int = 0
    n: int = 0
    steps_seen: int = 0  # time steps x samples
    diverged: str = ""  # the reason, when a batch diverged (the epoch stops there)


def _train_epoch(
    model, regularizer, optimizer, train_code, y_train, generator, epoch, batch_size, device, n_hidden
) -> _EpochSums:
    """One pass over the training split in a fresh random order: a step per batch."""
    model.train()
    perm = torch.randperm(len(y_train), generator=generator)
    sums = _EpochSums(spike_sum=torch.zeros(n_hidden, dtype=torch.float64))
    for lo in range(0, len(perm), batch_size):
        idx = perm[lo : lo + batch_size]
        xb = train_code.batch(idx, generator).to(device)
        yb = y_train[idx].to(device)
        out = model(xb)
        task_loss = F.cross_entropy(out.logits, yb)
        penalty, _ = regularizer(out.hidden_spikes, epoch)
        loss = task_loss + penalty
        sums.diverged = _step(optimizer, loss, epoch, lo // batch_size + 1)
        if sums.diverged:
            break
        b = len(idx)
        sums.loss += float(loss.detach()) * b
        sums.task_loss += float(task_loss.detach()) * b
        sums.penalty += float(penalty.detach()) * b
        sums.correct += int((out.logits.argmax(1) == yb).sum())
        sums.n += b
        counts = spike_counts(out.hidden_spikes)
        sums.spike_sum += torch.cat([c.detach().sum(dim=0) for c in counts]).double().cpu()
        sums.steps_seen += xb.shape[0] * b
    return sums


def _step(optimizer, loss: torch.Tensor, epoch: int, batch: int) -> str:
    """One optimizer step on ``loss``; returns why the run diverged ("" if it did not): a
    non-finite loss (no step taken), a failed step, or non-finite weights after it."""
    if not torch.isfinite(loss):
        return f"non-finite loss ({float(loss.detach())}) at epoch {epoch + 1}, batch {batch}"
    optimizer.zero_grad()
    loss.backward()
    try:
        optimizer.step()
    except RuntimeError as err:  # e.g. an update too large for float32
        return f"optimizer step failed at epoch {epoch + 1}: {err}"
    if not optimizer.weights_finite():
        return f"non-finite weights after epoch {epoch + 1}, batch {batch}"
    return ""


def _history_row(sums: _EpochSums, epoch: int, val_acc: float, regularizer, saturation_rate: float) -> dict:
    """The epoch's row of the run's history."""
    rates = sums.spike_sum / max(1, sums.steps_seen)
    return {
        "epoch": epoch + 1,
        "loss": sums.loss / sums.n,
        "task_loss": sums.task_loss / sums.n,
        "penalty": sums.penalty / sums.n,
        "rate": float(rates.mean()),
        "silent_fraction": silent_fraction(rates),
        "saturated_fraction": saturated_fraction(rates, saturation_rate),
        "train_accuracy": sums.correct / sums.n,
        "val_accuracy": val_acc,
        "reg_weight": regularizer.weight(epoch),
    }
