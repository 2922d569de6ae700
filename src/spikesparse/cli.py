"""Command-line interface: every Snakemake rule calls one of these subcommands, so each step of
the study also runs by hand (``python -m spikesparse <command> --help``)."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .study.metric_config import MetricConfig


def _json_arg(option: str, text: str):
    """A JSON option's value; malformed JSON, or a key written twice in one object (``json``
    keeps the last without a word, as YAML would; the config refuses it), is a one-line error
    naming the option."""
    from .errors import ConfigError

    def unique(pairs: list) -> dict:
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ConfigError(f"{option}: key {twice[0]!r} is written twice in one JSON object")
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{option} is not valid JSON ({err}): {text[:80]!r}") from None


def _json_object(option: str, text: str) -> dict:
    from .errors import ConfigError

    value = _json_arg(option, text)
    if not isinstance(value, dict):
        raise ConfigError(f"{option} must be a JSON object, got {type(value).__name__}: {text[:80]!r}")
    return value


def _spec_arg(text: str) -> dict:
    if text.startswith("@"):
        return _json_arg(f"--spec {text}", Path(text[1:]).read_text())
    return _json_arg("--spec", text)


def save_checkpoint(path: str, checkpoint: dict) -> None:
    """``torch.save`` through memory, then an atomic write: torch.save names the archive after
    the file, and the temporary name is random, so saving to it directly would make identical
    models differ in bytes."""
    import torch

    from .study.io import atomic_write

    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


# What each input file should be, for the message when it is not (``errors.InputFileError``).
TRAIN_INFO = "the train info (train.json) that spikesparse train writes"
RUN_MODEL = "a run's model checkpoint (model.pt) that spikesparse train writes"
ANN_INFO = "the ANN info (ann.json) that spikesparse train-ann writes"
ANN_MODEL = "an ANN checkpoint (ann.pt) that spikesparse train-ann writes"
RUNS_TABLE = "the runs table (runs.csv) that spikesparse aggregate writes"
CONVERSION_TABLE = "the conversion table (conversion.csv) that spikesparse aggregate writes"
# What the commands read of each checkpoint.
RUN_MODEL_KEYS = ("spec", "state_dict", "n_in", "n_out")
ANN_MODEL_KEYS = ("spec", "state_dict", "n_features", "n_classes", "input_affine", "dataset_shape")


def load_checkpoint(path: str, keys: tuple[str, ...], what: str) -> dict:
    """A checkpoint ``save_checkpoint`` wrote, holding ``keys``. An empty, truncated or other file
    (which torch reports as a PytorchStreamReader error, OSError EINVAL, EOFError or
    UnpicklingError) or one without ``keys`` raises ``InputFileError``: one line naming the file
    and what it should be (``what``)."""
    import pickle

    import torch

    from .errors import PATH_ERRORS, InputFileError
    from .study.io import record_with_keys

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as err:
        if isinstance(err, PATH_ERRORS):  # a missing file or a folder: main names the path
            # (any other OSError is about the content: torch gives EINVAL for a truncated archive)
            raise
        if Path(path).stat().st_size == 0:
            cause = "empty file"
        else:
            first = (str(err).strip().splitlines() or [""])[0][:100]
            cause = f"not a PyTorch checkpoint, or a truncated one ({type(err).__name__}: {first})"
        raise InputFileError(path, f"{cause}; it should be {what}") from None
    return record_with_keys(path, checkpoint, keys, what)


def _load_state(model, checkpoint: dict, path: str, info: str) -> None:
    """``model.load_state_dict``; weights that do not fit the model the spec in ``info`` describes
    (the checkpoint of another run) raise ``InputFileError`` naming both files."""
    from .errors import InputFileError

    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        first = (str(err).strip().splitlines() or [""])[0][:100]
        raise InputFileError(
            path, f"its weights do not fit the model the spec in {info} describes ({first})"
        ) from None


def cmd_check_config(args) -> None:
    from .study.config import load_config
    from .study.runs import expand_runs

    config = load_config(args.config)
    print(f"{args.config}: valid, {len(expand_runs(config))} runs")


def cmd_budget(args) -> None:
    from contextlib import nullcontext

    from .study.budget import budget_table
    from .study.config import load_config
    from .study.local_data import official_sizes

    with official_sizes() if args.official_sizes else nullcontext():
        config = load_config(args.config)
        print(budget_table(config, args.tflops))


def cmd_spec(args) -> None:
    from .study.config import load_config
    from .study.runs import RunKey, format_lambda, run_spec

    config = load_config(args.config)
    try:  # 0 and 0.0 name one lambda; paths write it as format_lambda does
        lam = format_lambda(float(args.lam))
    except ValueError:
        lam = args.lam
    key = RunKey(args.experiment, args.method, lam, args.seed)
    print(json.dumps(run_spec(config, key), sort_keys=True))


def cmd_generate_data(args) -> None:
    from .errors import ConfigError
    from .study.data import generate, save_dataset
    from .study.io import check_outputs, write_json
    from .study.registry import validate_params

    # The workflow passes a validated config section; by hand, the config's parameter checks (a
    # negative n_train had produced a dataset with an empty validation split, and no error). Not its
    # file check: generate reads a file-backed dataset's files next and its reader checks them.
    params = _json_object("--params", args.params)
    try:
        # a copy: meta keeps what was given
        errors = validate_params("dataset", args.dataset, dict(params), read_files=False)
    except ValueError as err:
        raise ConfigError(f"generate-data: {err}") from None
    if errors:
        raise ConfigError(f"generate-data: --params of dataset {args.dataset!r}: {errors[0]}")
    check_outputs(args.out, args.meta)  # both, before generating: never an .npz without its meta
    arrays, meta = generate(args.dataset, params)
    save_dataset(args.out, arrays)
    write_json(args.meta, meta)
    print(f"{args.dataset}: {meta['shapes']} checksum {meta['checksum_sha256'][:16]}")


def _train_specs(text: str) -> list[dict]:
    """``--spec``: one run spec (a JSON object) or the runs of one job (a JSON list)."""
    from .study.spec_check import check_spec

    specs = _spec_arg(text)
    return [check_spec(spec, "run") for spec in (specs if isinstance(specs, list) else [specs])]


def cmd_train(args) -> None:
    """Train the runs of one job one after another in this process, then evaluate each.

    Why one process for several runs: start-up (importing torch, loading the dataset) costs
    seconds per process, as much as a small run's training. Every run still writes its own four
    files, each atomically as soon as that run is done, and a run's numbers do not depend on the
    runs trained before it in the same process (every run reseeds everything it draws from)."""
    from .errors import ConfigError
    from .runtime import tune_allocator
    from .study.data import check_dataset, load_dataset
    from .study.io import check_outputs

    metric_cfg = _metric_config(args.metrics_config)
    specs = _train_specs(args.spec)
    outputs = {"model": args.model, "history": args.history, "info": args.info, "metrics": args.metrics}
    for name, files in outputs.items():
        if len(files) != len(specs):
            raise ConfigError(
                f"train: {len(specs)} run spec(s) but {len(files)} --{name} path(s); give one per run"
            )
    # Every output of every run, before any training: a run's files are written only once it is
    # trained, so a bad path found then would lose that training.
    check_outputs(*(path for files in outputs.values() for path in files))
    tune_allocator()
    data = load_dataset(args.data)
    checked = []  # a job's runs share their dataset section: check (and read its meta) once each
    for spec in specs:
        if spec["dataset"] not in checked:
            check_dataset(args.data, data, spec["dataset"])
            checked.append(spec["dataset"])
    for i, spec in enumerate(specs):
        if len(specs) > 1:
            print(
                f"run {i + 1}/{len(specs)}: {spec['experiment']} {spec['method']} "
                f"lam={spec['regularizer']['lam']} seed={spec['seed']}",
                flush=True,
            )
        _train_one(spec, data, args.threads, metric_cfg, {k: v[i] for k, v in outputs.items()})


def _metric_config(text: str):
    """The ``--metrics-config`` JSON as a ``MetricConfig``; a bad block is one line naming the key."""
    from .errors import ConfigError
    from .study.metric_config import MetricConfig

    block = _json_arg("--metrics-config", text)
    try:
        return MetricConfig.of(block)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"--metrics-config: {err}") from None


def _train_one(spec: dict, data: dict, threads: int, metric_cfg: MetricConfig, out: dict) -> None:
    """Train, save and evaluate one run: its model, history, train info and run record."""
    import pandas as pd

    from .study.analysis.aggregation import HISTORY_FIELDS
    from .study.io import config_hash, provenance, write_csv, write_json
    from .study.records import evaluated_record
    from .study.training import train_run

    start = time.perf_counter()
    result = train_run(
        spec,
        data,
        threads=threads,
        saturation_rate=metric_cfg.saturation_rate,
        log=lambda line: print(line, flush=True),
    )
    checkpoint = {
        "spec": spec,
        "state_dict": result.model.state_dict(),
        "n_in": result.model.n_in,
        "n_out": result.model.readout.out_features,
        "status": result.status,
        "reason": result.reason,
    }
    save_checkpoint(out["model"], checkpoint)
    # The fixed columns: a run that diverged in its first epoch still writes a readable header.
    write_csv(out["history"], pd.DataFrame(result.history, columns=HISTORY_FIELDS))
    write_json(
        out["info"],
        {
            "spec": spec,
            "config_hash": config_hash(spec),
            "status": result.status,
            "reason": result.reason,
            "history": result.history,
            "provenance": provenance(result.device, result.wall_time_s),
        },
    )
    # Evaluate in the same process: the model, data and torch are already loaded.
    record = evaluated_record(result, data, spec, metric_cfg, start)
    write_json(out["metrics"], record)
    m = record["metrics"]
    print(
        f"status {record['status']} {record['reason']}: accuracy {m['accuracy']:.4f} hidden rate "
        f"{m['hidden_rate']:.4f}; trained in {result.wall_time_s:.1f}s",
        flush=True,
    )


def cmd_evaluate(args) -> None:
    """Re-evaluate a saved model by hand (the study evaluates inside ``train``)."""
    from .errors import InputFileError
    from .models import build_model
    from .runtime import pick_device, seed_everything
    from .study.data import load_dataset
    from .study.encoding import encoded_size
    from .study.io import check_outputs, read_record, write_json
    from .study.records import evaluated_record
    from .study.training import TrainResult

    start = time.perf_counter()
    check_outputs(args.out)
    info = read_record(args.info, ("spec", "history", "status", "reason", "provenance"), TRAIN_INFO)
    spec = info["spec"]
    seed_everything(spec["seed"], args.threads)
    checkpoint = load_checkpoint(args.model, RUN_MODEL_KEYS, RUN_MODEL)
    data = load_dataset(args.data, spec["dataset"])
    n_in = encoded_size(int(data["x_train"].shape[-1]), spec["encoding"])
    if n_in != checkpoint["n_in"]:
        raise InputFileError(
            args.data,
            f"gives the model {n_in} inputs, but {args.model} was trained with {checkpoint['n_in']}: "
            "the data do not match the model",
        )
    shape = data["input_shape"].tolist() if "input_shape" in data else None  # a conv model's input
    model = build_model(spec["model"], checkpoint["n_in"], checkpoint["n_out"], shape)
    _load_state(model, checkpoint, args.model, args.info)
    trained = TrainResult(
        model=model,
        history=info["history"],
        status=info["status"],
        reason=info["reason"],
        device=str(pick_device(spec.get("device", "auto"))),
        wall_time_s=info["provenance"].get("wall_time_s"),
    )
    record = evaluated_record(trained, data, spec, _metric_config(args.metrics_config), start)
    write_json(args.out, record)
    print(f"status {record['status']}: accuracy {record['metrics'].get('accuracy', float('nan')):.4f}")


def cmd_aggregate(args) -> None:
    from .study import paths
    from .study.analysis import aggregation as A
    from .study.io import check_outputs, write_csv

    wanted = {
        "runs": paths.RUN_LEVEL_TABLES,
        "neurons": paths.PER_NEURON_TABLES,
        "all": tuple(paths.AGGREGATE_TABLES),
    }[args.part]
    # Every input read and checked, every output checked, every table built, and only then any
    # written: a bad file had left a tables folder of new and old tables mixed.
    records = A.load_records(args.metrics, A.RUN_RECORD_KEYS, A.RUN_RECORD)
    conversions = A.load_records(args.conversions or [], A.CONVERSION_RECORD_KEYS, A.CONVERSION_RECORD)
    targets = {name: Path(args.tables) / Path(paths.AGGREGATE_TABLES[name]).name for name in wanted}
    check_outputs(*targets.values())
    builders = {
        "runs": lambda: A.runs_table(records),
        "history": lambda: A.history_table(records),
        "neurons": lambda: A.neuron_table(records),
        "rasters": lambda: A.raster_table(records),
        "summary": lambda: A.summary_table(table("runs")),
        "conversion": lambda: A.conversion_table(conversions),
        "plane": lambda: A.plane_table(table("summary"), table("conversion")),
    }
    built: dict = {}

    def table(name: str):  # each table built once, when it or a table from it is wanted
        if name not in built:
            built[name] = builders[name]()
        return built[name]

    frames = {name: table(name) for name in wanted}
    for name, target in targets.items():
        write_csv(target, frames[name])
    print(
        f"aggregated {len(records)} runs and {len(conversions)} conversions into {args.tables}:"
        f" {', '.join(wanted)}"
    )


# The columns of the conversion table the claims read (an empty table has them too).
CONVERSION_COLUMNS = (
    "experiment",
    "seed",
    "normalization",
    "alpha",
    "time_steps",
    "split",
    "accuracy",
    "l4_selected",
)


def cmd_claims(args) -> None:
    from .study.analysis.aggregation import RUN_KEYS
    from .study.analysis.claims import claims_markdown, claims_table
    from .study.io import check_outputs, read_table, write_csv, write_text

    runs = read_table(args.runs, [*RUN_KEYS, "status"], RUNS_TABLE)
    conversion = read_table(args.conversion, CONVERSION_COLUMNS, CONVERSION_TABLE)
    check_outputs(args.csv, args.md)
    claims = claims_table(runs, conversion)
    write_csv(args.csv, claims)
    write_text(args.md, claims_markdown(claims))
    print(claims[["claim_id", "experiment", "verdict"]].to_string(index=False))


def cmd_rejudge(args) -> None:
    from .study.analysis.claims import rejudge

    claims, changes = rejudge(args.tables)
    print(f"rejudged {len(claims)} claim rows from {args.tables}/runs.csv; {len(changes)} verdicts moved")
    for r in changes.itertuples(index=False):
        reading = f" ({r.reading})" if r.reading else ""
        print(f"- {r.claim_id} {r.experiment}{reading}: {r.before} -> {r.after}: {r.reason}")


def cmd_figures(args) -> None:
    from .errors import ConfigError
    from .study.io import check_outputs
    from .study.report import plots
    from .study.report.figure_registry import FIGURES

    names = [Path(path).stem for path in args.out]
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise ConfigError(f"unknown figure {unknown[0]!r}; known: {sorted(FIGURES)}")
    check_outputs(*args.out)
    # Only the tables these figures read (a figure job draws one figure; rasters.csv is large).
    tables = plots.read_tables(args.tables, dict.fromkeys(t for n in names for t in FIGURES[n].tables))
    for name, path in zip(names, args.out, strict=True):
        plots.save(plots.DRAWERS[name](tables), path)
        print(f"wrote {path}")


def cmd_train_ann(args) -> None:
    from .runtime import pick_device, tune_allocator
    from .study.conversion_jobs import ann_accuracy, ann_macs, dataset_shape, n_classes, train_ann
    from .study.data import ann_input_affine, load_dataset
    from .study.io import check_outputs, config_hash, provenance, write_json
    from .study.spec_check import check_spec

    tune_allocator()
    start = time.perf_counter()
    spec = check_spec(_spec_arg(args.spec), "ANN")
    check_outputs(args.model, args.info)  # before training: the ANN would be lost at its save
    data = load_dataset(args.data, spec["dataset"])
    affine = ann_input_affine(spec["dataset"])
    device = pick_device(spec.get("device", "auto"))
    net, history = train_ann(spec["ann"], data, spec["seed"], args.threads, affine, device)
    n_features = int(data["x_train"].shape[1])
    save_checkpoint(
        args.model,
        {
            "spec": spec,
            "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
            # what build_ann needs besides the spec to build the same net again
            "n_features": n_features,
            "n_classes": n_classes(data),
            "input_affine": list(affine),
            "dataset_shape": dataset_shape(data),
        },
    )
    info = {
        "spec": spec,
        "config_hash": config_hash(spec),
        "history": history,
        "train_accuracy": ann_accuracy(net, data["x_train"], data["y_train"]),
        "val_accuracy": history[-1]["val_accuracy"],
        "test_accuracy": ann_accuracy(net, data["x_test"], data["y_test"]),
        "macs_per_sample": ann_macs(net, n_features),
        "provenance": provenance(str(device), time.perf_counter() - start),
    }
    write_json(args.info, info)
    print(f"ANN test accuracy {info['test_accuracy']:.4f}")


def cmd_convert(args) -> None:
    from .errors import ConfigError, InputFileError
    from .runtime import pick_device, seed_everything, tune_allocator
    from .study.conversion_jobs import build_ann, choose_alpha, sweep
    from .study.data import load_dataset
    from .study.io import check_outputs, config_hash, provenance, read_record, write_json
    from .study.spec_check import check_spec

    tune_allocator()  # each simulated step allocates every layer's [B, ...] drive and spikes anew
    start = time.perf_counter()
    info = read_record(args.info, ("spec",), ANN_INFO)
    spec = check_spec(_spec_arg(args.spec), "conversion")
    trained = info["spec"] if isinstance(info["spec"], dict) else {}
    lacks = [key for key in ("dataset", "ann", "seed") if key not in trained]
    if lacks:
        raise InputFileError(args.info, f"its spec lacks {lacks}, so it is not {ANN_INFO}")
    for key in ("dataset", "ann", "seed"):
        if spec[key] != trained[key]:
            raise ConfigError(
                f"convert: the ANN in {args.info} was trained with another {key} than --spec gives"
            )
    check_outputs(args.out)
    seed_everything(spec["seed"], args.threads)
    checkpoint = load_checkpoint(args.model, ANN_MODEL_KEYS, ANN_MODEL)
    net = build_ann(
        spec["ann"],
        checkpoint["n_features"],
        checkpoint["n_classes"],
        tuple(checkpoint["input_affine"]),
        checkpoint["dataset_shape"],
    )
    _load_state(net, checkpoint, args.model, args.info)
    device = pick_device(spec.get("device", "auto"))
    net = net.to(device)
    metric_cfg = _metric_config(args.metrics_config)
    data = load_dataset(args.data, spec["dataset"])
    if int(data["x_train"].shape[1]) != checkpoint["n_features"]:
        raise InputFileError(
            args.data,
            f"has {int(data['x_train'].shape[1])} features, but the ANN in {args.model} was trained on "
            f"{checkpoint['n_features']}: the data do not match the ANN",
        )
    rows = sweep(net, data, spec, metric_cfg)
    chosen = choose_alpha(rows)
    write_json(
        args.out,
        {
            "spec": spec,
            "config_hash": config_hash(spec),
            "metrics_config": metric_cfg.as_dict(),
            "ann": {
                k: info.get(k, float("nan"))
                for k in ("train_accuracy", "val_accuracy", "test_accuracy", "macs_per_sample")
            },
            "chosen_alpha": [
                {"normalization": n, "time_steps": t, "alpha": a} for (n, t), a in sorted(chosen.items())
            ],
            "rows": rows,
            "provenance": provenance(str(device), time.perf_counter() - start),
        },
    )
    print(f"{len(rows)} conversion rows; chosen alphas {sorted(chosen.items())}")


def cmd_notebook(args) -> None:
    from .study.report.notebook import execute_notebook

    execute_notebook(
        args.notebook, args.executed, args.html, {"results_dir": str(Path(args.results).resolve())}
    )
    print(f"wrote {args.html}")


def cmd_results_section(args) -> None:
    from .tools.readme import RESULTS_FILE, write_results

    write_results(args.tables, args.readme)
    print(f"regenerated the verdict table of {args.readme} and {RESULTS_FILE} from {args.tables}")


def cmd_build_ext(args) -> None:
    from ._ext import extension

    module = extension(retry=True)  # a build that failed before is tried again here
    if module is None:
        print("compiled LIF loops unavailable: the pure-PyTorch kernels will be used")
    else:
        print(f"compiled LIF loops ready: {module.__file__}")


def cmd_replicate(args) -> None:
    from .study.analysis.replication import replicate, write_replication

    result = replicate(args.ours, args.reference, args.records)
    write_replication(result, args.csv, args.md, args.machine)
    print(result.outcome)


def cmd_freeze_reference(args) -> None:
    from .study.analysis.replication import freeze_reference

    out = freeze_reference(args.tables, args.out)
    print(f"froze the reference tables of {args.tables} into {out}")


def cmd_bench_study(args) -> None:
    from .tools.studybench import bench_study

    bench_study(
        results=args.results,
        out=args.out,
        config=args.config,
        cores=args.cores,
        peak_gflops=args.peak_gflops,
        warm_start=not args.cold,
        with_products=not args.no_products,
    )


# What the warm server (``spikesparse.tools.warm``, ``SPIKESPARSE_WARM=1``) imports before it listens:
# everything the rules' commands import, so a forked job only runs. Nothing here computes with
# torch (a forked child must find no thread pool started).
WARM_PRELOAD = (
    "numpy",
    "torch",
    "spikesparse.study.config",
    "spikesparse.study.data",
    "spikesparse.study.training",
    "spikesparse.study.evaluation",
    "spikesparse.conversion",
    "spikesparse.study.analysis.aggregation",
    "spikesparse.study.analysis.claims",
    "spikesparse.study.analysis.replication",
    # matplotlib and seaborn (about 1 s of import): each figure is a job of its own
    "spikesparse.study.report.plots",
)


def _positive(kind: type):
    """An argparse type: a finite number above 0 (a rate, a peak, a thread count); anything else
    is argparse's usage error naming the option, not a table of negative or NaN hours."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a{'n integer' if kind is int else ' number'}: {text!r}"
            ) from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    return parse


