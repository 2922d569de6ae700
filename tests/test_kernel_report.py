"""The kernel benchmark's table (spikesparse.tools.kernel_report): every figure from the result, peers
without a figure shown as such, and the conditions the figures were measured under."""

import pytest

from spikesparse.tools.kernel_report import (
    kernel_conditions,
    kernel_markdown,
    kernel_table,
    step_over_products,
)


def _result(with_norse_speedup: bool = True) -> dict:
    speedup_vs = {"snntorch": 6.5, "norse": 4.25} if with_norse_speedup else {"snntorch": 6.5}
    row = {
        "goal_fraction_of_peak": 0.7,
        "spikesparse": {"median_ms": 8.0, "fraction_of_matmul_peak": 0.514, "fraction_of_matmul_only": 0.69},
        "matmul_only": {"median_ms": 5.5, "fraction_of_matmul_peak": 0.746},
        "snntorch": {"median_ms": 52.0},
        "norse": {"median_ms": 34.0},
        "speedup_vs": speedup_vs,
    }
    block = {
        "workloads": {"W1": row},
        "matmul_peak_gflops": 188.66,
        "contention_before": {"loadavg_1min": 0.24},
        "contention_after": {"loadavg_1min": 0.81},
    }
    return {
        "measured_at": "2026-11-27 04:42 UTC",
        "peers": ["snntorch", "norse"],
        "repeats": 5,
        "steps": 30,
        "threads": {"1": block},
        "quick_study_s": 62.2,
        "provenance": {
            "git_commit": "7b6f06871ec8",
            "cpu_model": "Some CPU",
            "cpu_capability": "AVX512",
            "torch": "2.13.0+cpu",
            "lif_kernels": "compiled",
        },
    }


def test_row_carries_every_figure_of_the_result():
    lines = kernel_table(_result()).splitlines()
    assert lines[0].startswith("| threads | workload | spikesparse ms/step |")
    assert "snntorch ms/step | norse ms/step | speed-up vs snntorch / norse |" in lines[0]
    # The separator has as many cells as the header (else markdown renders no table).
    assert lines[1].count("---") == lines[0].count("|") - 1 == 9
    # A JSON without step_over_products: the reciprocal of fraction_of_matmul_only (1 / 0.69).
    assert lines[2] == "| 1 | W1 | 8.00 | 51 % (70 %) | 5.50, 75 % | 1.45× | 52.00 | 34.00 | 6.50× / 4.25× |"


def test_step_over_products_is_its_own_column_with_the_goal():
    result = _result()
    ours = result["threads"]["1"]["workloads"]["W1"]["spikesparse"]
    ours["step_over_products"] = 1.4321
    lines = kernel_table(result).splitlines()
    assert "| spikesparse ms/step | % of sgemm peak (goal) | products alone: ms, % of peak |" in lines[0]
    assert "| step time / products alone (goal ≤ 1.15×) |" in lines[0]
    assert "| 5.50, 75 % | 1.43× |" in lines[2]  # beside the fractions of peak, the recorded ratio
    assert step_over_products(ours) == 1.4321
    assert step_over_products({"fraction_of_matmul_only": 0.8}) == pytest.approx(1.25)
    del ours["step_over_products"], ours["fraction_of_matmul_only"]
    assert step_over_products(ours) is None
    assert "| 5.50, 75 % | – |" in kernel_table(result).splitlines()[2]


def test_a_peer_without_a_figure_is_shown_as_missing():
    row = kernel_table(_result(with_norse_speedup=False)).splitlines()[2]
    assert row.endswith("| 6.50× / – |")


def test_conditions_name_date_cpu_commit_rounds_peak_and_load():
    text = kernel_conditions(_result())
    assert text.startswith(
        "Measured 2026-11-27 04:42 UTC on Some CPU (AVX512), torch 2.13.0+cpu, commit 7b6f068"
    )
    assert "median of 5 rounds × 30 steps" in text
    assert "1 thread: sgemm peak 188.7 GFLOP/s, load average 0.2 → 0.8" in text
    assert "Quick config end to end: 62.2 s (cold jobs)." in text
    old = {k: v for k, v in _result().items() if k not in ("measured_at", "quick_study_s")}
    assert "date not recorded" in kernel_conditions(old) and "Quick config" not in kernel_conditions(old)


def test_markdown_is_the_table_then_its_conditions():
    md = kernel_markdown(_result())
    table, conditions = md.split("\n\n")
    assert table == kernel_table(_result()) and conditions == kernel_conditions(_result())


def _with_w3(result: dict) -> dict:
    """The result with a conv workload (W3) that only snnTorch ran, no goal, and its conv peak."""
    block = result["threads"]["1"]
    block["workloads"]["W3"] = {
        "goal_fraction_of_peak": None,
        "spikesparse": {
            "median_ms": 40.0,
            "fraction_of_matmul_peak": 0.254,
            "fraction_of_conv_peak": 0.301,
            "step_over_products": 2.04,
        },
        "matmul_only": {"median_ms": 19.6, "fraction_of_matmul_peak": 0.52, "fraction_of_conv_peak": 0.615},
        "snntorch": {"median_ms": 90.0},
        "speedup_vs": {"snntorch": 2.25},
    }
    block["conv_peak_gflops"] = 160.04
    return result


def test_a_conv_workload_gets_its_conv_peak_column_and_missing_peers_and_goal_show_as_such():
    lines = kernel_table(_with_w3(_result())).splitlines()
    assert "| step time / products alone (goal ≤ 1.15×) | % of conv peak: step, products alone |" in lines[0]
    assert lines[1].count("---") == lines[0].count("|") - 1 == 10
    assert lines[2] == (
        "| 1 | W1 | 8.00 | 51 % (70 %) | 5.50, 75 % | 1.45× | – | 52.00 | 34.00 | 6.50× / 4.25× |"
    )
    assert (
        lines[3] == "| 1 | W3 | 40.00 | 25 % (–) | 19.60, 52 % | 2.04× | 30 %, 62 % | 90.00 | – | 2.25× / – |"
    )
    # Without a W3 (a JSON written before it) the table has no conv column at all.
    assert "conv peak" not in kernel_table(_result())


def test_conditions_name_the_conv_peak_where_it_was_measured():
    text = kernel_conditions(_with_w3(_result()))
    assert "1 thread: sgemm peak 188.7 GFLOP/s, conv peak 160.0 GFLOP/s, load average 0.2 → 0.8" in text
    assert "conv peak" not in kernel_conditions(_result())
