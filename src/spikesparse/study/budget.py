"""What a run costs before it runs: peak memory and training FLOPs from its spec (no torch).

Why: with real data and conv layers a typo in a size (time steps, channels, batch) can ask for
more memory than the machine or a cluster job has; config validation refuses such a run before
any job starts (``check_config``), and the estimate sets each training rule's ``mem_mb``. The
FLOP count gives the GPU-hours of a study at a stated throughput (``spikesparse budget CONFIG``).

Memory model (bytes, float32), per run:

- activations kept for backward: ``T x B x (sum of layer outputs) x ACT_COPIES x 4``, every
  spiking layer's neurons and every pool's outputs, ``ACT_COPIES`` tensors of that size (input
  current, membrane, spikes, surrogate gradient), plus the encoded input batch ``T x B x n_in``;
- parameters: weights x 4 copies (weight, gradient, Adam's two moments);
- the dataset: every split's ``x`` as float32, plus the encoded validation split
  (``T x n_val x n_in``, encoded once per run) and the rate/latency code prepared for a split
  (``encoding.SplitCode``, at most its ``MAX_BYTES`` per split);
- ``BASE_MB`` for the interpreter, torch and its allocator.
It is an estimate of the order of magnitude (within about 2x), meant to catch sizes off by 10x.
Checked on CPU (config/paper.yaml's models on miniature files, one epoch, 2 threads): the VGG-style
CIFAR-10 net at batch 16 estimated 2,341 MB against a measured peak RSS of 1,752 MB; the SHD RSNN
at batch 64 780 MB against 499 MB; the 4 x 800 MNIST net at batch 128 872 MB against 506 MB.

FLOPs: 2 per multiply-add of every layer's product per step (a conv layer: output positions x
kernel taps x input channels x output channels), a training step 3 x the forward pass (forward,
gradients for the weights and for the inputs), evaluation 1 x; a run trains ``epochs x n_train``
samples and evaluates ``epochs x n_val + n_val + n_test``.
"""

from __future__ import annotations

import json
import math
import os

from ..layer_spec import layer_shapes

ACT_COPIES = 4
BASE_MB = 600
BYTES = 4


def layer_plan(model: dict, n_in: int, input_shape=None) -> list[dict]:
    """Per layer: ``kind``, ``outputs`` (values per step and sample), ``macs`` (per step and
    sample), ``params``, whether it ``spikes``. ``hidden`` models are dense/recurrent layers."""
    plan = []
    if "layers" not in model or not model.get("layers"):
        recurrent = model.get("kind", "recurrent") == "recurrent"
        fan_in = n_in
        for units in model.get("hidden", [128]):
            macs = fan_in * units + (units * units if recurrent else 0)
            plan.append(
                {"kind": "dense", "outputs": units, "macs": macs, "params": macs + units, "spikes": True}
            )
            fan_in = units
        return plan
    # the models' own input rule and window arithmetic; a window too large for its input
    # continues with outputs of 1 here (config validation refuses it)
    for layer in layer_shapes(model, n_in, input_shape):
        kind, outputs = layer.kind, math.prod(layer.shape_out)
        if kind in ("conv1d", "conv2d"):
            c_in, taps, channels = layer.shape_in[0], math.prod(layer.window), layer.shape_out[0]
            macs = outputs * taps * c_in
            params = channels * (taps * c_in + 1)
            plan.append({"kind": kind, "outputs": outputs, "macs": macs, "params": params, "spikes": True})
        elif kind == "pool":
            plan.append({"kind": kind, "outputs": outputs, "macs": 0, "params": 0, "spikes": False})
        elif kind in ("dense", "recurrent"):
            macs = math.prod(layer.shape_in) * outputs + (outputs * outputs if kind == "recurrent" else 0)
            plan.append(
                {"kind": kind, "outputs": outputs, "macs": macs, "params": macs + outputs, "spikes": True}
            )
    return plan


def layer_model_flops(model: dict, n_in: int, n_out: int, n_steps: int, input_shape=None) -> tuple[int, int]:
    """(forward, training) FLOPs per sample of a layer-list (conv) model with ``n_out`` classes run
    for ``n_steps`` steps: 2 FLOPs per multiply-add of its layers (``layer_plan``, convolutions
    counted over their real output positions) and of a readout applied at every step, training 3x
    the forward.

    Why here: the one count of a conv run's FLOPs, shared by the study's efficiency
    (``tools.studybench``) and the kernel benchmark's W3 step (``benchmarks/bench_kernels.py``), so
    the two cannot drift apart; it needs ``layer_plan``, which the core ``flops`` may not import."""
    plan = layer_plan(model, n_in, input_shape)
    forward = 2 * n_steps * (sum(layer["macs"] for layer in plan) + plan[-1]["outputs"] * n_out)
    return forward, 3 * forward


