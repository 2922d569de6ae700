"""Where a study's time goes: job-seconds per rule and per experiment from Snakemake's
``benchmark:`` files, and the study efficiency against the machine's matmul peak.

Why a ratio: absolute study times move with the machine (a 2-core AMD EPYC and a 2-core Xeon
differ by 1.5x on the same commit), so the study is judged by how much of the machine it uses:

    study efficiency = matmul FLOPs of all training and evaluation steps
                       / (job-seconds x measured 1-thread sgemm peak)

Job-seconds are the sum of Snakemake's ``s`` column over every benchmark file (every job, the
start-up, data loading and bookkeeping included, which is the overhead being measured). The
peak is ``torch.mm`` of two 1024 x 1024 float32 matrices on one thread, measured in the same
command. FLOPs are counted from the resolved config of every run, never from timings:

- SNN runs: per training sample and epoch the training pass, per validation sample and epoch
  and per test sample one forward pass, each as ``flops`` counts them (the matmuls the model
  needs; a training pass is 3x forward less the first layer's input gradient and the time
  pooling's weight gradient, which nothing needs);
- ANN -> SNN conversion (E4), when its result files are present: the ANN's training pass
  (``flops.mlp_training_flops``) per training sample and epoch, one forward per validation
  sample and epoch and per test sample; the sweep's calibration forward per normalization and
  ``max(T)`` steps of the dense IF net per normalization x alpha x split.

Element-wise work (membrane updates, surrogate gradients, Adam) is not counted: the efficiency
is a lower bound on the fraction of the machine that does useful matmul work.

The serial tail (``serial_tail``): what runs after the last training job, while most cores idle:
the jobs of ``TAIL_RULES`` (aggregate -> claims, figures, replication, tables index, notebook;
the per-neuron tables' aggregate beside them), then the Snakemake report that ``make study``
builds after the DAG. Each job's end is its benchmark file's modification time (Snakemake writes
the file when the job ends) and its start that end less its seconds; the tail runs from the end
of the last job of any other rule to the end of the last job, plus the report's own wall time
when ``bench-study`` ran the study.
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from ..errors import MissingInputError
from ..flops import (
    mlp_training_flops,
    products_seconds,
    sgemm_peak_gflops,
    snn_forward_flops,
    snn_products,
    snn_training_flops,
)
from ..runtime import torch_threads
from ..study import paths
from ..study.encoding import encoded_size, encoder_params
from ..study.io import git_commit, machine_info, read_json, utc_timestamp, write_json
from . import warm

REPO = Path(__file__).resolve().parents[3]
SHARED = "(shared)"  # jobs of no single experiment: datasets, tables, figures, notebook
# The rules that run after the last training job (the serial tail), in DAG order.
TAIL_RULES = (
    "aggregate",
    "aggregate_neurons",
    "claims",
    "replication",
    "figures",
    "tables_index",
    "notebook",
)


def _under_results(pattern: str) -> Path:
    """A path pattern of ``paths`` relative to the results folder (``results/x`` -> ``x``)."""
    return Path(pattern).relative_to(paths.RESULTS)


def read_benchmarks(bench_dir: str | Path, experiments: set[str]) -> pd.DataFrame:
    """One row per benchmark file: ``rule`` (the first folder under ``bench_dir``), ``experiment``
    (the first path component below it that names an experiment, else ``(shared)``), job-seconds
    ``s`` and ``cpu_time`` (summed over the file's rows, one per repeat), and ``end``: the file's
    modification time (epoch seconds), when Snakemake wrote it at the end of the job."""
    bench_dir = Path(bench_dir)
    files = sorted(p for p in bench_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(
            f"no benchmark files under {bench_dir}: run the study with its benchmark: directives"
        )
    rows = []
    for path in files:
        rel = path.relative_to(bench_dir)
        if len(rel.parts) < 2:
            raise ValueError(f"benchmark file {path} is not inside a folder named after its rule")
        frame = pd.read_csv(path, sep="\t")
        if "s" not in frame.columns:
            raise ValueError(f"benchmark file {path} has no 's' column; columns: {list(frame.columns)}")
        names = [Path(part).stem if i == len(rel.parts) - 1 else part for i, part in enumerate(rel.parts)]
        experiment = next((p for p in names[1:] if p in experiments), SHARED)
        cpu = frame["cpu_time"] if "cpu_time" in frame.columns else pd.Series(dtype=float)
        rows.append(
            {
                "rule": rel.parts[0],
                "experiment": experiment,
                "file": str(rel),
                "s": float(pd.to_numeric(frame["s"], errors="coerce").sum()),
                "cpu_time": float(pd.to_numeric(cpu, errors="coerce").sum()),
                "end": path.stat().st_mtime,
            }
        )
    return pd.DataFrame(rows)


def serial_tail(bench: pd.DataFrame, tail_rules=TAIL_RULES, report_s: float | None = None) -> dict | None:
    """The serial tail of a study from its benchmark rows (``read_benchmarks``): from the end of
    the last job of a rule not in ``tail_rules`` (the last training or conversion job) to the end
    of the last job (``dag_s``), plus ``report_s`` (the report built after the DAG) in
    ``total_s``. Per tail rule: jobs, job-seconds, and its first start and last end in seconds
    after the tail began (start = end less the job's seconds). None where the benchmarks hold
    no tail job or no job before the tail."""
    tail = bench[bench["rule"].isin(tail_rules)]
    before = bench[~bench["rule"].isin(tail_rules)]
    if tail.empty or before.empty:
        return None
    t0 = float(before["end"].max())
    dag_s = max(float(tail["end"].max()) - t0, 0.0)
    rules = {}
    for rule in [r for r in tail_rules if r in set(tail["rule"])]:
        grp = tail[tail["rule"] == rule]
        rules[rule] = {
            "jobs": len(grp),
            "job_s": float(grp["s"].sum()),
            "start_s": float((grp["end"] - grp["s"]).min()) - t0,
            "end_s": float(grp["end"].max()) - t0,
        }
    return {
        "dag_s": dag_s,
        "report_s": report_s,
        "total_s": dag_s + (report_s or 0.0),
        "rules": rules,
    }


def _hidden(value) -> list[int]:
    """``cfg.model.hidden`` as the runs table stores it: ``"128,128"``, or a bare ``128``."""
    text = str(value).strip()
    if not text or text == "nan":
        raise ValueError(f"cfg.model.hidden is empty ({value!r})")
    return [int(float(v)) for v in text.split(",")]


def _encoding(row: pd.Series) -> dict:
    """The run's encoding spec back from its ``cfg.encoding.*`` columns (NaN = unset)."""
    spec = {}
    for col, value in row.items():
        if str(col).startswith("cfg.encoding.") and not (isinstance(value, float) and math.isnan(value)):
            spec[str(col).removeprefix("cfg.encoding.")] = value
    if "name" not in spec:
        raise ValueError(f"run {row.get('experiment')}/{row.get('method')} has no cfg.encoding.name")
    return spec


def _n_steps(encoding: dict, shapes: dict) -> int:
    """Sequence data sets their own length; static data takes the encoding's ``n_steps`` or the
    encoder's default."""
    if len(shapes["x_train"]) == 3:
        return int(shapes["x_train"][1])
    if "n_steps" in encoding:
        return int(encoding["n_steps"])
    default = encoder_params(encoding).get("n_steps")
    if not isinstance(default, int):
        raise ValueError(f"static data with the {encoding['name']!r} code needs encoding.n_steps")
    return default


_RUN_COLUMNS = ["experiment", "dataset", "cfg.model.hidden", "cfg.model.kind", "cfg.training.epochs"]


def _run_shape(run: pd.Series, metas: dict[str, dict]) -> tuple[tuple, int, dict[str, int]]:
    """(net for ``flops.snn_products``: n_in, hidden, n_out, T, recurrent; epochs; samples per
    split) of one row of the runs table."""
    if run["dataset"] not in metas:
        raise ValueError(f"no dataset metadata for {run['dataset']!r} (results/data/{run['dataset']}.json)")
    meta = metas[run["dataset"]]
    shapes = meta["shapes"]
    encoding = _encoding(run)
    kind = run["cfg.model.kind"]
    if kind not in ("recurrent", "feedforward"):
        raise ValueError(f"cfg.model.kind must be recurrent or feedforward, got {kind!r}")
    net = (
        encoded_size(int(shapes["x_train"][-1]), encoding),
        _hidden(run["cfg.model.hidden"]),
        int(meta["n_classes"]),
        _n_steps(encoding, shapes),
        kind == "recurrent",
    )
    sizes = {s: int(shapes[f"x_{s}"][0]) for s in ("train", "val", "test")}
    return net, int(run["cfg.training.epochs"]), sizes


def _layer_list(run: pd.Series) -> list[dict] | None:
    """A layer-list model's ``model.layers`` back from its ``cfg.model.layers`` column (the
    runs table joins the list's dicts with commas), None for a ``hidden`` model."""
    text = run.get("cfg.model.layers")
    if not isinstance(text, str) or not text.strip():
        return None
    return list(ast.literal_eval(f"[{text}]"))


def _layer_model_flops(run: pd.Series, metas: dict[str, dict]) -> tuple[int, int, int, dict[str, int]]:
    """(forward FLOPs per sample, training FLOPs per sample, epochs, samples per split) of a
    layer-list (conv) model, counted by ``budget.layer_model_flops`` (2 FLOPs per multiply-accumulate
    of its layers and readout per step, training 3x the forward)."""
    from ..study.budget import layer_model_flops

    meta = metas[run["dataset"]]
    shapes = meta["shapes"]
    encoding = _encoding(run)
    n_in = encoded_size(int(shapes["x_train"][-1]), encoding)
    shape = run.get("cfg.model.input_shape")
    input_shape = (
        [int(float(v)) for v in str(shape).split(",")] if isinstance(shape, str) else meta.get("input_shape")
    )
    model = {"layers": _layer_list(run), "input_shape": input_shape}
    forward, train = layer_model_flops(
        model, n_in, int(meta["n_classes"]), _n_steps(encoding, shapes), input_shape
    )
    sizes = {s: int(shapes[f"x_{s}"][0]) for s in ("train", "val", "test")}
    return forward, train, int(run["cfg.training.epochs"]), sizes


def _check_columns(runs: pd.DataFrame, needed: list[str]) -> None:
    missing = [c for c in needed if c not in runs.columns]
    if missing:
        raise ValueError(f"the runs table lacks {missing}")


def run_flops(runs: pd.DataFrame, metas: dict[str, dict]) -> pd.DataFrame:
    """Per run of the runs table: matmul FLOPs of training (incl. per-epoch validation) and of
    the test evaluation. ``metas`` maps dataset name -> its ``results/data/<name>.json``."""
    _check_columns(runs, _RUN_COLUMNS)
    rows = []
    for _, run in runs.iterrows():
        if _layer_list(run) is not None:
            fwd, train, epochs, n = _layer_model_flops(run, metas)
        else:
            net, epochs, n = _run_shape(run, metas)
            fwd, train = snn_forward_flops(*net), snn_training_flops(*net)
        rows.append(
            {
                "experiment": run["experiment"],
                "train_flops": epochs * (train * n["train"] + fwd * n["val"]),
                "eval_flops": fwd * n["test"],
            }
        )
    return pd.DataFrame(rows, columns=["experiment", "train_flops", "eval_flops"])


def _batches(n: int, size: int) -> dict[int, int]:
    """Batch size -> how many batches of it cover ``n`` samples (the last may be smaller)."""
    out = {size: n // size} if n >= size else {}
    if n % size:
        out[n % size] = 1
    return out


def run_products_seconds(
    runs: pd.DataFrame, metas: dict[str, dict], seconds=products_seconds, test_batch: int = 256
) -> pd.DataFrame:
    """Per run: the seconds its matrix products alone take (``flops.products_runner``), the
    products-alone bound of its training and evaluation. Per epoch every training batch's
    training products and every validation batch's forward products, at the run's batch size
    (``training.py`` validates at it too); then the test split's forward products at
    ``evaluation.evaluate_model``'s batch of ``test_batch``. ``seconds(products)`` times one
    execution; each distinct (net, batch, pass) is timed once."""
    _check_columns(runs, [*_RUN_COLUMNS, "cfg.training.batch_size"])
    cache: dict[tuple, float] = {}

    def timed(net: tuple, batch: int, train: bool) -> float:
        key = (net[0], tuple(net[1]), *net[2:], batch, train)
        if key not in cache:
            cache[key] = seconds(snn_products(*net, batch=batch, train=train))
        return cache[key]

    rows = []
    for _, run in runs.iterrows():
        if _layer_list(run) is not None:
            # Convolutions have no products runner: a conv run has no products-alone bound (NaN,
            # left out of the ceiling's sums).
            rows.append({"experiment": run["experiment"], "products_s": float("nan")})
            continue
        net, epochs, n = _run_shape(run, metas)
        size = int(run["cfg.training.batch_size"])
        per_epoch = sum(k * timed(net, b, True) for b, k in _batches(n["train"], size).items())
        per_epoch += sum(k * timed(net, b, False) for b, k in _batches(n["val"], size).items())
        test = sum(k * timed(net, b, False) for b, k in _batches(n["test"], test_batch).items())
        rows.append({"experiment": run["experiment"], "products_s": epochs * per_epoch + test})
    return pd.DataFrame(rows, columns=["experiment", "products_s"])


def conversion_flops(results: str | Path, metas: dict[str, dict]) -> pd.DataFrame:
    """Per conversion job found under ``results``: matmul FLOPs of training its ANN and of the
    conversion sweep (module docstring). No E4 result files: an empty table."""
    results = Path(results)
    rows = []
    for conv_file in sorted(
        results.glob(str(_under_results(paths.CONVERSION)).format(experiment="*", seed="*"))
    ):
        rec = read_json(conv_file)
        spec = rec["spec"]
        shapes = metas[spec["dataset"]["name"]]["shapes"]
        n_train, n_val, n_test = (int(shapes[f"x_{s}"][0]) for s in ("train", "val", "test"))
        macs = int(rec["ann"]["macs_per_sample"])
        first_layer = int(shapes["x_train"][-1]) * int(spec["ann"]["hidden"][0])
        fwd = 2 * macs
        ann_info = results / _under_results(paths.ANN_INFO).as_posix().format(
            experiment=spec["experiment"], seed=spec["seed"]
        )
        epochs = len(read_json(ann_info)["history"]) if ann_info.exists() else int(spec["ann"]["epochs"])
        train = epochs * (mlp_training_flops([first_layer, macs - first_layer]) * n_train + fwd * n_val)
        train += fwd * n_test
        t_max = max(int(t) for t in spec["time_steps"])
        per_norm = fwd * min(int(spec["calibration_samples"]), n_train) + len(
            spec["alphas"]
        ) * fwd * t_max * (n_val + n_test)
        rows.append(
            {
                "experiment": spec["experiment"],
                "train_flops": train,
                "eval_flops": len(spec["normalizations"]) * per_norm,
            }
        )
    return pd.DataFrame(rows, columns=["experiment", "train_flops", "eval_flops"])


def dataset_metas(results: str | Path) -> dict[str, dict]:
    folder = Path(results) / _under_results(paths.DATASET).parent
    return {p.stem: read_json(p) for p in sorted(folder.glob("*.json"))}


def study_table(
    bench: pd.DataFrame, flops: pd.DataFrame, peak_gflops: float, products: pd.DataFrame | None = None
) -> dict:
    """Per-rule and per-experiment job-seconds, FLOPs and efficiency, and the study's total.

    With ``products`` (``run_products_seconds``): per experiment the seconds its products alone
    take and the efficiency they would reach (``ceiling``: the most any job could, executing
    these products this way, with no start-up, data handling or element-wise work); and over
    the experiments that have them (the SNN runs; conversion jobs have none) the same for the
    study, beside those experiments' own efficiency."""
    if not (math.isfinite(peak_gflops) and peak_gflops > 0):
        raise ValueError(f"the sgemm peak must be a positive number of GFLOP/s, got {peak_gflops}")
    total_s = float(bench["s"].sum())
    if total_s <= 0:
        raise ValueError("the benchmark files sum to 0 job-seconds")
    flops = flops.assign(flops=flops["train_flops"] + flops["eval_flops"])

    def efficiency(n_flops: float, seconds: float) -> float | None:
        return n_flops / (seconds * peak_gflops * 1e9) if seconds > 0 else None

    per_rule = {}
    for rule, grp in bench.groupby("rule", sort=True):
        s = float(grp["s"].sum())
        per_rule[rule] = {
            "jobs": len(grp),
            "job_s": s,
            "cpu_s": float(grp["cpu_time"].sum()),
            "mean_job_s": s / len(grp),
            "share": s / total_s,
        }
    per_experiment = {}
    by_exp_flops = flops.groupby("experiment")["flops"].sum()
    for exp in sorted(set(bench["experiment"]) | set(by_exp_flops.index)):
        grp = bench[bench["experiment"] == exp]
        s = float(grp["s"].sum())
        f = float(by_exp_flops.get(exp, 0.0))
        per_experiment[exp] = {
            "jobs": len(grp),
            "job_s": s,
            "share": s / total_s,
            "gflop": f / 1e9,
            "efficiency": efficiency(f, s),
        }
    total_flops = float(flops["flops"].sum())
    result = {
        "total_job_s": total_s,
        "jobs": len(bench),
        "gflop": total_flops / 1e9,
        "matmul_peak_gflops_1thread": peak_gflops,
        "study_efficiency": efficiency(total_flops, total_s),
        "per_rule": per_rule,
        "per_experiment": per_experiment,
    }
    if products is not None:
        # An experiment with a run that has no bound (a conv run: NaN) has none: a plain sum
        # would count its NaN as 0 s and put a ceiling above 100 % on the whole study.
        by_exp = products.groupby("experiment")["products_s"].agg(
            lambda s: float(s.sum()) if s.notna().all() else math.nan
        )
        for exp, r in per_experiment.items():
            p = float(by_exp[exp]) if exp in by_exp.index and not math.isnan(by_exp[exp]) else None
            r["products_s"] = p
            r["ceiling"] = efficiency(r["gflop"] * 1e9, p) if p is not None else None
        covered = [r for r in per_experiment.values() if r["products_s"] is not None]
        f = sum(r["gflop"] for r in covered) * 1e9
        result["products_alone"] = {
            "experiments": len(covered),
            "products_s": sum(r["products_s"] for r in covered),
            "job_s": sum(r["job_s"] for r in covered),
            "efficiency": efficiency(f, sum(r["job_s"] for r in covered)),
            "ceiling": efficiency(f, sum(r["products_s"] for r in covered)),
        }
    return result


def _percent(x: float) -> str:
    """One decimal, or two significant digits below 1 % (a tiny study is still told apart from 0)."""
    return f"{100 * x:.1f} %" if x == 0 or 100 * x >= 1 else f"{100 * x:.2g} %"


def markdown(result: dict) -> str:
    """The table printed by ``bench-study`` (and generated into docs/study/performance.md)."""
    full = result.get("full_study_s")
    # With warm start a job's process is the thin client (spikesparse.tools.warm), whose CPU time is
    # not the job's: the column is left empty rather than wrong.
    warm_start = bool(result.get("warm_start"))
    machine = result.get("machine", {})
    commit = result.get("git_commit")
    lines = [
        f"measured {result.get('measured_at', '(date not recorded)')} on "
        f"{machine.get('cpu_model', 'an unrecorded CPU')}, commit "
        f"{commit[:7] if commit else '(not recorded)'}, config {result.get('config') or '(tables only)'}",
        "",
        f"study: {result['jobs']} jobs, {result['total_job_s']:.0f} job-s"
        + (f", wall {full:.0f} s" if full else "")
        + (", warm start" if warm_start else "")
        + f"; matmul {result['gflop']:.0f} GFLOP; 1-thread sgemm peak "
        f"{result['matmul_peak_gflops_1thread']:.1f} GFLOP/s; "
        f"study efficiency {_percent(result['study_efficiency'])} (goal >= 50 %)",
        "",
        "| rule | jobs | job-s | share | mean s/job | CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rule, r in sorted(result["per_rule"].items(), key=lambda kv: -kv[1]["job_s"]):
        lines.append(
            f"| {rule} | {r['jobs']} | {r['job_s']:.1f} | {100 * r['share']:.1f} % "
            f"| {r['mean_job_s']:.2f} | {'–' if warm_start else format(r['cpu_s'], '.1f')} |"
        )
    tail = result.get("serial_tail")
    if tail:
        report = tail.get("report_s")
        steps = ", ".join(
            f"{rule} {r['jobs']} job{'s' if r['jobs'] > 1 else ''} {r['job_s']:.1f} job-s "
            f"(ends at {r['end_s']:.1f} s)"
            for rule, r in tail["rules"].items()
        )
        lines += [
            "",
            f"serial tail after the last training job: {tail['total_s']:.1f} s"
            + (
                f" (DAG {tail['dag_s']:.1f} s, then the report {report:.1f} s)"
                if report is not None
                else " (DAG only; the report was not built here)"
            )
            + f" (goal <= 20 s): {steps}",
        ]
    alone = result.get("products_alone")
    lines += [
        "",
        "| experiment | jobs | job-s | share | GFLOP | efficiency |"
        + (" products alone s | ceiling |" if alone else ""),
        "|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if alone else ""),
    ]

    def pct(x):
        return "–" if x is None else _percent(x)

    for exp, r in result["per_experiment"].items():
        line = (
            f"| {exp} | {r['jobs']} | {r['job_s']:.1f} | {100 * r['share']:.1f} % "
            f"| {r['gflop']:.1f} | {pct(r['efficiency'])} |"
        )
        if alone:
            p = "–" if r["products_s"] is None else f"{r['products_s']:.1f}"
            line += f" {p} | {pct(r['ceiling'])} |"
        lines.append(line)
    if alone:
        lines.append(
            f"\nproducts alone (the {alone['experiments']} experiments with SNN runs): "
            f"{alone['products_s']:.0f} s against their {alone['job_s']:.0f} job-s; efficiency "
            f"{pct(alone['efficiency'])}, ceiling {pct(alone['ceiling'])} (what they would reach doing "
            "nothing but their matrix products, executed as spikesparse executes them)"
        )
    return "\n".join(lines)


def run_study(config: str | Path, results: Path, cores: str, warm_start: bool = True) -> tuple[float, float]:
    """Run the whole study of ``config`` from scratch into ``results`` (whose parent is the
    Snakemake working directory), as ``make study`` does (warm start unless ``warm_start`` is
    False; the report built by the same Snakemake process after the DAG); returns its wall time
    in seconds and the time (epoch seconds) it ended."""
    if results.name != paths.RESULTS:
        raise ValueError(f"--results must be a folder named {paths.RESULTS!r}, got {results}")
    if results.exists():
        raise ValueError(f"{results} exists: remove it so that every job of the study runs and is timed")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(results.parent),
        "--configfile",
        str(Path(config).resolve()),
        "--cores",
        str(cores),
        "--workflow-profile",
        str(REPO / "workflow" / "profiles" / "local"),
        "--report",
        paths.REPORT,
        "--report-after-run",
    ]
    results.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, warm.ENV_SWITCH: "1" if warm_start else "0"}
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, cwd=REPO, env=env)
        ended = time.time()
    finally:
        if warm_start:
            warm.stop_all()
    return time.perf_counter() - t0, ended


def bench_study(
    results: str | Path,
    out: str | Path,
    config: str | Path | None = None,
    cores: str = "all",
    peak_gflops: float | None = None,
    warm_start: bool = True,
    with_products: bool = True,
) -> dict:
    """Optionally run ``config`` from scratch (timed), then read its benchmark files, count its
    FLOPs, measure the sgemm peak and (``with_products``) the products-alone bound at one thread,
    as every job runs, and write/print the table."""
    results = Path(results).resolve()
    full_study_s, ended = run_study(config, results, cores, warm_start) if config else (None, None)
    runs_file = results / _under_results(paths.RUNS_TABLE)
    if not runs_file.exists():
        raise MissingInputError(f"{runs_file} not found: the study has not finished")
    runs = pd.read_csv(runs_file)
    metas = dataset_metas(results)
    conv = conversion_flops(results, metas)
    experiments = set(runs["experiment"]) | set(conv["experiment"])
    bench = read_benchmarks(results / _under_results(paths.BENCHMARKS), experiments)
    flops = pd.concat([run_flops(runs, metas), conv], ignore_index=True)
    peak = peak_gflops if peak_gflops is not None else sgemm_peak_gflops()
    products = None
    if with_products:
        with torch_threads(1):  # as every study job runs
            products = run_products_seconds(runs, metas)
    result = {"full_study_s": full_study_s, **study_table(bench, flops, peak, products)}
    # The report: from the end of the last job to the end of the Snakemake process that built it.
    report_s = max(ended - float(bench["end"].max()), 0.0) if ended is not None else None
    result["serial_tail"] = serial_tail(bench, report_s=report_s)
    result["config"] = str(config) if config else None
    result["warm_start"] = bool(config) and warm_start
    result["machine"] = machine_info()
    result["git_commit"] = git_commit()
    result["measured_at"] = utc_timestamp()
    write_json(out, result)
    print(markdown(result))
    print(f"wrote {out}")
    return result
