"""The kernel benchmark's products-alone bound (benchmarks/bench_kernels.py): it must execute
exactly the products a training step needs, the ones its fraction of peak counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benchmarks import bench_kernels as bk

W = dict(n_in=7, hidden=[5, 6, 4], n_out=3, T=9, batch=4, recurrent=True)


def test_the_workloads_products_are_the_steps_needed_flops():
    for w in [*bk.WORKLOADS.values(), W]:
        assert sum(p.flops for p in bk.step_products(w)) == bk.step_flops(w)


def test_the_products_step_runs_each_product_once(monkeypatch):
    """One bound step executes every product of the list once, each as listed: ``torch.mm``,
    ``torch.addmm`` with a bias, the recurrent steps through the loops' ``step_gemm_sum``."""
    from spikesparse._ext import extension

    ext = extension()
    assert ext is not None, "the compiled loops must build on this machine"
    calls = {"mm": [], "addmm": [], "steps": []}
    for name in ("mm", "addmm"):
        real = getattr(torch, name)

        def counting(*a, _real=real, _name=name, **k):
            out = _real(*a, **k)
            calls[_name].append(tuple(out.shape))
            return out

        monkeypatch.setattr(torch, name, counting)

    class Recorder:
        def step_gemm_sum(self, a, bm):
            calls["steps"].append((tuple(a.shape), tuple(bm.shape)))
            return ext.step_gemm_sum(a, bm)

    monkeypatch.setattr("spikesparse._ext.extension", lambda: Recorder())
    bk.make_products_step(W)()
    products = bk.step_products(W)
    assert calls["mm"] == [(p.m, p.n) for p in products if p.op == "mm"]
    assert calls["addmm"] == [(p.m, p.n) for p in products if p.op == "addmm"]
    assert calls["steps"] == [((p.repeat, p.m, p.k), (p.k, p.n)) for p in products if p.op == "steps"]
    assert len(calls["steps"]) == 2 * len(W["hidden"])


def test_step_over_products_is_the_median_of_the_rounds_ratios():
    step = [{"ms": 10.0}, {"ms": 12.0}, {"ms": 9.0}]
    products = [{"ms": 8.0}, {"ms": 8.0}, {"ms": 6.0}]  # ratios 1.25, 1.5, 1.5
    assert bk.step_over_products_of_rounds(step, products) == 1.5
    assert bk.step_over_products_of_rounds(step[:2], products[:2]) == (1.25 + 1.5) / 2


# ----------------------------------------------------------------------------- W3: the conv SNN

W3 = bk.WORKLOADS["W3"]
W3_SMALL = {**W3, "T": 3, "batch": 4}


def test_w3_is_the_default_studys_conv_arm_built_as_training_builds_it():
    import yaml

    from spikesparse.models import ConvSpikingNet

    arm = yaml.safe_load((bk.REPO / "config.yaml").read_text())["experiments"][bk.CONV_ARM]
    assert W3["model"] == arm["model"] and W3["encoding"]["name"] == "current"
    assert (W3["n_in"], W3["n_out"], W3["T"], W3["batch"]) == (40, 10, 16, 128)
    ours = bk.build_models(W3_SMALL, ["snntorch"])["spikesparse"]
    assert isinstance(ours, ConvSpikingNet)
    kinds = [
        (type(m).__name__, m.out_channels if hasattr(m, "out_channels") else m.out_features)
        for m in ours.layers
    ]
    assert kinds == [("Conv1d", 32), ("Conv1d", 64), ("Conv1d", 64), ("Linear", 128)]
    assert [step[1] for step in ours.plan if step[0] == "pool"] == ["avg", "avg"]
    assert ours.neuron.beta == 0.9 and ours.neuron.reset == "subtract"


def test_w3_input_is_the_same_current_every_step():
    x, y = bk.workload_batch(W3_SMALL)
    assert x.shape == (3, 4, 40) and y.shape == (4,)
    assert torch.equal(x[0], x[1]) and torch.equal(x[0], x[2])
    assert x.abs().max() <= 3.0 + 1e-6 and x.std() > 0.5  # z-scores, clipped at 3


def test_w3_peers_compute_our_network_and_a_missing_peer_is_left_out():
    x, y = bk.workload_batch(W3_SMALL)
    models = bk.build_models(W3_SMALL, ["snntorch", "norse", "spikingjelly"])
    assert list(models) == ["spikesparse", "snntorch", "spikingjelly"]  # Norse has no conv layers
    loss = bk.first_step_losses("W3", W3_SMALL, models, x, y)
    assert set(loss) == set(models)
    assert abs(loss["spikesparse"] - loss["snntorch"]) <= 1e-4
    n = {k: bk.n_parameters(m) for k, m in models.items()}
    assert n["spikesparse"] == n["snntorch"] == n["spikingjelly"] == 102090
    for peer in ("snntorch", "spikingjelly"):  # our initial weights, init_scale included
        for theirs, mine in zip(models[peer].synaptic(), models["spikesparse"].layers, strict=True):
            assert torch.equal(theirs.weight, mine.weight)
    only = bk.build_models(W3_SMALL, ["snntorch"])
    assert list(only) == ["spikesparse", "snntorch"]
    assert set(bk.first_step_losses("W3", W3_SMALL, only, x, y)) == {"spikesparse", "snntorch"}


