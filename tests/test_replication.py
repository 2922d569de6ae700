"""Replication check on hand-made tables: each outcome, the determinism-bug flag, a missing
reference, rows on one side only, and the machine record in provenance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from spikesparse import io as sio
from spikesparse import replication as R
from spikesparse.cli import main

MACHINE = {
    "cpu_model": "Intel(R) Xeon(R) CPU @ 2.20GHz",
    "cpu_capability": "AVX512",
    "blas": "torch: mkl 2024.2; numpy: scipy-openblas 0.3.31",
    "torch_threads": 1,
    "torch": "2.13.0+cpu",
    "python": "3.11.7",
    "numeric_env": {},
    "lif_kernels": "compiled",
}
OTHER = {**MACHINE, "cpu_model": "AMD EPYC", "cpu_capability": "AVX2"}


def claims() -> pd.DataFrame:
    """Two claims in the lead's claims.csv layout (a subset of its columns: the rest is optional)."""
    return pd.DataFrame(
        {
            "claim_id": ["000", "002"],
            "experiment": ["e1", "e2_mnist1d"],
            "metric": ["rate overshoot", "spike reduction"],
            "estimate": [0.044, 0.616],
            "ci_low": [0.040, 0.576],
            "ci_high": [0.047, 0.656],
            "verdict": ["held", "held"],
            "config_hash": ["aaaaaaaaaaaa", "bbbbbbbbbbbb"],
        }
    )


def summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment": ["e1", "e1"],
            "method": ["baseline", "homeostatic_l2"],
            "lam": [0.0, 10.0],
            "n_seeds": [3, 3],
            "accuracy_mean": [0.90, 0.88],
            "accuracy_ci_low": [0.88, 0.85],
            "accuracy_ci_high": [0.92, 0.91],
            "hidden_rate_mean": [0.20, 0.044],
            "hidden_rate_ci_low": [0.18, 0.040],
            "hidden_rate_ci_high": [0.22, 0.047],
        }
    )


def test_identical_tables_are_reproduced():
    result = R.compare(claims(), claims(), summary(), summary(), MACHINE, MACHINE)
    assert result.status == R.REPRODUCED
    assert not result.determinism_bug
    assert len(result.rows) == 2 + 2 * 2  # two claims, two settings x (accuracy, rate)
    assert result.rows["identical"].all()
    assert result.rows["verdicts_agree"].iloc[:2].all()


def test_shift_inside_both_intervals_is_within_noise():
    ours_c, ours_s = claims(), summary()
    ours_c.loc[1, ["estimate", "ci_low", "ci_high"]] = [0.640, 0.600, 0.680]
    ours_s.loc[0, "accuracy_mean"] = 0.905
    result = R.compare(claims(), ours_c, summary(), ours_s, MACHINE, OTHER)
    assert result.status == R.WITHIN_NOISE, result.outcome
    assert not result.determinism_bug
    row = result.rows[(result.rows["table"] == "claims") & (result.rows["key"] == "002 | e2_mnist1d")].iloc[0]
    assert row["ours_in_ref_ci"] and row["ref_in_our_ci"] and row["status"] == "within noise"
    assert row["ref_estimate"] == pytest.approx(0.616) and row["our_estimate"] == pytest.approx(0.640)


def test_flipped_verdict_differs_and_names_the_row():
    # Issue 22's case: 002 on MNIST-1D went from "held" to "partly" on another CPU.
    ours = claims()
    ours.loc[1, ["estimate", "ci_low", "ci_high", "verdict"]] = [0.576, 0.533, 0.619, "partly"]
    result = R.compare(claims(), ours, summary(), summary(), MACHINE, OTHER)
    assert result.status == R.DIFFERS
    assert "002 | e2_mnist1d" in result.outcome and "1 of 6" in result.outcome
    row = result.rows.iloc[1]
    assert row["verdicts_agree"] == False  # noqa: E712 (None would mean "no verdict")
    assert "verdicts differ" in row["note"]


def test_estimate_outside_the_other_interval_differs():
    ours = summary()
    ours.loc[1, ["hidden_rate_mean", "hidden_rate_ci_low", "hidden_rate_ci_high"]] = [0.050, 0.037, 0.064]
    result = R.compare(claims(), claims(), summary(), ours, MACHINE, OTHER)
    assert result.status == R.DIFFERS
    row = result.rows[
        (result.rows["quantity"] == "hidden_rate") & (result.rows["key"] == "e1 | homeostatic_l2 | 10")
    ]
    assert row["ours_in_ref_ci"].item() == False  # noqa: E712 (None would mean "no interval")
    assert row["ref_in_our_ci"].item()  # 0.044 lies in [0.037, 0.064]: one direction only
    assert row["intervals_overlap"].item()
    assert "e1 | homeostatic_l2 | 10 hidden_rate" in result.outcome


