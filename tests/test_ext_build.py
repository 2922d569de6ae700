"""Where and how the compiled LIF loops are built: per CPU for a native build, and a portable
build when the compiler refuses the native flags."""

from pathlib import Path

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

    def fake(cflags, retry=False):
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


def test_a_failed_build_is_remembered_in_its_folder_and_retried_on_request(tmp_path, monkeypatch):
    """Every process of a study used to try the failed build again and print the compiler's
    output; now the first failure is one line, kept beside the build, and build-ext retries."""
    import pytest
    import torch.utils.cpp_extension

    calls = []

    def broken(**kw):
        calls.append(kw["build_directory"])
        raise RuntimeError(
            "Error building extension:\n[1/7] c++ -O3 lif_loops.cpp\n/bin/sh: 1: c++: not found\n"
        )

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(torch.utils.cpp_extension, "load", broken)
    with pytest.raises(RuntimeError, match=r"^the build failed: /bin/sh: 1: c\+\+: not found \(output in "):
        _ext._load_or_build(_ext._PORTABLE_CFLAGS)
    folder = _ext._build_dir(_ext._PORTABLE_CFLAGS)
    assert "c++: not found" in (folder / _ext.FAILED_FILE).read_text()
    assert "[1/7]" in (folder / _ext.FAILED_LOG).read_text()
    with pytest.raises(RuntimeError, match="an earlier build; .*build-ext` tries again"):
        _ext._load_or_build(_ext._PORTABLE_CFLAGS)
    assert len(calls) == 1
    with pytest.raises(RuntimeError, match="the build failed"):
        _ext._load_or_build(_ext._PORTABLE_CFLAGS, retry=True)
    assert len(calls) == 2


def test_a_lock_left_by_a_killed_build_is_removed_not_waited_for(tmp_path, monkeypatch):
    """torch's lock file outlives a killed build; its load() then waited for it forever, and every
    later job hung without a word. Our own lock (flock, released when its holder dies) tells a
    stale file from a build in progress: here no builder holds it, so the file is removed, with a
    warning naming it, before torch's loader runs."""
    import pytest
    import torch.utils.cpp_extension

    folder_of = {}

    def load(**kw):  # torch's loader: it would wait while the lock file exists
        folder = Path(kw["build_directory"])
        assert not (folder / "lock").exists(), "the loader would wait for this lock forever"
        folder_of["built"] = folder
        return "module"

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(torch.utils.cpp_extension, "load", load)
    folder = _ext._build_dir(_ext._PORTABLE_CFLAGS)
    folder.mkdir(parents=True)
    (folder / "lock").touch()  # what a build killed mid-compile leaves
    with pytest.warns(RuntimeWarning, match=f"removing {folder / 'lock'}, left by a build that was stopped"):
        assert _ext._load_or_build(_ext._PORTABLE_CFLAGS) == "module"
    assert folder_of["built"] == folder and not (folder / "lock").exists()


def test_a_build_in_progress_is_waited_for_not_removed(tmp_path, monkeypatch):
    """While another process builds (it holds our flock), a second one waits for it instead of
    taking its lock file for a stale one."""
    import fcntl
    import threading

    import torch.utils.cpp_extension

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    folder = _ext._build_dir(_ext._PORTABLE_CFLAGS)
    folder.mkdir(parents=True)
    (folder / "lock").touch()
    holder = open(folder.parent / f"{folder.name}.build-lock", "w")  # noqa: SIM115 (held across the thread)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a builder at work
    monkeypatch.setattr(torch.utils.cpp_extension, "load", lambda **kw: "module")
    result = {}
    waiter = threading.Thread(target=lambda: result.update(module=_ext._load_or_build(_ext._PORTABLE_CFLAGS)))
    waiter.start()
    waiter.join(timeout=1.0)
    assert waiter.is_alive() and (folder / "lock").exists(), "it must wait while the builder works"
    (folder / "lock").unlink()  # the builder finishes: torch removes its file, our lock is released
    fcntl.flock(holder, fcntl.LOCK_UN)
    holder.close()
    waiter.join(timeout=30)
    assert result == {"module": "module"}
