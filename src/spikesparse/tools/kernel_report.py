"""The kernel benchmark's table: ``benchmarks/bench_kernels.py`` prints it after a run, and the
docs/study/performance.md holds the same table generated from the committed
``benchmarks/results/kernels.json`` (``spikesparse.tools.readme``), so the figures the docs quote are
the file's, never typed by hand.

One row per thread count and workload: spikesparse's ms per training step and its fraction of the
sgemm peak measured in the same round (with the goal, where the workload has one), the step's
products alone (the most any implementation executing them this way can reach), the step's time
over its products-alone time (with its goal: at most ``STEP_OVER_PRODUCTS_GOAL``),
for a conv workload (W3) its fraction and its products' fraction of the conv peak measured in the
same round (a column shown only when some workload has one), and every peer's ms per step and
spikesparse's speed-up against it ("–" where a peer did not run the workload: Norse has no W3).
"""

from __future__ import annotations

BOUND = "matmul_only"  # the products-alone entry of a workload in the benchmark's JSON
# The goal for a training step: within 15 % of its matrix products alone (docs/study/performance.md).
STEP_OVER_PRODUCTS_GOAL = 1.15


def step_over_products(ours: dict) -> float | None:
    """The step's time over its products-alone time: ``step_over_products`` of the JSON (per
    round, then the median), or, in a JSON written before it was recorded, the reciprocal of
    ``fraction_of_matmul_only`` (products-alone time over step time, per round then the median:
    the same number for an odd count of rounds). None where neither is there."""
    if "step_over_products" in ours:
        return float(ours["step_over_products"])
    if ours.get("fraction_of_matmul_only"):
        return 1.0 / float(ours["fraction_of_matmul_only"])
    return None


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _ms(row: dict, impl: str) -> str:
    return f"{row[impl]['median_ms']:.2f}" if impl in row else "–"


def _conv_peak(row: dict) -> str:
    """A conv workload's fraction of the conv peak: the step's, then its products alone's."""
    ours, bound = row["spikesparse"], row.get(BOUND) or {}
    if "fraction_of_conv_peak" not in ours:
        return "–"
    alone = bound.get("fraction_of_conv_peak")
    return _pct(ours["fraction_of_conv_peak"]) + (f", {_pct(alone)}" if alone is not None else ", –")


def kernel_table(result: dict) -> str:
    """The markdown table of a ``bench_kernels`` result (its JSON, as written)."""
    peers = list(result["peers"])
    rows = [(n, name, row) for n, b in result["threads"].items() for name, row in b["workloads"].items()]
    conv = any("fraction_of_conv_peak" in row["spikesparse"] for _, _, row in rows)
    lines = [
        "| threads | workload | spikesparse ms/step | % of sgemm peak (goal) | products alone: ms, % of peak "
        f"| step time / products alone (goal ≤ {STEP_OVER_PRODUCTS_GOAL:.2f}×) | "
        + ("% of conv peak: step, products alone | " if conv else "")
        + " | ".join(f"{p} ms/step" for p in peers)
        + " | speed-up vs "
        + " / ".join(peers)
        + " |",
        # 6 fixed columns, the conv peak's, one per peer, the speed-ups
        "|" + "---|" * (7 + conv + len(peers)),
    ]
    for n, name, row in rows:
        ours, bound = row["spikesparse"], row.get(BOUND)
        alone = f"{bound['median_ms']:.2f}, {_pct(bound['fraction_of_matmul_peak'])}" if bound else "–"
        over = step_over_products(ours)
        ratio = f"{over:.2f}×" if over is not None else "–"
        goal = row.get("goal_fraction_of_peak")
        speedups = " / ".join(
            f"{row['speedup_vs'][p]:.2f}×" if p in row.get("speedup_vs", {}) else "–" for p in peers
        )
        lines.append(
            f"| {n} | {name} | {ours['median_ms']:.2f} | {_pct(ours['fraction_of_matmul_peak'])} "
            f"({_pct(goal) if goal is not None else '–'}) | {alone} | {ratio} | "
            + (f"{_conv_peak(row)} | " if conv else "")
            + " | ".join(_ms(row, p) for p in peers)
            + f" | {speedups} |"
        )
    return "\n".join(lines)


def kernel_conditions(result: dict) -> str:
    """Where and how the table was measured: date, CPU, versions, commit, rounds, the sgemm peak
    (and the conv peak, when measured) and the load at each thread count, and the quick study's
    wall time when it was timed."""
    prov = result.get("provenance", {})
    commit = str(prov.get("git_commit") or "unknown")[:7]
    when = result.get("measured_at", "(date not recorded)")
    peaks = "; ".join(
        f"{n} thread{'s' if n != '1' else ''}: sgemm peak {b['matmul_peak_gflops']:.1f} GFLOP/s, "
        + (f"conv peak {b['conv_peak_gflops']:.1f} GFLOP/s, " if "conv_peak_gflops" in b else "")
        + "load average "
        f"{b['contention_before']['loadavg_1min']:.1f} → {b['contention_after']['loadavg_1min']:.1f}"
        for n, b in result["threads"].items()
    )
    text = (
        f"Measured {when} on {prov.get('cpu_model', 'an unrecorded CPU')} "
        f"({prov.get('cpu_capability', '?')}), torch {prov.get('torch', '?')}, commit {commit}, "
        f"loops {prov.get('lif_kernels', '?')}; median of {result['repeats']} rounds × "
        f"{result['steps']} steps. {peaks}."
    )
    if "quick_study_s" in result:
        text += f" Quick config end to end: {result['quick_study_s']:.1f} s (cold jobs)."
    return text


def kernel_markdown(result: dict) -> str:
    """The table with its conditions underneath: what ``make bench`` prints and the README holds."""
    return kernel_table(result) + "\n\n" + kernel_conditions(result)