def test_same_machine_with_other_numbers_is_a_determinism_bug():
    ours = summary()
    ours.loc[0, "accuracy_mean"] = 0.9000001
    result = R.compare(claims(), claims(), summary(), ours, MACHINE, dict(MACHINE))
    assert result.determinism_bug
    assert result.status == R.WITHIN_NOISE
    assert "DETERMINISM BUG" in result.outcome
    # Another thread count is another machine for the low bits: no bug.
    other_threads = {**MACHINE, "torch_threads": 2}
    assert not R.compare(claims(), claims(), summary(), ours, MACHINE, other_threads).determinism_bug
    # Another commit explains different numbers too.
    a, b = {**MACHINE, "git_commit": "1" * 40}, {**MACHINE, "git_commit": "2" * 40}
    assert not R.compare(claims(), claims(), summary(), ours, a, b).determinism_bug


def test_single_seed_without_interval_cannot_be_within_noise():
    ref, ours = summary(), summary()
    for frame in (ref, ours):
        frame.loc[0, ["accuracy_ci_low", "accuracy_ci_high"]] = np.nan
    ours.loc[0, "accuracy_mean"] = 0.91
    result = R.compare(claims(), claims(), ref, ours, MACHINE, OTHER)
    assert result.status == R.DIFFERS
    row = result.rows[(result.rows["quantity"] == "accuracy") & (result.rows["key"] == "e1 | baseline | 0")]
    assert "no interval" in row["note"].item()
    ours.loc[0, "accuracy_mean"] = np.nan  # a setting that diverged on one side only
    result = R.compare(claims(), claims(), ref, ours, MACHINE, OTHER)
    row = result.rows[(result.rows["quantity"] == "accuracy") & (result.rows["key"] == "e1 | baseline | 0")]
    assert row["status"].item() == R.DIFFERS and "no estimate on one side" in row["note"].item()


def test_rows_on_one_side_are_listed_not_compared():
    ref = claims()
    ours = pd.concat([claims().iloc[:1], claims().iloc[:1].assign(claim_id="005", experiment="e5")])
    ours_summary = summary().iloc[:1]
    result = R.compare(ref, ours, summary(), ours_summary, MACHINE, OTHER)
    statuses = result.rows.set_index(["table", "key", "quantity"])["status"]
    assert statuses[("claims", "002 | e2_mnist1d", "spike reduction")] == "only in reference"
    assert statuses[("claims", "005 | e5", "rate overshoot")] == "only in ours"
    assert statuses[("summary", "e1 | homeostatic_l2 | 10", "accuracy")] == "only in reference"
    assert result.status == R.REPRODUCED  # what is compared is identical
    assert "4 rows on one side only" in result.outcome


def test_one_claim_read_two_ways_is_keyed_by_its_reading():
    # The lead's claims: claim 001d on one experiment under two switch rules.
    two = pd.concat(
        [claims().iloc[:1].assign(reading="epoch switch"), claims().iloc[:1].assign(reading="plateau")]
    )
    two = two.reset_index(drop=True)
    ours = two.copy()
    ours.loc[1, "verdict"] = "partly"
    result = R.compare(two, ours, summary(), summary())
    claim_rows = result.rows[result.rows["table"] == "claims"].set_index("key")
    assert claim_rows.loc["000 | e1 | epoch switch", "status"] == "identical"
    assert claim_rows.loc["000 | e1 | plateau", "status"] == R.DIFFERS
    assert "| 000 | e1 | plateau |" in R.replication_markdown(result)


def test_missing_required_column_names_it():
    with pytest.raises(ValueError, match="verdict"):
        R.compare(claims(), claims().drop(columns="verdict"), summary(), summary())
    with pytest.raises(ValueError, match="hidden_rate_ci_low"):
        R.compare(claims(), claims(), summary().drop(columns="hidden_rate_ci_low"), summary())
    with pytest.raises(ValueError, match="more than once"):
        R.compare(pd.concat([claims(), claims()]), claims(), summary(), summary())


def write_tables(folder, claims_frame, summary_frame, machine=None):
    folder.mkdir(parents=True, exist_ok=True)
    claims_frame.to_csv(folder / "claims.csv", index=False)
    summary_frame.to_csv(folder / "summary.csv", index=False)
    for name in ("conversion.csv", "plane.csv"):
        pd.DataFrame({"x": [1.0]}).to_csv(folder / name, index=False)
    if machine is not None:
        (folder / "machine.json").write_text(json.dumps(machine))


def test_missing_reference_writes_a_no_reference_table(tmp_path):
    ours = tmp_path / "results" / "tables"
    write_tables(ours, claims(), summary(), MACHINE)
    csv, md = tmp_path / "replication.csv", tmp_path / "replication.md"
    code = main(
        [
            "replicate",
            "--ours",
            str(ours),
            "--reference",
            str(tmp_path / "nope"),
            "--csv",
            str(csv),
            "--md",
            str(md),
        ]
    )
    assert code == 0
    table = pd.read_csv(csv)
    assert list(table["status"]) == [R.NO_REFERENCE]
    assert "no reference" in md.read_text()


