"""The command line (``python -m spikesparse``): the parser and the light commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from spikesparse.cli import build_parser, main
from spikesparse.study.config import load_config
from spikesparse.study.data import generate, load_dataset, save_dataset
from spikesparse.study.io import arrays_checksum
from spikesparse.study.runs import RunKey, expand_runs, run_spec
from tests.conftest import QUICK_CONFIG, REPO

# The metrics block as the workflow passes it to train, evaluate and convert.
METRICS_CONFIG = json.dumps(load_config(QUICK_CONFIG)["metrics"])


def _train_argv(spec: str, tmp_path, data=None) -> list[str]:
    """``spikesparse train`` of one run whose four outputs go to ``tmp_path``."""
    outs = [
        a for name in ("model", "history", "info", "metrics") for a in (f"--{name}", str(tmp_path / name))
    ]
    return [
        "train",
        "--spec",
        spec,
        "--data",
        str(data or tmp_path / "d.npz"),
        "--metrics-config",
        METRICS_CONFIG,
        *outs,
    ]


def test_parser_knows_the_light_commands():
    parser = build_parser()
    args = parser.parse_args(["check-config", "--config", "c.yaml"])
    assert args.command == "check-config" and args.config == "c.yaml" and callable(args.func)
    args = parser.parse_args(
        ["spec", "--config", "c.yaml", "--experiment", "e1", "--method", "m", "--lam", "0.1", "--seed", "3"]
    )
    assert (args.experiment, args.method, args.lam, args.seed) == ("e1", "m", "0.1", 3)


@pytest.mark.parametrize(
    "argv",
    [
        [],  # a command is required
        ["no-such-command"],
        ["spec", "--config", "c.yaml", "--experiment", "e1", "--method", "m", "--lam", "0.1", "--seed", "x"],
        ["replicate", "--ours", "results/tables"],  # --reference, --csv, --md missing
        ["results-section", "--no-such-flag"],
    ],
    ids=["no command", "unknown command", "seed not an int", "replicate args missing", "unknown flag"],
)
def test_bad_arguments_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "usage: spikesparse" in capsys.readouterr().err


def test_unknown_subcommand_fails_from_the_shell():
    proc = subprocess.run(
        [sys.executable, "-m", "spikesparse", "frobnicate"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "invalid choice: 'frobnicate'" in proc.stderr


def test_check_config_on_the_quick_config(capsys):
    assert main(["check-config", "--config", str(QUICK_CONFIG)]) == 0
    n_runs = len(expand_runs(load_config(QUICK_CONFIG)))
    assert capsys.readouterr().out.strip() == f"{QUICK_CONFIG}: valid, {n_runs} runs"


def test_check_config_names_the_key_path_of_a_bad_value(tmp_path, capsys):
    raw = yaml.safe_load(QUICK_CONFIG.read_text())
    raw["experiments"]["e1"]["methods"]["homeostatic_l2"]["target_rate"] = 1.5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["check-config", "--config", str(path)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.strip() == (
        "config error at experiments.e1.methods.homeostatic_l2.target_rate: must be < 1, got 1.5"
    )


# Each step run by hand before its inputs exist: (argv with {m} for a missing folder and {o} for
# the output folder, the message's expected one line with {m} for the missing folder).
MISSING_INPUTS = {
    "check-config": (
        "check-config --config {m}/config.yaml",
        "spikesparse check-config: no such file or folder: {m}/config.yaml",
    ),
    "evaluate": (
        "evaluate --model {m}/model.pt --info {m}/info.json --data {m}/d.npz --metrics-config {{}}"
        " --out {o}/metrics.json",
        "spikesparse evaluate: no such file or folder: {m}/info.json",
    ),
    "aggregate": (
        "aggregate --metrics {m}/metrics.json --tables {o}/tables",
        "spikesparse aggregate: no such file or folder: {m}/metrics.json",
    ),
    "claims": (
        "claims --runs {m}/runs.csv --conversion {m}/conversion.csv --csv {o}/c.csv --md {o}/c.md",
        "spikesparse claims: no such file or folder: {m}/runs.csv",
    ),
    "figures": (
        "figures --tables {m} --out {o}/e2_pareto.png",
        "spikesparse figures: no such file or folder: {m}/runs.csv",
    ),
    "rejudge": (
        "rejudge --tables {m}",
        "{m} lacks ['runs.csv', 'conversion.csv']: rejudging needs the runs and conversion tables",
    ),
    "replicate": (
        "replicate --ours {m} --reference {m}/ref --csv {o}/r.csv --md {o}/r.md",
        "our tables folder {m} has no claims.csv: run the study first",
    ),
    "freeze-reference": (
        "freeze-reference --tables {m} --out {o}/reference",
        "{m} lacks ['claims.csv', 'summary.csv', 'conversion.csv', 'plane.csv', 'runs.csv']: run the whole"
        " study (make study) before freezing it",
    ),
    "bench-study": (
        "bench-study --results {m} --out {o}/study.json",
        "{m}/tables/runs.csv not found: the study has not finished",
    ),
}


@pytest.mark.parametrize("command", sorted(MISSING_INPUTS))
def test_a_step_whose_input_is_missing_names_it_on_one_line(command, tmp_path, capsys):
    """Before, these ended in a traceback (a FileNotFoundError or a ValueError as its last line);
    now exit status 2, one line naming the path, and nothing written."""
    missing, out = tmp_path / "missing", tmp_path / "out"
    out.mkdir()
    argv_text, message = MISSING_INPUTS[command]
    assert main(argv_text.format(m=missing, o=out).split()) == 2
    err = capsys.readouterr().err
    assert err.strip() == message.format(m=missing)
    assert list(out.iterdir()) == []


def test_check_config_rejects_invalid_yaml(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("experiments: [unclosed\n")
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"config error: {path} is not valid YAML (line 2, column 1: ")
    assert err.count("\n") == 1, "one line"


def test_budget_prints_the_cost_table_of_a_config(capsys):
    from spikesparse.study.budget import budget_table

    assert main(["budget", str(QUICK_CONFIG), "--tflops", "5"]) == 0
    assert capsys.readouterr().out == budget_table(load_config(QUICK_CONFIG), 5.0) + "\n"


def test_spec_prints_the_resolved_spec_of_a_run(capsys):
    argv = ["spec", "--config", str(QUICK_CONFIG), "--experiment", "e1", "--method", "homeostatic_l2"]
    assert main([*argv, "--lam", "10.0", "--seed", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == run_spec(load_config(QUICK_CONFIG), RunKey("e1", "homeostatic_l2", "10.0", 1))
    assert printed["seed"] == 1 and printed["regularizer"]["lam"] == 10.0


def test_spec_of_a_lambda_or_seed_not_in_the_config_fails_naming_the_ones_it_has(capsys):
    argv = ["spec", "--config", str(QUICK_CONFIG), "--experiment", "e1", "--method", "homeostatic_l2"]
    assert main([*argv, "--lam", "3.0", "--seed", "1"]) == 2
    assert "no lambda 3.0 in experiments.e1.methods.homeostatic_l2; it has ['" in capsys.readouterr().err
    assert main([*argv, "--lam", "10", "--seed", "99"]) == 2  # 10 is the config's 10.0
    err = capsys.readouterr().err
    assert "no seed 99 in experiments.e1.methods.homeostatic_l2; its runs have seeds [" in err


@pytest.mark.parametrize(
    ("experiment", "method", "message"),
    [
        ("e9", "baseline", "no experiment 'e9'; the config has ['e1', "),
        ("e1", "spike_cnt", "no method 'spike_cnt' in experiments.e1; it has ['baseline', "),
    ],
)
def test_spec_of_an_unknown_experiment_or_method_names_the_known_ones(capsys, experiment, method, message):
    argv = ["spec", "--config", str(QUICK_CONFIG), "--experiment", experiment, "--method", method]
    assert main([*argv, "--lam", "0.0", "--seed", "0"]) == 2  # was a KeyError traceback
    assert message in capsys.readouterr().err


def test_generate_data_writes_arrays_and_meta_with_checksum(tmp_path, capsys):
    params = {"n_train": 6, "n_val": 2, "n_test": 4, "n_channels": 2, "n_steps": 8, "seed": 1}
    out, meta_path = tmp_path / "tiny.npz", tmp_path / "tiny.json"
    argv = ["generate-data", "--dataset", "anomaly", "--params", json.dumps(params)]
    assert main([*argv, "--out", str(out), "--meta", str(meta_path)]) == 0
    arrays = load_dataset(str(out))
    meta = json.loads(meta_path.read_text())
    assert arrays["x_train"].shape == (6, 8, 2) and arrays["x_test"].shape == (4, 8, 2)
    assert meta["name"] == "anomaly" and meta["params"] == params
    assert meta["checksum_sha256"] == arrays_checksum(arrays)
    assert meta["shapes"]["y_val"] == [2]
    assert meta["checksum_sha256"][:16] in capsys.readouterr().out
    # The same parameters give the same bytes (the checksum is what the study compares).
    again = tmp_path / "again.npz"
    main([*argv, "--out", str(again), "--meta", str(tmp_path / "again.json")])
    assert json.loads((tmp_path / "again.json").read_text())["checksum_sha256"] == meta["checksum_sha256"]
    assert np.array_equal(load_dataset(str(again))["x_train"], arrays["x_train"])


@pytest.mark.parametrize(
    ("dataset", "params", "message"),
    [
        ("imagenet", "{}", "'imagenet' is not a built-in dataset (['anomaly', "),
        # a negative size had produced a dataset with an empty validation split, and no error
        ("anomaly", '{"n_train": -5}', "--params of dataset 'anomaly': n_train: must be >= 2, got -5"),
        ("anomaly", '{"n_trian": 50}', "n_trian: not a parameter of dataset 'anomaly'"),
        ("digits", "[1, 2]", "--params must be a JSON object, got list"),
        ("digits", "{n_train: 5}", "--params is not valid JSON"),
        ("mnist", '{"root": "/no/such/folder"}', "/no/such/folder: root folder does not exist"),
    ],
    ids=["unknown dataset", "negative size", "misspelt key", "not an object", "not JSON", "missing folder"],
)
def test_generate_data_checks_its_params_as_the_config_does(tmp_path, capsys, dataset, params, message):
    argv = ["generate-data", "--dataset", dataset, "--params", params]
    assert main([*argv, "--out", str(tmp_path / "x.npz"), "--meta", str(tmp_path / "x.json")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["budget", str(QUICK_CONFIG), "--tflops", "-3"], "argument --tflops: must be above 0, got -3"),
        (["budget", str(QUICK_CONFIG), "--tflops", "nan"], "argument --tflops: must be above 0, got nan"),
        (["budget", str(QUICK_CONFIG), "--tflops", "fast"], "argument --tflops: not a number: 'fast'"),
        (["bench-study", "--results", "r", "--peak-gflops", "0"], "argument --peak-gflops: must be above 0"),
        (
            ["train", "--spec", "{}", "--data", "d.npz", "--threads", "0", "--metrics-config", "{}"],
            "argument --threads: must be above 0, got 0",
        ),
        (
            ["train", "--spec", "{}", "--data", "d.npz", "--threads", "1.5", "--metrics-config", "{}"],
            "argument --threads: not an integer: '1.5'",
        ),
        (
            ["train", "--spec", "{}", "--data", "d.npz", "--threads", "100000", "--metrics-config", "{}"],
            "argument --threads: 100000 threads on a machine with",  # OpenMP had crashed allocating
        ),
    ],
    ids=[
        "negative tflops",
        "nan tflops",
        "word tflops",
        "zero peak",
        "zero threads",
        "fractional threads",
        "100000 threads",
    ],
)
def test_a_rate_peak_or_thread_count_must_be_above_zero(argv, message, capsys):
    """A negative or NaN TFLOP/s had printed a table of negative or NaN GPU-hours."""
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_a_spec_that_is_not_json_is_named(tmp_path, capsys):
    assert main(_train_argv("{bad", tmp_path)) == 2
    assert "--spec is not valid JSON" in capsys.readouterr().err


def test_results_section_needs_the_readme_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# A README without the results markers\n")
    with pytest.raises(ValueError, match="README has no .*markers"):
        main(["results-section", "--tables", str(tmp_path / "none"), "--readme", str(readme)])
    assert readme.read_text() == "# A README without the results markers\n"


def test_a_study_command_without_the_workflow_extra_says_what_to_install():
    """``pip install spikesparse`` (no extra) has no jsonschema: a study command names the package
    and the extra instead of dying with a ModuleNotFoundError traceback."""
    code = (
        "import sys; sys.modules['jsonschema'] = None\n"
        "from spikesparse.cli import main\n"
        f"sys.exit(main(['check-config', '--config', {str(QUICK_CONFIG)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "'jsonschema'" in proc.stderr and "pip install 'spikesparse[workflow]'" in proc.stderr


@pytest.mark.parametrize("command", ["convert", "train-ann"])
def test_the_heavy_jobs_keep_their_temporaries_mapped(command, monkeypatch, tmp_path):
    """convert and train-ann set glibc's mmap/trim thresholds before they read anything (as train
    does): without it every step's multi-megabyte temporaries are mapped and unmapped anew, and
    the page faults cost a converted conv net ~40 % of its simulation time."""
    import spikesparse.runtime as runtime

    class Tuned(Exception):
        pass

    def tuned():
        raise Tuned

    monkeypatch.setattr(runtime, "tune_allocator", tuned)
    missing = str(tmp_path / "missing.json")
    argv = {
        "convert": ["convert", "--spec", "{}", "--info", missing, "--model", missing, "--data", missing]
        + ["--out", missing, "--metrics-config", "{}"],
        "train-ann": ["train-ann", "--spec", "{}", "--data", missing, "--model", missing, "--info", missing],
    }[command]
    with pytest.raises(Tuned):
        main(argv)


def test_a_run_spec_missing_keys_is_named(tmp_path, capsys):
    """A hand-written spec without a seed had failed as KeyError 'seed' inside training."""
    from spikesparse.study.runs import run_spec

    spec = run_spec(load_config(QUICK_CONFIG), RunKey("e1", "baseline", "0.0", 0))
    del spec["seed"], spec["training"]
    assert main(_train_argv(json.dumps(spec), tmp_path)) == 2
    assert "the run spec lacks ['seed', 'training']" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_an_ann_or_conversion_spec_missing_keys_is_named(tmp_path, capsys):
    """train-ann and convert had failed with KeyError 'dataset' on a spec without one."""
    from spikesparse.study.runs import conversion_spec

    spec = conversion_spec(load_config(QUICK_CONFIG), "e4_digits", 0)
    ann = {k: v for k, v in spec.items() if k not in ("dataset", "alphas")}
    argv = ["train-ann", "--spec", json.dumps(ann), "--data", str(tmp_path / "d.npz")]
    assert main([*argv, "--model", str(tmp_path / "m"), "--info", str(tmp_path / "i")]) == 2
    assert "the ANN spec lacks ['dataset']" in capsys.readouterr().err
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"spec": spec}))
    argv = ["convert", "--spec", json.dumps(ann), "--model", "m", "--info", str(info), "--data", "d.npz"]
    assert main([*argv, "--metrics-config", METRICS_CONFIG, "--out", str(tmp_path / "c.json")]) == 2
    assert "the conversion spec lacks ['dataset', 'alphas']" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["info.json"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run made through the command line (quick e1 baseline, one epoch): its dataset
    with the meta file beside it, model, train info and run record, for the tests that damage,
    swap or misplace them."""
    folder = tmp_path_factory.mktemp("trained")
    spec = _quick_spec()
    spec["training"]["epochs"] = 1
    params = json.dumps({k: v for k, v in spec["dataset"].items() if k != "name"})
    data = folder / "d.npz"
    argv = ["generate-data", "--dataset", spec["dataset"]["name"], "--params", params]
    assert main([*argv, "--out", str(data), "--meta", str(folder / "d.json")]) == 0
    run = folder / "run"
    assert main(_train_argv(json.dumps(spec), run, data)) == 0
    return SimpleNamespace(
        spec=spec, data=data, model=run / "model", info=run / "info", metrics=run / "metrics"
    )


