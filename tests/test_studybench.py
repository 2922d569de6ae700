"""Study throughput analysis on a synthetic results folder: benchmark files, a tiny runs table,
dataset metadata and one conversion job, with FLOPs counted by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from spikesparse import flops as F
from spikesparse.cli import main
from spikesparse.tools import studybench as SB

# Hand counts for the tiny study below (spikesparse.flops: forward; training = forward + the
# gradient of every product's operands that need one).
# e1: recurrent, anomaly (sequence: 6 steps, 2 channels), rate population 3 -> 6 inputs, hidden 4,
#     2 classes. Forward = input 2*6*6*4 + recurrence over 5 steps 2*5*4*4 + time pooling 2*6*4
#     + readout 2*4*2 = 288 + 160 + 48 + 16 = 512 FLOPs per sample. Training = 3 * 512 less the
#     input layer's input gradient (288) and the pooling's weight gradient (48) = 1200.
E1_FWD = 2 * 6 * 6 * 4 + 2 * 5 * 4 * 4 + 2 * 6 * 4 + 2 * 4 * 2
E1_TRAIN = 3 * E1_FWD - 2 * 6 * 6 * 4 - 2 * 6 * 4
# e3: feed-forward, digits (static, 5 features), latency code without n_steps -> the encoder's
#     default 16 steps; hidden 3,3; 10 classes. Forward = 2*16*(5*3 + 3*3) + 2*16*3 + 2*3*10.
E3_FWD = 2 * 16 * (5 * 3 + 3 * 3) + 2 * 16 * 3 + 2 * 3 * 10
E3_TRAIN = 3 * E3_FWD - 2 * 16 * 5 * 3 - 2 * 16 * 3
SIZES = {"anomaly": (10, 4, 8), "digits": (20, 5, 6)}  # train, val, test
E1_FLOPS = 2 * (E1_TRAIN * 10 + E1_FWD * 4) + E1_FWD * 8  # 2 epochs, val each epoch, test once
E3_FLOPS = 3 * (E3_TRAIN * 20 + E3_FWD * 5) + E3_FWD * 6  # 3 epochs
# e4: ANN 5 -> 3 -> 10: 45 MACs, 15 in the first layer (no input gradient); 2 epochs recorded in
#     its history; sweep: 2 normalizations x (calibration 4 samples + 2 alphas x max T 8 x
#     (val 5 + test 6)).
ANN_FWD = 2 * 45
ANN_TRAIN = 3 * ANN_FWD - 2 * 15
E4_FLOPS = 2 * (ANN_TRAIN * 20 + ANN_FWD * 5) + ANN_FWD * 6 + 2 * (ANN_FWD * 4 + 2 * ANN_FWD * 8 * 11)


def write_tsv(path: Path, seconds: list[float], cpu: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"]
    lines += [f"{s}\t0:00:0{int(s)}\t100\t200\t90\t95\t0\t1\t50\t{cpu}" for s in seconds]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def results(tmp_path) -> Path:
    res = tmp_path / "results"
    data = res / "data"
    data.mkdir(parents=True)
    anomaly = {"x_train": [10, 6, 2], "x_val": [4, 6, 2], "x_test": [8, 6, 2]}
    digits = {"x_train": [20, 5], "x_val": [5, 5], "x_test": [6, 5]}
    (data / "anomaly.json").write_text(json.dumps({"shapes": anomaly, "n_classes": 2}))
    (data / "digits.json").write_text(json.dumps({"shapes": digits, "n_classes": 10}))
    tables = res / "tables"
    tables.mkdir()
    runs = pd.DataFrame(
        {
            "experiment": ["e1", "e3_digits"],
            "method": ["baseline", "baseline"],
            "dataset": ["anomaly", "digits"],
            "cfg.model.hidden": [4, "3,3"],  # a one-layer list is read back as a number
            "cfg.model.kind": ["recurrent", "feedforward"],
            "cfg.encoding.name": ["rate", "latency"],
            "cfg.encoding.population": [3.0, float("nan")],
            "cfg.training.epochs": [2, 3],
            "cfg.training.batch_size": [4, 8],
        }
    )
    runs.to_csv(tables / "runs.csv", index=False)
    conv = res / "runs" / "e4_digits" / "conversion" / "seed=0" / "conversion.json"
    conv.parent.mkdir(parents=True)
    spec = {
        "experiment": "e4_digits",
        "seed": 0,
        "dataset": {"name": "digits"},
        "ann": {"hidden": [3], "epochs": 30},
        "normalizations": ["max", "percentile"],
        "alphas": [0.0, 1.0],
        "time_steps": [4, 8],
        "calibration_samples": 4,
    }
    conv.write_text(json.dumps({"spec": spec, "ann": {"macs_per_sample": 45}}))
    ann = res / "runs" / "e4_digits" / "ann" / "seed=0" / "ann.json"
    ann.parent.mkdir(parents=True)
    ann.write_text(json.dumps({"history": [{"epoch": 1}, {"epoch": 2}]}))
    bench = res / "benchmarks"
    write_tsv(bench / "train" / "e1" / "baseline" / "lam=0.0" / "seed=0.tsv", [2.0])
    write_tsv(bench / "train" / "e3_digits" / "baseline" / "lam=0.0" / "seed=0.tsv", [3.0])
    write_tsv(bench / "train_ann" / "e4_digits" / "seed=0.tsv", [1.5])
    write_tsv(bench / "convert" / "e4_digits" / "seed=0.tsv", [0.5])
    write_tsv(bench / "generate_dataset" / "digits.tsv", [1.0, 1.0])  # two repeats: summed
    write_tsv(bench / "aggregate" / "aggregate.tsv", [1.0], cpu=0.8)
    return res


def test_flops_by_hand():
    assert F.snn_forward_flops(6, [4], 2, 6, recurrent=True) == E1_FWD == 512
    assert F.snn_training_flops(6, [4], 2, 6, recurrent=True) == E1_TRAIN == 1200
    assert F.snn_forward_flops(5, [3, 3], 10, 16, recurrent=False) == E3_FWD
    assert F.snn_training_flops(5, [3, 3], 10, 16, recurrent=False) == E3_TRAIN
    # A recurrent layer adds N^2 per step after the first, forward, and 3x that in training.
    assert F.snn_forward_flops(5, [3, 3], 10, 16, recurrent=True) == E3_FWD + 2 * 15 * 18
    assert F.snn_training_flops(5, [3, 3], 10, 16, recurrent=True) == E3_TRAIN + 3 * 2 * 15 * 18
    assert F.mlp_training_flops([15, 30]) == ANN_TRAIN == 240
    with pytest.raises(ValueError, match="hidden layer"):
        F.snn_forward_flops(5, [], 10, 16, recurrent=False)
    with pytest.raises(ValueError, match="at least one layer"):
        F.mlp_training_flops([])


def test_run_and_conversion_flops(results):
    metas = SB.dataset_metas(results)
    runs = SB.run_flops(pd.read_csv(results / "tables" / "runs.csv"), metas)
    totals = (runs["train_flops"] + runs["eval_flops"]).tolist()
    assert totals == [E1_FLOPS, E3_FLOPS]
    assert runs["eval_flops"].tolist() == [E1_FWD * 8, E3_FWD * 6]
    conv = SB.conversion_flops(results, metas)
    assert conv["experiment"].tolist() == ["e4_digits"]
    assert int(conv["train_flops"].item() + conv["eval_flops"].item()) == E4_FLOPS


def test_products_alone_follow_the_batches(results):
    """A run's products-alone seconds add its batches' products: with a time proportional to
    FLOPs they add up to the run's FLOP count, whatever the batch split (e1: 10 training samples
    in batches 4, 4, 2; e3: 20 in 8, 8, 4; the test splits in one batch of 256 at most)."""
    timed = []

    def seconds(products):
        timed.append(products)
        return sum(p.flops for p in products) * 1e-12

    runs = pd.read_csv(results / "tables" / "runs.csv")
    products = SB.run_products_seconds(runs, SB.dataset_metas(results), seconds=seconds)
    assert products["experiment"].tolist() == ["e1", "e3_digits"]
    assert products["products_s"].tolist() == pytest.approx([E1_FLOPS * 1e-12, E3_FLOPS * 1e-12])
    # Each distinct (net, batch, pass) timed once: e1 train 4 and 2, forward 4 (val) and 8
    # (test); e3 train 8 and 4, forward 5 (val) and 6 (test).
    # (rows of the first product = T x batch, training pass): a forward pass has 4 products here.
    got = sorted((p[0].m, len(p) > 4) for p in timed)
    e1 = [(6 * 4, True), (6 * 2, True), (6 * 4, False), (6 * 8, False)]
    e3 = [(16 * 8, True), (16 * 4, True), (16 * 5, False), (16 * 6, False)]
    assert got == sorted(e1 + e3)
    with pytest.raises(ValueError, match="batch_size"):
        SB.run_products_seconds(runs.drop(columns="cfg.training.batch_size"), SB.dataset_metas(results))


def _table_at_peak(results, unbounded: str | None = None) -> dict:
    """The study table of the fixture with every run's products timed at exactly the peak;
    ``unbounded``: an experiment whose runs get no bound (NaN, as a conv run)."""
    peak = 1e-6
    metas = SB.dataset_metas(results)
    runs = pd.read_csv(results / "tables" / "runs.csv")
    flops = pd.concat([SB.run_flops(runs, metas), SB.conversion_flops(results, metas)], ignore_index=True)
    products = SB.run_products_seconds(
        runs, metas, seconds=lambda ps: sum(p.flops for p in ps) / (peak * 1e9)
    )
    if unbounded:
        products.loc[products["experiment"] == unbounded, "products_s"] = float("nan")
    bench = SB.read_benchmarks(results / "benchmarks", {"e1", "e3_digits", "e4_digits"})
    return SB.study_table(bench, flops, peak, products)


def test_the_ceiling_is_the_efficiency_of_the_products_alone(results):
    """With products timed at exactly the peak, the ceiling is 100 % per SNN experiment and over
    them; conversion experiments (no products) get none."""
    table = _table_at_peak(results)
    assert table["per_experiment"]["e1"]["ceiling"] == pytest.approx(1.0)
    assert table["per_experiment"]["e1"]["products_s"] == pytest.approx(E1_FLOPS / 1000.0)
    assert table["per_experiment"]["e4_digits"]["ceiling"] is None
    alone = table["products_alone"]
    assert alone["experiments"] == 2 and alone["ceiling"] == pytest.approx(1.0)
    assert alone["job_s"] == 5.0
    assert alone["efficiency"] == pytest.approx((E1_FLOPS + E3_FLOPS) / (5.0 * 1000.0))
    printed = SB.markdown(table)
    assert "| e4_digits | 2 | 2.0 | 20.0 % |" in printed and "ceiling 100.0 %" in printed


def test_an_experiment_without_a_products_bound_is_left_out_of_the_ceiling(results):
    """A conv run has no products-alone bound (NaN): its experiment gets none (not 0 s), and the
    study's ceiling is over the other experiments only (a NaN summed as 0 s put the default
    study's ceiling at 104.7 %)."""
    table = _table_at_peak(results, unbounded="e3_digits")
    e3 = table["per_experiment"]["e3_digits"]
    assert e3["products_s"] is None and e3["ceiling"] is None
    alone = table["products_alone"]
    assert alone["experiments"] == 1 and alone["ceiling"] == pytest.approx(1.0)
    assert alone["job_s"] == table["per_experiment"]["e1"]["job_s"]


