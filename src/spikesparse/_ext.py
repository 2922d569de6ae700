"""Build (once, cached) and load the compiled LIF time loops in ``csrc/lif_loops.cpp``.

Why: even with whole-sequence ops, the Python time loop pays a dispatcher call per operation
and step. The compiled loops fuse membrane, spike and surrogate into one pass. They are an
accelerator only: when the build is impossible (no compiler) or disabled with
``SPIKESPARSE_NO_EXT=1``, the pure-PyTorch kernel in ``neurons`` runs instead, and the tests
check both against the same reference.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

_SOURCE = Path(__file__).resolve().parent / "csrc" / "lif_loops.cpp"
_state: dict = {"tried": False, "module": None}


def extension():
    """The compiled module, or None when disabled or unavailable (warned once)."""
    if os.environ.get("SPIKESPARSE_NO_EXT", "") == "1":
        return None
    if not _state["tried"]:
        _state["tried"] = True
        try:
            from torch.utils.cpp_extension import load

            _state["module"] = load(
                name="spikesparse_lif_loops",
                sources=[str(_SOURCE)],
                extra_cflags=["-O3", "-fopenmp"],  # at::parallel_for needs OpenMP
                extra_ldflags=["-fopenmp"],
                verbose=False,
            )
        except Exception as err:  # any build failure means: use the pure-PyTorch path
            warnings.warn(
                f"compiled LIF loops unavailable ({type(err).__name__}: {err}); "
                "using the pure-PyTorch kernels",
                RuntimeWarning,
                stacklevel=2,
            )
    return _state["module"]
