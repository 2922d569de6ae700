"""The kernel benchmark's products-alone bound (benchmarks/bench_kernels.py): it must execute
exactly the products a training step needs, the ones its fraction of peak counts."""

from __future__ import annotations

import torch

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