def dataset_sizes(name: str, section: dict) -> dict | None:
    """``{"n_train", "n_val", "n_test", "shape", "input_shape"}`` of a dataset from its config
    section (local datasets from their files' headers), shape per sample; None when unknown."""
    if "generator" in section:
        return None
    if name == "anomaly":
        shape = [section["n_steps"], section["n_channels"]]
        return {**{k: section[k] for k in ("n_train", "n_val", "n_test")}, "shape": shape}
    if name in ("digits", "mnist1d"):
        n = section.get("n_samples") or (1797 if name == "digits" else 5000)
        n_test = round(section["test_fraction"] * n)
        n_val = round(section["val_fraction"] * n)
        return {
            "n_train": n - n_test - n_val,
            "n_val": n_val,
            "n_test": n_test,
            "shape": [64 if name == "digits" else 40],
        }
    from .local_data import LOCAL_DATASETS, local_sizes

    if name in LOCAL_DATASETS:
        sizes = local_sizes(name, section)
        if sizes is not None and getattr(LOCAL_DATASETS[name], "input_shape", None):
            sizes["input_shape"] = list(LOCAL_DATASETS[name].input_shape)
        return sizes
    return None


def _steps_and_inputs(spec: dict, sizes: dict) -> tuple[int, int]:
    enc = spec["encoding"]
    population = int(enc.get("population", 1)) if enc.get("name", "rate") == "rate" else 1
    if len(sizes["shape"]) == 2:  # a sequence dataset: its own steps
        return int(sizes["shape"][0]), int(sizes["shape"][1]) * population
    steps = int(enc.get("n_steps") or 1)
    return steps, int(sizes["shape"][0]) * population


def run_estimate(spec: dict, sizes: dict) -> dict:
    """Peak memory (MB, with its parts) and FLOPs of one run (a ``runs.run_spec``)."""
    steps, n_in = _steps_and_inputs(spec, sizes)
    batch = int(spec["training"]["batch_size"])
    plan = layer_plan(spec["model"], n_in, sizes.get("input_shape"))
    outputs = sum(layer["outputs"] for layer in plan)
    params = sum(layer["params"] for layer in plan) + plan[-1]["outputs"] * 20
    activations = steps * batch * (outputs * ACT_COPIES + n_in) * BYTES
    per_sample = math.prod(sizes["shape"]) * BYTES
    n_all = sizes["n_train"] + sizes["n_val"] + sizes["n_test"]
    prepared = min(512 * 2**20, sizes["n_train"] * per_sample * (steps if len(sizes["shape"]) == 1 else 1))
    dataset = n_all * per_sample + sizes["n_val"] * steps * n_in * BYTES + prepared
    total = BASE_MB * 2**20 + activations + params * 4 * BYTES + dataset
    forward = 2 * steps * sum(layer["macs"] for layer in plan)
    epochs = int(spec["training"]["epochs"])
    flops = (
        epochs * sizes["n_train"] * 3 * forward
        + (epochs * sizes["n_val"] + sizes["n_val"] + sizes["n_test"]) * forward
    )
    mb = 2**20
    return {
        "mem_mb": int(math.ceil(total / mb)),
        "activations_mb": int(math.ceil(activations / mb)),
        "dataset_mb": int(math.ceil(dataset / mb)),
        "params": int(params),
        "neurons": int(outputs),
        "n_steps": steps,
        "batch_size": batch,
        "flops": int(flops),
    }