def _evaluate_argv(t, out, model=None, info=None, data=None) -> list[str]:
    return [
        *("evaluate", "--model", str(model or t.model), "--info", str(info or t.info)),
        *("--data", str(data or t.data), "--metrics-config", METRICS_CONFIG, "--out", str(out / "m.json")),
    ]


def _half(path) -> bytes:
    raw = Path(path).read_bytes()
    return raw[: len(raw) // 2]


def _digits(bad):
    """A dataset of another kind (static digits) where the spec's is a sequence (anomaly)."""
    save_dataset(str(bad), generate("digits", {"n_samples": 200})[0])


def _reseeded(t, bad):
    """The spec's dataset, but its meta file says it was made with another seed."""
    shutil.copy(t.data, bad)
    meta = json.loads(t.data.with_suffix(".json").read_text())
    meta["params"]["seed"] += 1
    bad.with_suffix(".json").write_text(json.dumps(meta))


# Each damaged or wrong input: (file name, how to make it from the trained run `t`, the argv that
# reads it (`bad`: its path, `out`: an empty output folder), what the one line says after the path).
BAD_INPUTS = {
    "data is a CSV": (
        "d.csv",
        lambda t, bad: bad.write_text("a,b\n1,2\n"),
        lambda t, bad, out: _train_argv(json.dumps(t.spec), out, bad),
        ": not an .npz archive (another format); it should be a dataset file",
    ),
    "data is empty": (
        "d.npz",
        lambda t, bad: bad.write_bytes(b""),
        lambda t, bad, out: _train_argv(json.dumps(t.spec), out, bad),
        ": empty file; it should be a dataset file",
    ),
    "data is truncated": (
        "d.npz",
        lambda t, bad: bad.write_bytes(_half(t.data)),
        lambda t, bad, out: _train_argv(json.dumps(t.spec), out, bad),
        ": a truncated or damaged .npz archive",
    ),
    "data lacks x_train": (
        "d.npz",
        lambda t, bad: np.savez(bad, y_train=np.zeros(3)),
        lambda t, bad, out: _train_argv(json.dumps(t.spec), out, bad),
        ": lacks the arrays ['x_train', 'x_val', 'y_val', 'x_test', 'y_test'], so it is not a dataset file",
    ),
    "data of another dataset": (
        "d.npz",
        lambda t, bad: _digits(bad),
        lambda t, bad, out: _train_argv(json.dumps(t.spec), out, bad),
        ": holds static features [n, F], but the spec's dataset 'anomaly' is sequences [n, T, C]: the data"
        " do not match the spec's dataset",
    ),
    "data of other parameters": (
        "d.npz",
        _reseeded,
        lambda t, bad, out: _evaluate_argv(t, out, data=bad),
        ": holds dataset 'anomaly' generated with other ['seed'] than the spec's",
    ),
    "model is truncated": (
        "model.pt",
        lambda t, bad: bad.write_bytes(_half(t.model)),
        lambda t, bad, out: _evaluate_argv(t, out, model=bad),
        ": not a PyTorch checkpoint, or a truncated one (",
    ),
    "model is empty": (
        "model.pt",
        lambda t, bad: bad.write_bytes(b""),
        lambda t, bad, out: _evaluate_argv(t, out, model=bad),
        ": empty file; it should be a run's model checkpoint (model.pt)",
    ),
    "model is not a checkpoint": (
        "model.pt",
        lambda t, bad: shutil.copy(t.info, bad),
        lambda t, bad, out: _evaluate_argv(t, out, model=bad),
        ": not a PyTorch checkpoint, or a truncated one (UnpicklingError: ",
    ),
    "info is empty": (
        "train.json",
        lambda t, bad: bad.write_text(""),
        lambda t, bad, out: _evaluate_argv(t, out, info=bad),
        ": empty file; it should be the train info (train.json)",
    ),
    "info is truncated": (
        "train.json",
        lambda t, bad: bad.write_bytes(_half(t.info)),
        lambda t, bad, out: _evaluate_argv(t, out, info=bad),
        ": not valid JSON, truncated or damaged (",
    ),
    "metrics are not a run record": (
        "train.json",
        lambda t, bad: shutil.copy(t.info, bad),
        lambda t, bad, out: ["aggregate", "--metrics", str(bad), "--tables", str(out / "tables")],
        ": lacks ['metrics'], so it is not a run record (metrics.json)",
    ),
    "runs table is empty": (
        "runs.csv",
        lambda t, bad: bad.write_text(""),
        lambda t, bad, out: (
            ["claims", "--runs", str(bad), "--conversion", str(bad)]
            + ["--csv", str(out / "c.csv"), "--md", str(out / "c.md")]
        ),
        ": empty file; it should be the runs table (runs.csv)",
    ),
    "runs table is another table": (
        "runs.csv",
        lambda t, bad: bad.write_text("a,b\n1,2\n"),
        lambda t, bad, out: (
            ["claims", "--runs", str(bad), "--conversion", str(bad)]
            + ["--csv", str(out / "c.csv"), "--md", str(out / "c.md")]
        ),
        ": lacks the columns ['experiment', 'method', 'regularizer', 'lam', 'seed', 'status'], so it is not"
        " the runs table",
    ),
    "data is a folder": (
        "d.npz",
        lambda t, bad: bad.mkdir(),
        lambda t, bad, out: _train_argv(json.dumps(t.spec), out, bad),
        " is a folder, not a file",
    ),
    "spec is a folder": (
        "spec",
        lambda t, bad: bad.mkdir(),
        lambda t, bad, out: _train_argv(f"@{bad}", out, t.data),
        " is a folder, not a file",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_a_damaged_or_wrong_input_file_is_named_on_one_line(case, trained, tmp_path, capsys):
    """Before, each ended in a traceback, some misleading ("static input [B, C] needs n_steps >= 1"
    for another dataset's data, KeyError 'x_train', PytorchStreamReader, JSONDecodeError,
    EmptyDataError, IsADirectoryError): now exit status 2, one line naming the file and what it
    should be, and nothing written."""
    name, make, argv, says = BAD_INPUTS[case]
    bad, out = tmp_path / name, tmp_path / "out"
    out.mkdir()
    make(trained, bad)
    assert main(argv(trained, bad, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{bad}{says}" in err, err
    assert list(out.iterdir()) == []


def test_a_damaged_input_file_is_one_line_from_the_shell(trained, tmp_path):
    """The same through ``python -m spikesparse``: exit status 2 and no traceback."""
    bad = tmp_path / "model.pt"
    bad.write_bytes(_half(trained.model))
    argv = _evaluate_argv(trained, tmp_path, model=bad)
    proc = subprocess.run([sys.executable, "-m", "spikesparse", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{bad}: not a PyTorch checkpoint") and proc.stderr.count("\n") == 1


def test_an_output_that_is_a_folder_names_it_not_a_temporary_file(trained, tmp_path, capsys):
    """Had been an IsADirectoryError naming '.m.json.<random>.tmp.json' after the evaluation."""
    out = tmp_path / "m.json"
    out.mkdir()
    argv = _evaluate_argv(trained, tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"cannot write {out}: it is a folder; give the path of a file\n"
    assert list(out.iterdir()) == []


def test_train_checks_every_output_path_before_it_trains(trained, tmp_path, capsys):
    """``--metrics some/file.json/x.json`` had trained, written the model, history and info, and
    then failed with a traceback: the training was lost. Now nothing is trained or written."""
    blocker = tmp_path / "file.json"
    blocker.write_text("{}")
    argv = _train_argv(json.dumps(trained.spec), tmp_path / "run", trained.data)
    argv[argv.index("--metrics") + 1] = str(blocker / "x.json")
    assert main(argv) == 2
    err = capsys.readouterr()
    assert err.err == f"cannot write {blocker / 'x.json'}: {blocker} is a file, not a folder\n"
    assert "epoch" not in err.out, "nothing trained"
    assert not (tmp_path / "run").exists()


def test_generate_data_checks_the_meta_path_before_it_writes_the_arrays(tmp_path, capsys):
    """``--meta bad/path`` had left the .npz without its meta file."""
    blocker = tmp_path / "bad"
    blocker.write_text("")
    out = tmp_path / "data" / "x.npz"
    argv = ["generate-data", "--dataset", "anomaly", "--params", '{"n_train": 6, "n_test": 4}']
    assert main([*argv, "--out", str(out), "--meta", str(blocker / "path")]) == 2
    assert capsys.readouterr().err == f"cannot write {blocker / 'path'}: {blocker} is a file, not a folder\n"
    assert not out.parent.exists()


def test_aggregate_reads_every_record_before_it_writes_a_table(trained, tmp_path, capsys):
    """A run record given as a conversion had written runs.csv, history.csv, ... and then failed
    with KeyError 'chosen_alpha', leaving a tables folder of new and old tables."""
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "runs.csv").write_text("old\n")
    argv = ["aggregate", "--metrics", str(trained.metrics), "--conversions", str(trained.metrics)]
    assert main([*argv, "--tables", str(tables)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"{trained.metrics}: lacks ['chosen_alpha', 'rows', 'ann'], so it is not a conversion record"
        " (conversion.json) that spikesparse convert writes\n"
    )
    assert [p.name for p in tables.iterdir()] == ["runs.csv"] and (tables / "runs.csv").read_text() == "old\n"
    # the good inputs alone still make every table
    assert main(["aggregate", "--metrics", str(trained.metrics), "--tables", str(tables)]) == 0
    assert (tables / "plane.csv").exists() and (tables / "runs.csv").read_text() != "old\n"


def _convert_argv(tmp_path, metrics_config: str = METRICS_CONFIG) -> list[str]:
    """convert of quick's e4_digits seed 0 against an ANN info that says seed 1."""
    from spikesparse.study.runs import conversion_spec

    spec = conversion_spec(load_config(QUICK_CONFIG), "e4_digits", 0)
    info = tmp_path / "ann.json"
    info.write_text(json.dumps({"spec": {**spec, "seed": 1}}))
    argv = ["convert", "--spec", json.dumps(spec), "--model", str(tmp_path / "ann.pt"), "--info", str(info)]
    return [*argv, "--data", "d.npz", "--metrics-config", metrics_config, "--out", str(tmp_path / "c.json")]


def _quick_spec() -> dict:
    return run_spec(load_config(QUICK_CONFIG), RunKey("e1", "baseline", "0.0", 0))


# Usage errors that had exited with status 1 (a SystemExit with the message): (argv from a
# temporary folder, the one line).
USAGE_ERRORS = {
    "metrics-config not JSON": (
        lambda tmp: [*_train_argv("{}", tmp), "--metrics-config", '{"x":'],
        "--metrics-config is not valid JSON (Expecting value: line 1 column 6 (char 5))",
    ),
    "spec key written twice": (  # json kept the last seed without a word
        lambda tmp: _train_argv(json.dumps(_quick_spec())[:-1] + ', "seed": 5}', tmp),
        "--spec: key 'seed' is written twice in one JSON object",
    ),
    "metrics-config key written twice": (
        lambda tmp: [*_train_argv("{}", tmp), "--metrics-config", '{"eval_seed": 1, "eval_seed": 2}'],
        "--metrics-config: key 'eval_seed' is written twice in one JSON object",
    ),
    "metrics-config unknown key": (
        lambda tmp: [
            *_train_argv("{}", tmp),
            "--metrics-config",
            json.dumps({**json.loads(METRICS_CONFIG), "x": 1}),
        ],
        "--metrics-config: metrics.x: unknown key (known: ",
    ),
    "more model paths than runs": (
        lambda tmp: [*_train_argv(json.dumps(_quick_spec()), tmp), "--model", "m1", "m2"],
        "train: 1 run spec(s) but 2 --model path(s); give one per run",
    ),
    "unknown figure": (
        lambda tmp: ["figures", "--tables", str(tmp), "--out", str(tmp / "nofig.png")],
        "unknown figure 'nofig'; known: [",
    ),
    "ANN of another seed": (
        _convert_argv,
        "convert: the ANN in {tmp}/ann.json was trained with another seed than --spec gives",
    ),
}


@pytest.mark.parametrize("case", sorted(USAGE_ERRORS))
def test_a_usage_error_exits_with_status_2_on_one_line(case, tmp_path, capsys):
    argv, message = USAGE_ERRORS[case]
    assert main(argv(tmp_path)) == 2  # had raised SystemExit(message): status 1
    err = capsys.readouterr().err
    assert err.startswith(message.format(tmp=tmp_path)) and err.count("\n") == 1, err


def test_cuda_without_a_gpu_is_one_line_before_any_training(trained, tmp_path, capsys, monkeypatch):
    """A config meant for a GPU cluster run on a CPU machine: every job had ended in a 20-line
    traceback; now one line naming the device key, exit 2, nothing written."""
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    spec = {**trained.spec, "device": "cuda"}
    assert main(_train_argv(json.dumps(spec), tmp_path / "out", trained.data)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "device 'cuda'" in err and "no CUDA device" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    """An interrupted step (Ctrl-C during aggregate or claims) had printed a traceback."""
    import spikesparse.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_budget", interrupted)
    assert main(["budget", str(QUICK_CONFIG)]) == 130
    assert capsys.readouterr().err == "spikesparse budget: interrupted\n"
