"""Training-step benchmark: spikesparse kernels against snnTorch's idiomatic per-step loop.

One process trains two workloads with both implementations (same initial weights, same input
spikes), checks that the first-step losses agree, and reports per training step (forward +
backward + Adam): median milliseconds over >= 20 timed steps after warm-up, speed-up, effective
GFLOP/s of the step's matmuls against a measured matmul peak, and the peak memory the step
allocates. It also times the quick config end to end through Snakemake. Results go to
benchmarks/results/kernels.json and are printed as a Markdown table for the README.

    make bench            # or: .venv/bin/python benchmarks/bench_kernels.py [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch import surrogate
from torch import nn

from spikesparse.io import provenance
from spikesparse.models import SpikingNet
from spikesparse.neurons import LIFParams
from spikesparse.runtime import tune_allocator

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "kernels.json"
BETA, READOUT_BETA, SLOPE = 0.9, 0.9, 25.0
FUSED_ADAM = True  # the same optimizer kernel for both implementations

WORKLOADS = {
    "W1": dict(n_in=40, hidden=[128], n_out=10, T=100, batch=64, recurrent=True),
    "W2": dict(n_in=64, hidden=[256, 256], n_out=10, T=25, batch=128, recurrent=False),
}


class SnnTorchNet(nn.Module):
    """The loop an snnTorch user writes: Linear -> (R)Leaky per step, membrane readout."""

    def __init__(self, n_in, hidden, n_out, recurrent):
        super().__init__()
        sizes = [n_in, *hidden]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        grad = surrogate.fast_sigmoid(slope=SLOPE)
        if recurrent:
            self.lifs = nn.ModuleList(
                snn.RLeaky(beta=BETA, linear_features=n, spike_grad=grad) for n in hidden
            )
        else:
            self.lifs = nn.ModuleList(snn.Leaky(beta=BETA, spike_grad=grad) for _ in hidden)
        self.fc_out = nn.Linear(hidden[-1], n_out)
        self.out = snn.Leaky(beta=READOUT_BETA, reset_mechanism="none", spike_grad=grad)
        self.recurrent = recurrent

    def forward(self, x):
        states = [lif.init_rleaky() if self.recurrent else lif.init_leaky() for lif in self.lifs]
        mem_out = self.out.init_leaky()
        total = 0.0
        for t in range(x.shape[0]):
            h = x[t]
            for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs, strict=True)):
                if self.recurrent:
                    spk, mem = lif(fc(h), *states[i])
                    states[i] = (spk, mem)
                else:
                    spk, mem = lif(fc(h), states[i])
                    states[i] = mem
                h = spk
            _, mem_out = self.out(self.fc_out(h), mem_out)
            total = total + mem_out
        return total / x.shape[0]


def build_pair(w: dict, seed: int = 0):
    torch.manual_seed(seed)
    ours = SpikingNet(
        w["n_in"],
        w["hidden"],
        w["n_out"],
        LIFParams(beta=BETA, slope=SLOPE),
        recurrent=w["recurrent"],
        readout_beta=READOUT_BETA,
    )
    theirs = SnnTorchNet(w["n_in"], w["hidden"], w["n_out"], w["recurrent"])
    with torch.no_grad():
        for fc, layer in zip(theirs.fcs, ours.layers, strict=True):
            fc.weight.copy_(layer.weight)
            fc.bias.copy_(layer.bias)
        if w["recurrent"]:
            for lif, w_rec in zip(theirs.lifs, ours.w_rec, strict=True):
                lif.recurrent.weight.copy_(w_rec)
                lif.recurrent.bias.zero_()
        theirs.fc_out.weight.copy_(ours.readout.weight)
        theirs.fc_out.bias.copy_(ours.readout.bias)
    return ours, theirs


def logits_of(model, x):
    out = model(x)
    return out.logits if hasattr(out, "logits") else out


def make_step(model, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=FUSED_ADAM)

    def step():
        loss = F.cross_entropy(logits_of(model, x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def median_ms(step, warmup: int, steps: int) -> tuple[float, list[float]]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), times


def peak_step_memory_mb(step) -> float:
    """Peak of bytes allocated minus freed during one step, from the profiler's memory events."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted((e for e in prof.events() if e.cpu_memory_usage != 0), key=lambda e: e.time_range.start)
    running = peak = 0
    for e in events:
        running += e.cpu_memory_usage
        peak = max(peak, running)
    return peak / 2**20