def _thread_count(text: str) -> int:
    """``--threads``: a whole number from 1 to a few times this machine's CPUs (a mistyped count
    such as 100000 had OpenMP allocate per-thread memory until the process crashed)."""
    value = _positive(int)(text)
    most = 4 * (os.cpu_count() or 1)
    if value > most:
        raise argparse.ArgumentTypeError(
            f"{value} threads on a machine with {os.cpu_count()} CPUs (at most {most} are taken)"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    from .study.budget import GPU_FLOPS  # light: the cost model imports no torch

    parser = argparse.ArgumentParser(prog="spikesparse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build-ext", help="build (or find) the compiled LIF time loops")
    p.set_defaults(func=cmd_build_ext)

    p = sub.add_parser("check-config", help="validate a config file and count its runs")
    p.add_argument("--config", required=True)
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("budget", help="what a config's runs cost: FLOPs, GPU-hours, peak memory per run")
    p.add_argument("config")
    p.add_argument(
        "--tflops", type=_positive(float), default=GPU_FLOPS / 1e12, help="sustained TFLOP/s of one GPU"
    )
    p.add_argument(
        "--official-sizes",
        action="store_true",
        help="local datasets (mnist, cifar10, shd, ...) at their official sizes, files not read",
    )
    p.set_defaults(func=cmd_budget)

    p = sub.add_parser("spec", help="print the resolved spec of one run (JSON)")
    p.add_argument("--config", required=True)
    p.add_argument("--experiment", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--lam", required=True, help="lambda as it appears in paths, e.g. 0.1")
    p.add_argument("--seed", type=int, required=True)
    p.set_defaults(func=cmd_spec)

    p = sub.add_parser("generate-data", help="generate a dataset with its checksum")
    p.add_argument("--dataset", required=True)
    p.add_argument("--params", required=True, help="JSON of the dataset's config block")
    p.add_argument("--out", required=True)
    p.add_argument("--meta", required=True)
    p.set_defaults(func=cmd_generate_data)

    p = sub.add_parser(
        "train", help="train one or more runs, one after another, and evaluate each on validation and test"
    )
    p.add_argument("--spec", required=True, help="run spec as JSON (a list for several runs), or @file")
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=_thread_count, default=1)
    p.add_argument("--model", required=True, nargs="+", help="one path per run, in --spec order")
    p.add_argument("--history", required=True, nargs="+", help="one path per run")
    p.add_argument("--info", required=True, nargs="+", help="one path per run")
    p.add_argument("--metrics-config", required=True, help="JSON of the config's metrics block")
    p.add_argument(
        "--metrics", required=True, nargs="+", help="run record with validation and test metrics, one per run"
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="re-evaluate a saved run on validation and test")
    p.add_argument("--model", required=True)
    p.add_argument("--info", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--metrics-config", required=True, help="JSON of the config's metrics block")
    p.add_argument("--threads", type=_thread_count, default=1)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("aggregate", help="build the tidy tables from the result files")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json of every trained run")
    p.add_argument("--conversions", nargs="*", default=[], help="conversion.json of every conversion job")
    p.add_argument("--tables", required=True, help="folder the tables are written to")
    p.add_argument(
        "--part",
        choices=("all", "runs", "neurons"),
        default="all",
        help="which tables: the run-level ones (runs, history, summary, conversion, plane), the"
        " per-neuron ones (neurons, rasters), or all (default)",
    )
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("claims", help="check every seed claim against the tables")
    p.add_argument("--runs", required=True)
    p.add_argument("--conversion", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser(
        "rejudge", help="judge a tables folder's runs again with the current rules (no retraining)"
    )
    p.add_argument("--tables", default="reference", help="folder with runs.csv and conversion.csv")
    p.set_defaults(func=cmd_rejudge)

    p = sub.add_parser("figures", help="draw figures from the tables")
    p.add_argument("--tables", required=True, help="folder holding the aggregated tables")
    p.add_argument("--out", nargs="+", required=True, help="figure paths; the stem names the figure")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("train-ann", help="train the ReLU ANN of one conversion job")
    p.add_argument("--spec", required=True, help="conversion spec as JSON, or @file")
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=_thread_count, default=1)
    p.add_argument("--model", required=True)
    p.add_argument("--info", required=True)
    p.set_defaults(func=cmd_train_ann)

    p = sub.add_parser(
        "convert", help="convert a trained ANN to an IF SNN and sweep normalizations, alpha, T"
    )
    p.add_argument("--model", required=True)
    p.add_argument(
        "--spec",
        required=True,
        help="conversion spec as JSON, or @file (the ANN's spec and the sweep: normalizations, alphas, T)",
    )
    p.add_argument("--info", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--metrics-config", required=True, help="JSON of the config's metrics block")
    p.add_argument("--threads", type=_thread_count, default=1)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser(
        "results-section", help="regenerate the README's verdict table and the results page from tables"
    )
    p.add_argument("--tables", default="reference", help="folder with claims.csv, summary.csv, ...")
    p.add_argument("--readme", default="README.md")
    p.set_defaults(func=cmd_results_section)

    p = sub.add_parser("notebook", help="execute the analysis notebook and render HTML")
    p.add_argument("--notebook", required=True)
    p.add_argument("--executed", required=True)
    p.add_argument("--html", required=True)
    p.add_argument("--results", required=True, help="results folder injected into the notebook")
    p.set_defaults(func=cmd_notebook)

    p = sub.add_parser(
        "replicate", help="compare a study's tables with the reference tables (replication report)"
    )
    p.add_argument("--ours", required=True, help="tables folder of the study to check (results/tables)")
    p.add_argument("--reference", required=True, help="reference folder (reference/); may be absent")
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--records", nargs="*", help="metrics.json of the study's runs (their machine)")
    p.add_argument("--machine", help="write the study's machine (JSON) here")
    p.set_defaults(func=cmd_replicate)

    p = sub.add_parser("freeze-reference", help="copy a finished study's tables into reference/")
    p.add_argument("--tables", required=True, help="tables folder of the finished study")
    p.add_argument("--out", required=True, help="reference folder to write (reference)")
    p.set_defaults(func=cmd_freeze_reference)

    p = sub.add_parser(
        "bench-study", help="job-seconds per rule and experiment and the study's matmul efficiency"
    )
    p.add_argument("--results", required=True, help="results folder of the study (with benchmarks/)")
    p.add_argument("--out", required=True, help="JSON to write (benchmarks/results/study.json)")
    p.add_argument(
        "--config", help="run this config from scratch into the results folder's parent first, timed"
    )
    p.add_argument("--cores", default="all", help="Snakemake --cores for --config")
    p.add_argument(
        "--peak-gflops",
        type=_positive(float),
        help="1-thread sgemm peak (default: measured now with torch.mm)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="run --config's jobs each in a fresh process, without warm start (as before it existed)",
    )
    p.add_argument(
        "--no-products",
        action="store_true",
        help="skip timing the runs' matrix products alone (the efficiency ceiling)",
    )
    p.set_defaults(func=cmd_bench_study)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import PATH_ERRORS, ConfigError, path_error_text

    try:
        args.func(args)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return 2
    except PATH_ERRORS as err:
        # An input path that does not exist (a step run by hand before its inputs were made, or a
        # typo), a folder where a file is read (--data results/data, --spec @folder), a path
        # through a file, a file this user may not read: the path is the whole cause, so one
        # line names it instead of a traceback.
        print(f"spikesparse {args.command}: {path_error_text(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C: every output is written whole or not at all (study.io.atomic_write), so there is
        # nothing to report but the interruption; 130 is the shell's code for it.
        print(f"spikesparse {args.command}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        # The library installs alone (pip install spikesparse); the study's commands need the
        # workflow extra. Say which package is missing and how to get it, not a traceback.
        if err.name is None or err.name.split(".")[0] == "spikesparse":
            raise
        print(
            f"spikesparse {args.command}: needs the Python package {err.name!r}, which the study's "
            "dependencies provide: pip install 'spikesparse[workflow]'",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
