"""Where and how the compiled LIF loops are built: per CPU for a native build, and a portable
build when the compiler refuses the native flags."""

import torch

from spikesparse import _ext


def test_native_build_folder_is_per_cpu_and_portable_is_not(monkeypatch):
    monkeypatch.setattr(_ext, "_cpu_signature", lambda: "model name : cpu A")
    native_a = _ext._build_dir(_ext._NATIVE_CFLAGS)
    portable_a = _ext._build_dir(_ext._PORTABLE_CFLAGS)
    monkeypatch.setattr(_ext, "_cpu_signature", lambda: "model name : cpu B")
    assert _ext._build_dir(_ext._NATIVE_CFLAGS) != native_a
    assert _ext._build_dir(_ext._PORTABLE_CFLAGS) == portable_a
    assert native_a != portable_a


def test_cpu_signature_names_this_machine():
    sig = _ext._cpu_signature()
    assert sig and isinstance(sig, str)


def test_native_flags_keep_rounding_unfused():
    """FMA contraction would round a * b + c once instead of twice: numbers would change."""
    assert "-ffp-contract=off" in _ext._NATIVE_CFLAGS
    assert "-march=native" in _ext._NATIVE_CFLAGS


def test_a_refused_native_build_falls_back_to_the_portable_one(monkeypatch):
    tried = []

    def fake(cflags):
        tried.append(cflags)
        if "-march=native" in cflags:
            raise RuntimeError("unrecognized command-line option '-march=native'")
        return "portable module"

    monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
    monkeypatch.setattr(_ext, "_state", {"tried": False, "module": None})
    monkeypatch.setattr(_ext, "_load_or_build", fake)
    assert _ext.extension() == "portable module"
    assert tried == [_ext._NATIVE_CFLAGS, _ext._PORTABLE_CFLAGS]


def test_native_and_portable_builds_give_identical_numbers(monkeypatch):
    """Forward and backward loops of both builds, bit for bit, feed-forward and recurrent: the
    native build may only be faster. (Against the pure-PyTorch loops the compiled ones agree to
    rounding, tests/test_neurons.py, since they order the same additions differently.)"""
    monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
    native = _ext._load_or_build(_ext._NATIVE_CFLAGS)
    portable = _ext._load_or_build(_ext._PORTABLE_CFLAGS)
    gen = torch.Generator().manual_seed(11)
    cur = torch.randn(30, 5, 40, generator=gen) * 0.7 + 0.3
    w = torch.randn(40, 40, generator=gen) * 0.2
    w_eff_t = (w.t() - torch.eye(40)).contiguous()
    g = torch.randn(30, 5, 40, generator=gen)
    none = torch.empty(0)

    def run(ext):
        out = []
        for zero in (False, True):
            s, surr, m, n = ext.ff_forward(cur, 0.9, 1.0, 25.0, zero, True, True)
            out += [s, surr, m, n, ext.ff_backward(g, g, surr, s, 0.9, zero)]
        s, surr, m, n = ext.rec_forward(cur, w_eff_t, 0.9, 1.0, 25.0, True, True)
        out += [s, surr, m, n, *ext.rec_backward(g, none, surr, s, w.contiguous(), 0.9)]
        # Refractory period, budget and ALIF together; the backward rounds as the PyTorch loop.
        s, surr, m, n = ext.rec_forward_constrained(cur, w.t(), 0.9, 1.0, 25.0, 2, 3, 0.3, 0.95, True, True)
        out += [s, surr, m, n, *ext.rec_backward(g, g, surr, s, w.contiguous(), 0.9, torch_rounding=True)]
        return out

    for a, b in zip(run(native), run(portable), strict=True):
        assert torch.equal(a, b)
