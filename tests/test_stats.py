import math

import numpy as np
import pandas as pd
import pytest

from spikesparse.study.analysis.stats import grouped_mean_interval, mean_interval, pareto_mask, summarize


def test_mean_interval_on_known_data():
    s = mean_interval([1.0, 2.0, 3.0, 4.0])
    assert s["mean"] == 2.5 and s["n"] == 4
    sd = math.sqrt(5 / 3)
    assert s["sd"] == pytest.approx(sd)
    assert s["se"] == pytest.approx(sd / 2)
    t = 3.182446305284263  # t_{0.975, 3}
    assert s["ci_low"] == pytest.approx(2.5 - t * sd / 2)
    assert s["ci_high"] == pytest.approx(2.5 + t * sd / 2)


def test_mean_interval_edge_cases():
    one = mean_interval([0.7])
    assert one["mean"] == 0.7 and math.isnan(one["ci_low"]) and one["n"] == 1
    none = mean_interval([float("nan")])
    assert none["n"] == 0 and math.isnan(none["mean"])
    same = mean_interval([0.5, 0.5, 0.5])
    assert same["ci_low"] == same["ci_high"] == 0.5


def test_grouped_mean_interval_is_mean_interval_per_group():
    """The figures' one-pass interval gives every group what ``mean_interval`` gives it: NaN and
    infinite values left out, one finite value -> no interval, groups in order of appearance."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "hue": np.repeat(["b", "a", "c"], 12),
            "x": np.tile(np.repeat([2, 1, 3], 4), 3),
            "y": rng.normal(size=36),
        }
    )
    frame.loc[[0, 5], "y"] = np.nan
    frame.loc[7, "y"] = np.inf
    frame.loc[frame.index[-4:-1], "y"] = np.nan  # ("c", 3) keeps one finite value
    got = grouped_mean_interval(frame, ["hue", "x"], "y")
    assert list(zip(got["hue"], got["x"], strict=True))[:3] == [("b", 2), ("b", 1), ("b", 3)]
    for row in got.itertuples(index=False):
        want = mean_interval(frame.loc[(frame["hue"] == row.hue) & (frame["x"] == row.x), "y"])
        assert row.n == want["n"]
        for k in ("mean", "ci_low", "ci_high"):
            assert getattr(row, k) == pytest.approx(want[k], rel=1e-12, nan_ok=True)
    assert got.loc[(got["hue"] == "c") & (got["x"] == 3), "n"].item() == 1


def test_summarize_counts_seeds_per_group():
    frame = pd.DataFrame({"method": ["a", "a", "b"], "acc": [0.5, 0.7, np.nan], "rate": [0.1, 0.3, 0.2]})
    out = summarize(frame, ["method"], ["acc", "rate"]).set_index("method")
    assert out.loc["a", "acc_mean"] == pytest.approx(0.6)
    assert out.loc["a", "n_seeds"] == 2 and out.loc["b", "n_seeds"] == 0  # NaN accuracy: no seed
    assert out.loc["b", "n_runs"] == 1


def test_pareto_mask_hand_example():
    cost = [1.0, 2.0, 2.0, 3.0, 0.5, np.nan]
    benefit = [0.5, 0.8, 0.7, 0.8, 0.2, 0.99]
    # (1, .5) front; (2, .8) front; (2, .7) dominated by (2, .8); (3, .8) dominated by (2, .8);
    # (.5, .2) front (cheapest); NaN never on the front
    assert pareto_mask(cost, benefit).tolist() == [True, True, False, False, True, False]
    assert pareto_mask([1.0, 1.0], [0.5, 0.5]).tolist() == [True, True]  # ties dominate nothing
