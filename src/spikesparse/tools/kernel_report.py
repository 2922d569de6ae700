"""The kernel benchmark's table: ``benchmarks/bench_kernels.py`` prints it after a run, and the
README's Speed section holds the same table generated from the committed
``benchmarks/results/kernels.json`` (``spikesparse.tools.readme``), so the figures the README quotes are
the file's, never typed by hand.

One row per thread count and workload: spikesparse's ms per training step and its fraction of the
sgemm peak measured in the same round (with the goal), the step's matrix products alone (the most
any implementation executing them this way can reach), the step's time over its products-alone
time (with the goal of issue 40: at most ``STEP_OVER_PRODUCTS_GOAL``), and every installed peer's
ms per step and spikesparse's speed-up against it.
"""

from __future__ import annotations

BOUND = "matmul_only"  # the products-alone entry of a workload in the benchmark's JSON
# Issue 40: a training step within 15 % of its matrix products alone.
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


def kernel_table(result: dict) -> str:
    """The markdown table of a ``bench_kernels`` result (its JSON, as written)."""
    peers = list(result["peers"])
    lines = [
        "| threads | workload | spikesparse ms/step | % of sgemm peak (goal) | products alone: ms, % of peak "
        f"| step time / products alone (goal ≤ {STEP_OVER_PRODUCTS_GOAL:.2f}×) | "
        + " | ".join(f"{p} ms/step" for p in peers)
        + " | speed-up vs "
        + " / ".join(peers)
        + " |",
        "|" + "---|" * (7 + len(peers)),  # 6 fixed columns, one per peer, the speed-ups
    ]
    for n, block in result["threads"].items():
        for name, row in block["workloads"].items():
            ours, bound = row["spikesparse"], row.get(BOUND)
            alone = f"{bound['median_ms']:.2f}, {_pct(bound['fraction_of_matmul_peak'])}" if bound else "–"
            over = step_over_products(ours)
            ratio = f"{over:.2f}×" if over is not None else "–"
            speedups = " / ".join(
                f"{row['speedup_vs'][p]:.2f}×" if p in row.get("speedup_vs", {}) else "–" for p in peers
            )
            lines.append(
                f"| {n} | {name} | {ours['median_ms']:.2f} | {_pct(ours['fraction_of_matmul_peak'])} "
                f"({_pct(row['goal_fraction_of_peak'])}) | {alone} | {ratio} | "
                + " | ".join(_ms(row, p) for p in peers)
                + f" | {speedups} |"
            )
    return "\n".join(lines)


def kernel_conditions(result: dict) -> str:
    """Where and how the table was measured: date, CPU, versions, commit, rounds, the sgemm peak
    and the load at each thread count, and the quick study's wall time when it was timed."""
    prov = result.get("provenance", {})
    commit = str(prov.get("git_commit") or "unknown")[:7]
    when = result.get("measured_at", "(date not recorded)")
    peaks = "; ".join(
        f"{n} thread{'s' if n != '1' else ''}: sgemm peak {b['matmul_peak_gflops']:.1f} GFLOP/s, "
        "load average "
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
