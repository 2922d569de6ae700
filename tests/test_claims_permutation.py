"""Selection on validation only, on a real study's tables: shuffling every test column of the
published runs (``reference/runs.csv``, every experiment incl. E3) and of the conversion table's
test rows moves no choice and no testability decision.

Diverged runs, test-only NaN metrics and a run silent on test only are injected first, so the
paths that read statuses and exclusions are exercised too."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spikesparse.study.analysis.claims import claims_table, rejudge

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
# Columns that say which run a row is, or how it was configured: never test results.
IDENTITY = {
    "experiment",
    "study",
    "method",
    "regularizer",
    "lam",
    "seed",
    "dataset",
    "family",
    "config_hash",
    "git_commit",
}
# Conversion rows: identity, the settings of the cell, and alpha / l4_selected, which the
# conversion job chose on validation (and copies onto the test rows).
CONVERSION_KEYS = IDENTITY | {
    "normalization",
    "time_steps",
    "split",
    "alpha",
    "l4_selected",
    "ann_val_accuracy",
    "ann_train_accuracy",
}
RNG_SEEDS = [0, 1, 2, 3, 4, 5]


def measured_on_test(runs: pd.DataFrame) -> list[str]:
    """Every column measured on the test split: all but identity, config, validation and train."""
    return [c for c in runs.columns if c not in IDENTITY and not c.startswith(("val_", "cfg.", "train_"))]


@pytest.fixture(scope="module")
def study():
    if not (REFERENCE / "runs.csv").exists():
        pytest.fail("reference/runs.csv is missing: the published runs must ship with the reference")
    runs = pd.read_csv(REFERENCE / "runs.csv")
    conversion = pd.read_csv(REFERENCE / "conversion.csv")
    return _with_edge_cases(runs), conversion


def _with_edge_cases(runs: pd.DataFrame) -> pd.DataFrame:
    """Diverged runs in three studies, test-only NaN metrics, and a run silent on test only."""
    runs = runs.copy()
    metrics = [
        c
        for c in runs.columns
        if c not in IDENTITY
        and not c.startswith("cfg.")
        and c not in ("status", "reason", "val_status", "val_reason")
    ]
    numeric = [c for c in metrics if pd.api.types.is_numeric_dtype(runs[c])]
    for study, family in (("e1", "homeostatic_l2"), ("e2", "spike_count"), ("e3", "first_spike")):
        idx = runs.index[(runs["study"] == study) & (runs["family"] == family)][:1]
        runs.loc[idx, ["status", "val_status"]] = "diverged"
        runs.loc[idx, ["reason", "val_reason"]] = "non-finite loss"
        runs.loc[idx, numeric] = np.nan
    e2 = runs.index[(runs["study"] == "e2") & (runs["family"] == "spike_count") & (runs["status"] == "ok")]
    runs.loc[e2[:3], "accuracy"] = np.nan  # a test metric lost, validation intact
    e3 = runs.index[(runs["study"] == "e3") & (runs["status"] == "ok")]
    runs.loc[e3[:2], "status"] = "layer_silent"  # silent on test only
    runs.loc[e3[:2], "any_layer_silent"] = 1.0
    return runs


def _shuffle_test(runs: pd.DataFrame, conversion: pd.DataFrame, seed: int):
    rng = np.random.default_rng(seed)
    runs = runs.copy()
    for c in measured_on_test(runs):  # each column on its own permutation
        runs[c] = runs[c].to_numpy()[rng.permutation(len(runs))]
    conversion = conversion.copy()
    test_rows = conversion.index[conversion["split"] == "test"]
    for c in [c for c in conversion.columns if c not in CONVERSION_KEYS]:
        conversion.loc[test_rows, c] = conversion.loc[test_rows, c].to_numpy()[
            rng.permutation(len(test_rows))
        ]
    # the ANN's test accuracy is a column of every conversion row
    conversion["ann_accuracy"] = conversion["ann_accuracy"].to_numpy()[rng.permutation(len(conversion))]
    return runs, conversion


def _choices(claims: pd.DataFrame) -> pd.DataFrame:
    """What validation decides: the selection, which runs were excluded, and testability."""
    out = claims[["claim_id", "experiment", "reading", "selection", "n_excluded"]].copy()
    out["testable"] = ~claims["verdict"].isin(["untestable", "not run"])
    return out.reset_index(drop=True)


def test_the_shuffle_covers_every_test_column(study):
    runs, _ = study
    cols = measured_on_test(runs)
    for c in (
        "accuracy",
        "status",
        "reason",
        "any_layer_silent",
        "hidden_rate",
        "active_fraction",
        "spikes_per_sample",
        "chance_accuracy",
    ):
        assert c in cols, c
    assert (runs["study"] == "e3").any() and (runs["val_status"] == "diverged").sum() == 3


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_shuffling_every_test_column_moves_no_selection(study, seed):
    runs, conversion = study
    before = claims_table(runs, conversion)
    shuffled = claims_table(*_shuffle_test(runs, conversion, seed))
    pd.testing.assert_frame_equal(_choices(before), _choices(shuffled))
    # the shuffle did reach the verdicts' numbers: the test is not vacuous
    assert not np.allclose(before["estimate"].fillna(0), shuffled["estimate"].fillna(0))


def test_reference_claims_are_the_current_rules_on_the_published_runs():
    """reference/claims.csv is what the current rules give on reference/runs.csv (``make
    rejudge``): a change of the rules that moves a published row must refreeze it."""
    runs = pd.read_csv(REFERENCE / "runs.csv")
    conversion = pd.read_csv(REFERENCE / "conversion.csv")
    rebuilt = claims_table(runs, conversion).to_csv(index=False)
    assert rebuilt == (REFERENCE / "claims.csv").read_text()


def test_rejudge_rebuilds_claims_from_runs_and_names_the_moved_verdicts(tmp_path):
    from spikesparse.cli import main

    for name in ("runs.csv", "conversion.csv", "claims.csv"):
        (tmp_path / name).write_bytes((REFERENCE / name).read_bytes())
    stale = pd.read_csv(tmp_path / "claims.csv", dtype={"claim_id": str})
    row = stale.index[stale["verdict"] != "held"][0]
    stale.loc[row, "verdict"] = "held"  # a published verdict the current rules do not give
    stale.to_csv(tmp_path / "claims.csv", index=False)
    _, changes = rejudge(str(tmp_path))
    assert len(changes) == 1 and changes.iloc[0]["before"] == "held"
    assert (tmp_path / "claims.csv").read_text() == (REFERENCE / "claims.csv").read_text()
    assert main(["rejudge", "--tables", str(tmp_path)]) in (None, 0)
    (tmp_path / "runs.csv").unlink()
    with pytest.raises(ValueError, match="runs.csv"):
        rejudge(str(tmp_path))