def step_flops(w: dict) -> float:
    """Matmul FLOPs of one step: forward 2*T*B*sum(fan_in*fan_out); backward twice that."""
    sizes = [w["n_in"], *w["hidden"], w["n_out"]]
    pairs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if w["recurrent"]:
        pairs += sum(n * n for n in w["hidden"])
    return 3 * 2 * w["T"] * w["batch"] * pairs


def matmul_peak_gflops(n: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def quick_study_wall_s() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("Snakefile", "config.yaml", "config", "workflow", "notebooks"):
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, Path(tmp) / name)
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--cores",
                "2",
                "--configfile",
                "config/quick.yaml",
                "--quiet",
                "all",
            ],
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads (default: all cores)"
    )
    parser.add_argument("--skip-quick", action="store_true", help="do not time the quick study")
    args = parser.parse_args()
    tune_allocator()
    torch.set_num_threads(args.threads)
    peak = matmul_peak_gflops()
    results = {"threads": torch.get_num_threads(), "matmul_peak_gflops": peak, "workloads": {}}
    for name, w in WORKLOADS.items():
        gen = torch.Generator().manual_seed(1)
        x = (torch.rand(w["T"], w["batch"], w["n_in"], generator=gen) < 0.3).float()
        y = torch.randint(0, w["n_out"], (w["batch"],), generator=gen)
        ours, theirs = build_pair(w)
        loss_ours = F.cross_entropy(logits_of(ours, x), y).item()
        loss_theirs = F.cross_entropy(logits_of(theirs, x), y).item()
        if abs(loss_ours - loss_theirs) > 1e-4:
            raise SystemExit(f"{name}: first-step losses differ: {loss_ours} vs {loss_theirs}")
        row = {"config": w, "first_step_loss": {"spikesparse": loss_ours, "snntorch": loss_theirs}}
        flops = step_flops(w)
        for label, model in (("snntorch", theirs), ("spikesparse", ours)):
            step = make_step(model, x, y)
            ms, times = median_ms(step, args.warmup, args.steps)
            row[label] = {
                "median_ms": ms,
                "min_ms": min(times),
                "gflops": flops / (ms / 1e3) / 1e9,
                "fraction_of_matmul_peak": flops / (ms / 1e3) / 1e9 / peak,
                "peak_step_memory_mb": peak_step_memory_mb(step),
            }
        row["speedup"] = row["snntorch"]["median_ms"] / row["spikesparse"]["median_ms"]
        results["workloads"][name] = row
        print(
            f"{name}: snnTorch {row['snntorch']['median_ms']:.2f} ms, spikesparse "
            f"{row['spikesparse']['median_ms']:.2f} ms, speed-up {row['speedup']:.2f}x",
            flush=True,
        )
    if not args.skip_quick:
        results["quick_study_wall_s"] = quick_study_wall_s()
    results["provenance"] = {
        **provenance("cpu"),
        "machine": platform.machine(),
        "processor": platform.processor(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown_table(results))
    print(f"wrote {OUT.relative_to(REPO)}")


def markdown_table(r: dict) -> str:
    lines = [
        f"threads {r['threads']}, matmul peak {r['matmul_peak_gflops']:.1f} GFLOP/s",
        "",
        "| workload | snnTorch ms/step | spikesparse ms/step | speed-up | GFLOP/s (ours, % of peak) "
        "| peak step memory MB (snnTorch / ours) |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in r["workloads"].items():
        s, o = row["snntorch"], row["spikesparse"]
        lines.append(
            f"| {name} | {s['median_ms']:.2f} | {o['median_ms']:.2f} | {row['speedup']:.2f}x | "
            f"{o['gflops']:.1f} ({100 * o['fraction_of_matmul_peak']:.0f} %) | "
            f"{s['peak_step_memory_mb']:.1f} / {o['peak_step_memory_mb']:.1f} |"
        )
    if "quick_study_wall_s" in r:
        lines.append(f"\nquick config end to end: {r['quick_study_wall_s']:.1f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
