"""The kernel benchmark's matmul-only bound (benchmarks/bench_kernels.py): the products it times
must be exactly the products a training step needs, the ones its fraction of peak counts."""

from __future__ import annotations

import pytest
import torch

from benchmarks import bench_kernels as bk
from spikesparse.flops import snn_training_flops

SHAPES = [
    *bk.WORKLOADS.values(),
    dict(n_in=7, hidden=[5, 6, 4], n_out=3, T=9, batch=4, recurrent=True),
    dict(n_in=7, hidden=[5], n_out=3, T=1, batch=2, recurrent=False),
]


@pytest.mark.parametrize("w", SHAPES)
def test_the_products_add_up_to_the_steps_needed_flops(w):
    products = bk.step_products(w)
    assert bk.products_flops(products) == bk.step_flops(w)
    net = (w["n_in"], w["hidden"], w["n_out"], w["T"], w["recurrent"])
    assert bk.step_flops(w) == w["batch"] * snn_training_flops(*net)
    # Recurrent layers run T - 1 per-step products forward and backward, through the loops' route.
    steps = [p for p in products if p["op"] == "steps"]
    assert len(steps) == (2 * len(w["hidden"]) if w["recurrent"] else 0)
    assert all(p["repeat"] == w["T"] - 1 for p in steps)


def test_the_products_step_runs_each_product_once(monkeypatch):
    """One bound step calls every product: the recurrent ones through step_gemm_sum."""
    from spikesparse._ext import extension

    ext = extension()
    assert ext is not None, "the compiled loops must build on this machine"
    w = SHAPES[2]
    calls = {"mm": 0, "addmm": 0}
    seen = []
    for name in calls:
        real = getattr(torch, name)

        def counting(*a, _real=real, _name=name, **k):
            calls[_name] += 1
            return _real(*a, **k)

        monkeypatch.setattr(torch, name, counting)

    class Recorder:
        def step_gemm_sum(self, a, bm):
            seen.append((tuple(a.shape), tuple(bm.shape)))
            return ext.step_gemm_sum(a, bm)

    monkeypatch.setattr("spikesparse._ext.extension", lambda: Recorder())
    bk.make_products_step(w)()
    ops = [p["op"] for p in bk.step_products(w)]
    assert calls == {"mm": ops.count("mm"), "addmm": ops.count("addmm")}
    expected = [
        ((w["T"] - 1, w["batch"], p["shape"][1]), p["shape"][1:])
        for p in bk.step_products(w)
        if p["op"] == "steps"
    ]
    assert seen == expected