def test_benchmarks_attributed_to_rules_and_experiments(results):
    bench = SB.read_benchmarks(results / "benchmarks", {"e1", "e3_digits", "e4_digits"})
    by_file = bench.set_index("file")
    assert by_file.loc["generate_dataset/digits.tsv", "s"] == 2.0
    assert by_file.loc["generate_dataset/digits.tsv", "experiment"] == SB.SHARED
    assert by_file.loc["train/e3_digits/baseline/lam=0.0/seed=0.tsv", "experiment"] == "e3_digits"
    assert by_file.loc["convert/e4_digits/seed=0.tsv", "rule"] == "convert"
    assert bench["s"].sum() == 10.0


def test_bench_study_writes_the_table(results, tmp_path, capsys):
    out = tmp_path / "study.json"
    peak = 1e-6  # GFLOP/s: 1000 FLOP/s, so the tiny study has a readable efficiency
    result = SB.bench_study(results, out, peak_gflops=peak)
    written = json.loads(out.read_text())
    for key in ("full_study_s", "study_efficiency", "per_rule", "per_experiment"):
        assert key in written, key
    assert written["full_study_s"] is None  # analysis only: no study was run
    total = E1_FLOPS + E3_FLOPS + E4_FLOPS
    assert written["total_job_s"] == 10.0
    assert written["study_efficiency"] == pytest.approx(total / (10.0 * 1000.0))
    assert written["per_rule"]["train"] == {
        "jobs": 2,
        "job_s": 5.0,
        "cpu_s": 2.0,
        "mean_job_s": 2.5,
        "share": 0.5,
    }
    e4 = written["per_experiment"]["e4_digits"]
    assert e4["job_s"] == 2.0 and e4["efficiency"] == pytest.approx(E4_FLOPS / (2.0 * 1000.0))
    shared = written["per_experiment"][SB.SHARED]
    assert shared["job_s"] == 3.0 and shared["gflop"] == 0 and shared["efficiency"] == 0
    assert result["per_experiment"]["e1"]["gflop"] == pytest.approx(E1_FLOPS / 1e9)
    printed = capsys.readouterr().out
    assert "| train | 2 | 5.0 | 50.0 % | 2.50 | 2.0 |" in printed
    assert "study efficiency" in printed
    assert written["warm_start"] is False  # no study was run
    # A warm-start study's job processes are thin clients: their CPU time is not shown.
    warm_table = SB.markdown({**written, "warm_start": True, "full_study_s": 12.0})
    assert "| train | 2 | 5.0 | 50.0 % | 2.50 | – |" in warm_table
    assert "wall 12 s, warm start" in warm_table
    # When and where, for the README's generated table: the date, the CPU and the commit.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", written["measured_at"])
    assert written["git_commit"] and printed.startswith(f"measured {written['measured_at']} on ")
    assert "date not recorded" in SB.markdown({k: v for k, v in written.items() if k != "measured_at"})