def test_w3_check_stops_on_other_weights_or_another_network():
    x, y = bk.workload_batch(W3_SMALL)
    models = bk.build_models(W3_SMALL, ["snntorch", "spikingjelly"])
    with torch.no_grad():
        models["snntorch"].fc_out.weight.mul_(3.0)
    with pytest.raises(SystemExit, match="first-step losses differ"):
        bk.first_step_losses("W3", W3_SMALL, models, x, y)
    models = bk.build_models(W3_SMALL, ["snntorch", "spikingjelly"])
    smaller = {**W3_SMALL, "model": {**W3["model"], "layers": W3["model"]["layers"][:-1]}}
    models["spikingjelly"] = bk.SpikingJellyConvNet(smaller)  # the dense layer left out
    with pytest.raises(SystemExit, match="spikingjelly has"):
        bk.first_step_losses("W3", W3_SMALL, models, x, y)


def test_w3_flops_are_the_studys_count_of_a_conv_run():
    """One count for conv runs: W3's step FLOPs per sample are what ``studybench`` gives a
    training sample of the conv arm at W3's T."""
    import pandas as pd

    from spikesparse.tools.studybench import _layer_model_flops

    run = pd.Series(
        {
            "experiment": bk.CONV_ARM,
            "dataset": "mnist1d",
            "cfg.encoding.name": "current",
            "cfg.encoding.n_steps": W3["T"],
            "cfg.model.layers": ", ".join(repr(layer) for layer in W3["model"]["layers"]),
            "cfg.model.input_shape": "1,40",
            "cfg.training.epochs": 1,
        }
    )
    shapes = {f"x_{s}": [10, 40] for s in ("train", "val", "test")}
    _, train, _, _ = _layer_model_flops(run, {"mnist1d": {"shapes": shapes, "n_classes": 10}})
    assert bk.step_flops(W3) == W3["batch"] * train
    # by hand: per sample and step 40*32*5 + 20*64*3*32 + 10*64*3*64 + 640*128 + 128*10 multiply-adds
    assert bk.step_flops(W3) == 128 * 3 * 2 * 16 * (6400 + 122880 + 122880 + 81920 + 1280)


def test_w3_products_step_runs_each_product_once(monkeypatch):
    """The products-alone bound of W3: each conv layer's forward and one convolution_backward for
    its two gradients, the dense layer's and readout's three matrix products, nothing else."""
    products = bk.step_products(W3_SMALL)
    convs = [p for p in products if isinstance(p, bk.ConvProduct)]
    assert [(p.n, p.c_in, p.length, p.c_out, p.kernel) for p in convs] == [
        (12, 1, 40, 32, 5),
        (12, 32, 20, 64, 3),
        (12, 64, 10, 64, 3),
    ]
    assert [p.l_out for p in convs] == [40, 20, 10]
    calls = {"conv1d": [], "convolution_backward": [], "mm": [], "addmm": []}

    def counting(name, real):
        def call(*a, **k):
            out = real(*a, **k)
            calls[name].append(tuple((out[0] if isinstance(out, tuple) else out).shape))
            return out

        return call

    monkeypatch.setattr(F, "conv1d", counting("conv1d", F.conv1d))
    cb = torch.ops.aten.convolution_backward
    monkeypatch.setattr(torch.ops.aten, "convolution_backward", counting("convolution_backward", cb))
    for name in ("mm", "addmm"):
        monkeypatch.setattr(torch, name, counting(name, getattr(torch, name)))
    bk.make_products_step(W3_SMALL)()
    assert calls["conv1d"] == [(p.n, p.c_out, p.l_out) for p in convs]
    assert calls["convolution_backward"] == [(p.n, p.c_in, p.length) for p in convs]  # the input gradient
    assert calls["addmm"] == [(12, 128), (12, 10)]  # dense and readout, every step's rows
    assert calls["mm"] == [(128, 640), (12, 640), (10, 128), (12, 128)]  # weight, input gradients


def test_workload_row_fractions_of_both_peaks_and_only_the_peers_measured():
    def rounds(ms_list, conv=True):
        return [
            {"ms": ms, "peak": 100.0, "cpu_share": 1.0, **({"conv_peak": 50.0} if conv else {})}
            for ms in ms_list
        ]

    flops = 1e9  # 1 GFLOP: 10 ms = 100 GFLOP/s
    r = {
        "spikesparse": rounds([10.0, 20.0, 10.0]),
        bk.BOUND: rounds([5.0, 5.0, 5.0]),
        "snntorch": rounds([40.0] * 3),
    }
    row = bk.workload_row("W3", W3, r, flops)
    assert row["goal_fraction_of_peak"] is None
    assert row["spikesparse"]["fraction_of_matmul_peak"] == 1.0
    assert (
        row["spikesparse"]["fraction_of_conv_peak"] == 2.0 and row[bk.BOUND]["fraction_of_conv_peak"] == 4.0
    )
    assert row["spikesparse"]["step_over_products"] == 2.0
    assert row["speedup_vs"] == {"snntorch": 4.0} and row["speedup"] == 4.0
    r2 = {k: rounds([v[0]["ms"]] * 3, conv=False) for k, v in r.items() if k != "snntorch"}
    row2 = bk.workload_row("W2", bk.WORKLOADS["W2"], r2, flops)
    assert "fraction_of_conv_peak" not in row2["spikesparse"] and row2["goal_fraction_of_peak"] == 0.8
    assert row2["speedup_vs"] == {} and "speedup" not in row2


def test_conv_peak_is_a_positive_rate_and_restores_the_thread_count():
    before = torch.get_num_threads()
    peak = bk.conv_peak_gflops(threads=1, repeats=1, blocks=1, shapes=((2, 4, 16, 8, 3), (1, 8, 8, 8, 5)))
    assert 0 < peak < float("inf")
    assert torch.get_num_threads() == before