def test_cli_compares_folders_and_keeps_claim_ids_as_text(tmp_path):
    ref, ours = tmp_path / "reference", tmp_path / "results" / "tables"
    write_tables(ref, claims(), summary(), MACHINE)
    changed = summary()
    changed.loc[1, "accuracy_mean"] = 0.87
    write_tables(ours, claims(), changed, OTHER)
    csv, md = tmp_path / "r.csv", tmp_path / "r.md"
    main(["replicate", "--ours", str(ours), "--reference", str(ref), "--csv", str(csv), "--md", str(md)])
    table = pd.read_csv(csv, dtype={"key": str})
    assert "000 | e1" in set(table["key"])
    text = md.read_text()
    outcome = f"{R.WITHIN_NOISE}: verdicts agree, 1 of 6 values differ, each inside the other side's interval"
    assert text.splitlines()[2] == f"**Outcome: {outcome}.**"
    assert "AMD EPYC" in text and "Intel(R) Xeon(R)" in text
    assert "| 000 | e1 | – | rate overshoot | 0.044 [0.04, 0.047] | 0.044 [0.04, 0.047] |" in text
    claim_lines = [line for line in text.splitlines() if line.startswith("| 00")]
    assert len(claim_lines) == 2 and all(line.count(" | ") == 9 for line in claim_lines)  # 10 cells


def test_machine_from_records_of_one_and_of_two_machines():
    def record(machine, commit="c" * 40):
        return {"provenance": {**machine, "git_commit": commit, "wall_time_s": 1.0, "device": "cpu"}}

    one = R.machine_from_records([record(MACHINE), record(MACHINE)])
    assert {k: one[k] for k in sio.MACHINE_KEYS} == MACHINE and one["n_runs"] == 2
    two = R.machine_from_records([record(MACHINE), record(OTHER)])
    assert len(two["machines"]) == 2
    assert not R.same_machine(MACHINE, two)
    old = {"provenance": {"git_commit": "x", "torch": "2.13.0"}}  # before machine provenance
    assert R.machine_from_records([old]) == {}
    # A gated neuron never calls the compiled loops ("unused"): still one machine.
    gated = record({**MACHINE, "lif_kernels": "unused"})
    assert R.same_machine(MACHINE, R.machine_from_records([record(MACHINE), gated]))
    # One run fell back to the PyTorch loops (a failed build): not the reference's machine.
    fallback = record({**MACHINE, "lif_kernels": "pytorch (compiled loops unavailable)"})
    mixed = R.machine_from_records([record(MACHINE), fallback])
    assert mixed["lif_kernels"] == "compiled + pytorch (compiled loops unavailable)"
    assert not R.same_machine(MACHINE, mixed)


def test_freeze_reference_copies_tables_and_machine(tmp_path):
    tables = tmp_path / "results" / "tables"
    write_tables(tables, claims(), summary(), {**MACHINE, "git_commit": "d" * 40})
    (tables / "model.pt").write_bytes(b"weights")
    out = R.freeze_reference(tables, tmp_path / "reference")
    assert sorted(p.name for p in out.iterdir()) == sorted([*R.REFERENCE_TABLES, "machine.json", "README.md"])
    assert (out / "claims.csv").read_bytes() == (tables / "claims.csv").read_bytes()
    machine = json.loads((out / "machine.json").read_text())
    assert machine["cpu_model"] == MACHINE["cpu_model"] and machine["git_commit"] == "d" * 40
    assert machine["date"].endswith("UTC")
    assert "make reference" in (out / "README.md").read_text()
    # The frozen reference reproduces its own study, bit for bit.
    assert R.replicate(tables, out).status == R.REPRODUCED
    (tables / "plane.csv").unlink()
    with pytest.raises(ValueError, match="plane.csv"):
        R.freeze_reference(tables, tmp_path / "other")


def test_provenance_records_the_machine(monkeypatch):
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    prov = sio.provenance("cpu", 1.23)
    for key in (*sio.MACHINE_KEYS, "package_version", "git_commit", "numpy", "device", "wall_time_s"):
        assert key in prov, key
    assert prov["numeric_env"] == {"MKL_CBWR": "COMPATIBLE"}
    assert prov["cpu_model"] and prov["cpu_model"] != "unknown"
    assert prov["blas"].startswith("torch: ") and "unknown" not in prov["blas"].split(";")[0]
    assert prov["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert json.loads(json.dumps(prov)) == prov


def test_lif_kernels_say_which_loops_ran(monkeypatch):
    from spikesparse import _ext

    monkeypatch.delenv("SPIKESPARSE_NO_EXT", raising=False)
    monkeypatch.setattr(_ext, "_state", {"tried": False, "module": None})
    assert sio.lif_kernels() == "unused"
    monkeypatch.setattr(_ext, "_state", {"tried": True, "module": None})
    assert sio.lif_kernels() == "pytorch (compiled loops unavailable)"
    monkeypatch.setattr(_ext, "_state", {"tried": True, "module": object()})
    assert sio.lif_kernels() == "compiled"
    monkeypatch.setenv("SPIKESPARSE_NO_EXT", "1")
    assert sio.lif_kernels() == "pytorch (SPIKESPARSE_NO_EXT=1)"