def test_cli_bench_study_analysis_only(results, tmp_path):
    out = tmp_path / "s.json"
    args = ["bench-study", "--results", str(results), "--out", str(out), "--peak-gflops", "100"]
    assert main(args) == 0
    written = json.loads(out.read_text())
    assert written["matmul_peak_gflops_1thread"] == 100
    assert written["products_alone"]["products_s"] > 0  # timed on this machine
    assert main([*args, "--no-products"]) == 0
    assert "products_alone" not in json.loads(out.read_text())


def test_bad_inputs_name_the_cause(results, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no benchmark files"):
        SB.read_benchmarks(empty, set())
    bad = tmp_path / "bad" / "train" / "x.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("seconds\n1\n")
    with pytest.raises(ValueError, match="no 's' column"):
        SB.read_benchmarks(tmp_path / "bad", set())
    runs = pd.read_csv(results / "tables" / "runs.csv")
    with pytest.raises(ValueError, match="cfg.model.kind"):
        SB.run_flops(runs.drop(columns="cfg.model.kind"), SB.dataset_metas(results))
    with pytest.raises(ValueError, match="no dataset metadata for 'anomaly'"):
        SB.run_flops(runs, {})
    with pytest.raises(ValueError, match="exists"):
        SB.run_study("config/quick.yaml", results, "1")
    with pytest.raises(ValueError, match="positive"):
        SB.study_table(
            pd.DataFrame({"s": [1.0]}), pd.DataFrame(columns=["experiment", "train_flops", "eval_flops"]), 0.0
        )


def _ended(path: Path, at: float) -> None:
    import os

    os.utime(path, (at, at))  # Snakemake writes a benchmark file when its job ends


def test_serial_tail_runs_from_the_last_training_job_to_the_last_job(results):
    bench_dir = results / "benchmarks"
    t = 1_000_000.0
    for rel, end in {
        "train/e1/baseline/lam=0.0/seed=0.tsv": t - 5,
        "train/e3_digits/baseline/lam=0.0/seed=0.tsv": t,  # the last training job ends at t
        "train_ann/e4_digits/seed=0.tsv": t - 20,
        "convert/e4_digits/seed=0.tsv": t - 10,
        "generate_dataset/digits.tsv": t - 100,
        "aggregate/aggregate.tsv": t + 1.5,  # 1 s job: starts 0.5 s after t
    }.items():
        _ended(bench_dir / rel, end)
    for name, seconds, end in (("e1_a", 2.0, t + 4.0), ("e2_b", 1.0, t + 3.0)):
        write_tsv(bench_dir / "figures" / f"{name}.tsv", [seconds])
        _ended(bench_dir / "figures" / f"{name}.tsv", end)
    write_tsv(bench_dir / "notebook" / "analysis.tsv", [3.0])
    _ended(bench_dir / "notebook" / "analysis.tsv", t + 7.25)
    bench = SB.read_benchmarks(bench_dir, {"e1", "e3_digits", "e4_digits"})
    tail = SB.serial_tail(bench, report_s=2.0)
    assert tail["dag_s"] == pytest.approx(7.25)
    assert tail["report_s"] == 2.0 and tail["total_s"] == pytest.approx(9.25)
    assert list(tail["rules"]) == ["aggregate", "figures", "notebook"]  # DAG order, present ones
    assert tail["rules"]["figures"] == {
        "jobs": 2,
        "job_s": 3.0,
        "start_s": pytest.approx(2.0),
        "end_s": pytest.approx(4.0),
    }
    assert tail["rules"]["aggregate"]["start_s"] == pytest.approx(0.5)
    assert SB.serial_tail(bench[bench["rule"] == "train"]) is None  # no tail job
    assert SB.serial_tail(bench[bench["rule"].isin(SB.TAIL_RULES)]) is None  # nothing before it
    table = SB.markdown(
        {
            **SB.study_table(bench, pd.DataFrame(columns=["experiment", "train_flops", "eval_flops"]), 1.0),
            "serial_tail": tail,
        }
    )
    assert "serial tail after the last training job: 9.2 s (DAG 7.2 s, then the report 2.0 s)" in table
    assert "figures 2 jobs 3.0 job-s (ends at 4.0 s)" in table
    no_report = SB.markdown(
        {
            **SB.study_table(bench, pd.DataFrame(columns=["experiment", "train_flops", "eval_flops"]), 1.0),
            "serial_tail": SB.serial_tail(bench),
        }
    )
    assert "(DAG only; the report was not built here)" in no_report


def test_a_conv_run_counts_its_layers_multiply_accumulates():
    """A layer-list (conv) run: 2 FLOPs per MAC of its conv and dense layers and the readout per
    step, training 3x the forward; no products-alone bound (convolutions have no products runner)."""
    layers = (
        "{'conv1d': {'channels': 4, 'kernel': 3, 'stride': 1, 'padding': 1}},"
        "{'flatten': {}},{'dense': {'units': 2}}"
    )
    run = {
        "experiment": "e2_conv",
        "dataset": "toy",
        "cfg.model.hidden": float("nan"),
        "cfg.model.kind": "feedforward",
        "cfg.model.layers": layers,
        "cfg.model.input_shape": "1,8",
        "cfg.training.epochs": 2,
        "cfg.training.batch_size": 4,
        "cfg.encoding.name": "current",
        "cfg.encoding.n_steps": 5,
    }
    metas = {"toy": {"shapes": {"x_train": [10, 8], "x_val": [3, 8], "x_test": [4, 8]}, "n_classes": 3}}
    flops = SB.run_flops(pd.DataFrame([run]), metas).iloc[0]
    macs = 4 * 8 * 3 + 32 * 2 + 2 * 3  # conv (4 channels x 8 positions x 3 taps), dense, readout
    forward = 2 * 5 * macs
    assert flops["train_flops"] == 2 * (3 * forward * 10 + forward * 3)
    assert flops["eval_flops"] == forward * 4
    bound = SB.run_products_seconds(pd.DataFrame([run]), metas, seconds=lambda ps: 1.0)
    assert bound["products_s"].isna().all()