def machine_memory_mb() -> int:
    """Physical memory of this machine in MB (0 when unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20)
    except (ValueError, OSError, AttributeError):
        return 0


def experiment_estimates(config: dict) -> dict[str, dict]:
    """Per experiment: the estimate of one of its runs (every run of an experiment has the same
    shapes), ``runs`` and the experiment's total ``flops``; experiments whose dataset sizes are
    unknown (plugins) are left out."""
    from .runs import expand_runs, run_spec

    out: dict[str, dict] = {}
    runs = expand_runs(config)
    for key in runs:
        if key.experiment in out:
            out[key.experiment]["runs"] += 1
            continue
        exp = config["experiments"][key.experiment]
        sizes = dataset_sizes(exp["dataset"], config["datasets"][exp["dataset"]])
        if sizes is None:
            continue
        try:
            out[key.experiment] = {**run_estimate(run_spec(config, key), sizes), "runs": 1}
        except ValueError as err:  # a layer list whose shapes do not fit the data
            from ..errors import ConfigError

            raise ConfigError(f"config error at experiments.{key.experiment}.{err}") from None
    for est in out.values():
        est["total_flops"] = est["flops"] * est["runs"]
    return out


# The IF simulation's batch (``conversion.simulate_if``'s default).
SIMULATION_BATCH = 512


def conversion_estimate(conv: dict, sizes: dict, n_classes: int = 10) -> dict:
    """FLOPs and peak memory of one E4 job pair (a ``conversions.<name>`` section, one seed): the
    ANN's training (as a run's, T = 1) and the IF simulation of every (normalization, alpha) on
    the validation and test splits for ``max(time_steps)`` steps, each step one dense pass
    through the converted layers (``train_flops``, ``convert_flops``, ``flops``, ``mem_mb``)."""
    ann = conv["ann"]
    n_in = int(sizes["shape"][0]) if len(sizes["shape"]) == 1 else math.prod(sizes["shape"])
    plan = layer_plan({"kind": "feedforward", **ann}, n_in, sizes.get("input_shape"))
    macs = sum(layer["macs"] for layer in plan) + plan[-1]["outputs"] * n_classes
    forward = 2 * macs
    epochs = int(ann["epochs"])
    train = (
        epochs * sizes["n_train"] * 3 * forward
        + (epochs * sizes["n_val"] + sizes["n_train"] + sizes["n_val"] + sizes["n_test"]) * forward
    )
    variants = len(conv["normalizations"]) * len(conv["alphas"])
    simulate = variants * (sizes["n_val"] + sizes["n_test"]) * max(conv["time_steps"]) * forward
    outputs = sum(layer["outputs"] for layer in plan)
    n_all = sizes["n_train"] + sizes["n_val"] + sizes["n_test"]
    # the larger of training (activations for backward) and the simulation (membranes, spikes,
    # their counts), plus the dataset and the interpreter
    work = max(int(ann["batch_size"]) * outputs * ACT_COPIES, SIMULATION_BATCH * outputs * 3) * BYTES
    total = BASE_MB * 2**20 + work + n_all * n_in * BYTES
    return {
        "train_flops": int(train),
        "convert_flops": int(simulate),
        "flops": int(train + simulate),
        "mem_mb": int(math.ceil(total / 2**20)),
    }


def conversion_estimates(config: dict) -> dict[str, dict]:
    """Per conversion experiment: ``conversion_estimate`` of one seed, ``runs`` (its seeds) and
    ``total_flops``; experiments whose dataset sizes are unknown are left out."""
    out = {}
    for name, conv in config.get("conversions", {}).items():
        sizes = dataset_sizes(conv["dataset"], config["datasets"][conv["dataset"]])
        if sizes is None:
            continue
        est = conversion_estimate(conv, sizes)
        runs = len(conv["ann"]["seeds"])
        out[name] = {**est, "runs": runs, "total_flops": est["flops"] * runs}
    return out


def check_memory(config: dict) -> None:
    """ConfigError naming the experiment and its sizes when one run's estimated peak memory is
    above ``max_job_mem_mb`` (default: this machine's memory)."""
    from ..errors import ConfigError

    cap = config.get("max_job_mem_mb") or machine_memory_mb()
    if not cap:
        return
    where_cap = f"max_job_mem_mb={cap}" if config.get("max_job_mem_mb") else f"this machine's {cap} MB"
    for name, est in experiment_estimates(config).items():
        if est["mem_mb"] > cap:
            raise ConfigError(
                f"config error at experiments.{name}: a run needs about {est['mem_mb']:,} MB "
                f"(activations {est['activations_mb']:,} MB for n_steps={est['n_steps']} x "
                f"training.batch_size={est['batch_size']} x {est['neurons']:,} neurons of the model; "
                f"dataset {est['dataset_mb']:,} MB), more than {where_cap}"
            )


def rule_mem_mb(config: dict, experiment: str, floor: int = 1500) -> int:
    """``mem_mb`` for a training job of ``experiment``: 1.25 x the estimate, at least ``floor``."""
    est = experiment_estimates_cached(config).get(experiment)
    if est is None:
        return floor
    return max(floor, int(math.ceil(1.25 * est["mem_mb"] / 100.0) * 100))


# Sustained training throughput assumed for a job's time limit (FLOP/s): a GPU (device cuda) and
# one CPU thread (the study efficiency in benchmarks/results/study.json times that machine's
# one-thread sgemm peak: 27 % of a 160-190 GFLOP/s Xeon, 44-48 % of a 90-99 GFLOP/s AMD EPYC,
# so about 40-50 GFLOP/s).
GPU_FLOPS = 10e12
CPU_FLOPS_PER_THREAD = 50e9


def conversion_resources(config: dict, name: str, step: str) -> dict:
    """``mem_mb`` and ``runtime`` (minutes) of a ``train_ann`` (``step="train"``) or ``convert``
    job of conversion ``name``: 1.25 x the memory estimate (at least 1,500 MB) and twice the
    step's FLOPs at the assumed throughput (at least 20 minutes)."""
    est = conversion_estimates(config).get(name)
    if est is None:
        return {"mem_mb": 2000, "runtime": 30}
    rate = GPU_FLOPS if config.get("device") == "cuda" else CPU_FLOPS_PER_THREAD * config.get("threads", 1)
    flops = est["train_flops" if step == "train" else "convert_flops"]
    return {
        "mem_mb": max(1500, int(math.ceil(1.25 * est["mem_mb"] / 100.0) * 100)),
        "runtime": max(20, int(math.ceil(2 * flops / rate / 60))),
    }


def rule_runtime_min(config: dict, experiment: str, runs_per_job: int, floor: int = 30) -> int:
    """``runtime`` (minutes) of a training job of ``experiment`` that trains ``runs_per_job`` runs:
    twice the FLOPs over the assumed throughput (``GPU_FLOPS`` with ``device: cuda``, else
    ``CPU_FLOPS_PER_THREAD`` x threads), at least ``floor``."""
    est = experiment_estimates_cached(config).get(experiment)
    if est is None:
        return floor
    rate = GPU_FLOPS if config.get("device") == "cuda" else CPU_FLOPS_PER_THREAD * config.get("threads", 1)
    return max(floor, int(math.ceil(2 * est["flops"] * runs_per_job / rate / 60)))


def job_priority(flops: float) -> int:
    """Snakemake ``priority`` of a job estimated at ``flops``: 10 per decade above 1 GFLOP.

    Why: with more jobs than cores, Snakemake starts the ready jobs of highest priority first.
    Longest first leaves only short jobs for the end, so both cores stay busy until the last
    training job and the serial tail starts sooner (a job started last that runs for minutes
    keeps the other core idle). Numbers do not depend on the order."""
    return max(0, int(round(10 * math.log10(max(float(flops), 1.0) / 1e9))))


def rule_priority(config: dict, experiment: str, runs_per_job: int) -> int:
    """``job_priority`` of a training job of ``experiment`` that trains ``runs_per_job`` runs."""
    est = experiment_estimates_cached(config).get(experiment)
    return 0 if est is None else job_priority(est["flops"] * runs_per_job)


def conversion_priority(config: dict, name: str, step: str) -> int:
    """``job_priority`` of a ``train_ann`` job (its FLOPs and its ``convert`` job's: the pair is
    one chain) or of a ``convert`` job (``step="convert"``)."""
    est = conversion_estimates(config).get(name)
    if est is None:
        return 0
    return job_priority(est["flops"] if step == "train" else est["convert_flops"])


_CACHE: dict[str, dict] = {}


def experiment_estimates_cached(config: dict) -> dict[str, dict]:
    """``experiment_estimates``, computed once per config content in this process (every
    training rule of a Snakefile asks)."""
    key = json.dumps(config, sort_keys=True, default=str)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = experiment_estimates(config)
    return _CACHE[key]


def budget_table(config: dict, tflops: float) -> str:
    """Markdown: per experiment its runs, training FLOPs, GPU-hours at ``tflops`` TFLOP/s
    sustained, and one run's estimated peak memory; a conversion experiment's runs are its seeds
    (one ANN trained and converted each), its FLOPs training plus simulation."""
    rows = [
        f"| experiment | runs | FLOPs (all runs) | GPU-hours at {tflops:g} TFLOP/s | peak memory per run |",
        "|---|---:|---:|---:|---:|",
    ]
    total = 0
    estimates = {**experiment_estimates(config), **conversion_estimates(config)}
    for name, est in estimates.items():
        total += est["total_flops"]
        hours = est["total_flops"] / (tflops * 1e12) / 3600
        rows.append(
            f"| {name} | {est['runs']} | {est['total_flops']:.3g} | {hours:.2f} | {est['mem_mb']:,} MB |"
        )
    rows.append(f"| **total** | | {total:.3g} | {total / (tflops * 1e12) / 3600:.2f} | |")
    return "\n".join(rows)
