"""Summary statistics over seeds and the Pareto front: pure pandas/numpy, used by the tables,
the claims and the figures alike so that every number is computed one way."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps


def _t_half_width(se, n, confidence: float):
    """Half the width of the two-sided t interval of a mean of ``n`` values with standard error
    ``se``: ``t_{(1 + confidence) / 2, n - 1} * se`` (numbers or arrays alike)."""
    return sps.t.ppf(0.5 + confidence / 2, n - 1) * se


def mean_interval(values, confidence: float = 0.95) -> dict:
    """Mean, SD, standard error and the two-sided t interval of the mean over finite values.

    With one value the SD, SE and interval are NaN (one seed says nothing about spread); with
    none, everything but ``n`` is NaN.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    nan = float("nan")
    if n == 0:
        return {"mean": nan, "sd": nan, "se": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    mean = float(x.mean())
    if n == 1:
        return {"mean": mean, "sd": nan, "se": nan, "ci_low": nan, "ci_high": nan, "n": 1}
    sd = float(x.std(ddof=1))
    se = sd / math.sqrt(n)
    half = float(_t_half_width(se, n, confidence))
    return {"mean": mean, "sd": sd, "se": se, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def grouped_mean_interval(
    frame: pd.DataFrame, by: list[str], column: str, confidence: float = 0.95
) -> pd.DataFrame:
    """``mean_interval`` of ``column`` in every group of ``by`` in one grouped pass -> one row per
    group with a finite value (in order of first appearance) with ``mean``, ``ci_low``,
    ``ci_high`` and ``n`` (the finite values; the interval is NaN where ``n`` < 2). For figures
    that draw a mean and its interval at hundreds of points, where calling ``mean_interval`` per
    group through pandas costs seconds."""
    finite = frame[np.isfinite(frame[column].astype(float))]
    stats = finite.groupby(by, sort=False)[column].agg(["mean", "std", "count"]).reset_index()
    n = stats["count"].to_numpy()
    se = stats["std"].to_numpy() / np.sqrt(n)
    with np.errstate(invalid="ignore"):  # n = 1: no interval
        half = _t_half_width(se, np.where(n > 1, n, np.nan), confidence)
    return stats.assign(ci_low=stats["mean"] - half, ci_high=stats["mean"] + half, n=n).drop(
        columns=["std", "count"]
    )


def summarize(frame: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """One row per group of ``by``: for each column ``<col>_mean/_sd/_se/_ci_low/_ci_high`` and
    ``n_seeds`` (rows in the group whose first column is finite) plus ``n_runs``."""
    rows = []
    for keys, grp in frame.groupby(by, sort=True, dropna=False):
        row = dict(zip(by, keys if isinstance(keys, tuple) else (keys,), strict=True))
        row["n_runs"] = len(grp)
        for col in columns:
            summary = mean_interval(grp[col]) if col in grp else mean_interval([])
            for k in ("mean", "sd", "se", "ci_low", "ci_high"):
                row[f"{col}_{k}"] = summary[k]
            if col == columns[0]:
                row["n_seeds"] = summary["n"]
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_mask(cost, benefit) -> np.ndarray:
    """Non-dominated points when ``cost`` is minimized and ``benefit`` maximized: a point is
    dominated if another is at least as good on both and strictly better on one. NaN points are
    never on the front."""
    c = np.asarray(cost, dtype=float)
    b = np.asarray(benefit, dtype=float)
    ok = np.isfinite(c) & np.isfinite(b)
    mask = np.zeros(len(c), dtype=bool)
    for i in np.flatnonzero(ok):
        better_or_equal = ok & (c <= c[i]) & (b >= b[i])
        strictly = (c < c[i]) | (b > b[i])
        mask[i] = not np.any(better_or_equal & strictly)
    return mask


Z95 = 1.959963984540054  # two-sided 95 % normal quantile of the Wilson interval


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a share ``k / n`` (NaN, NaN when n = 0)."""
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int) -> dict:
    """Difference of shares ``k1/n1 - k2/n2`` with Newcombe's hybrid score 95 % interval, in the
    ``mean_interval`` layout (``n`` = runs on the first side)."""
    nan = float("nan")
    if n1 <= 0 or n2 <= 0:
        return {"mean": nan, "sd": nan, "se": nan, "ci_low": nan, "ci_high": nan, "n": max(n1, 0)}
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {"mean": d, "sd": nan, "se": nan, "ci_low": lo, "ci_high": hi, "n": n1}


def paired_newcombe(first, second) -> dict:
    """Difference of two shares measured on the same units (``first[i]`` and ``second[i]`` are one
    seed's two runs): ``mean(first) - mean(second)`` with Newcombe's score interval for paired
    proportions (method 10 of Newcombe 1998, Stat Med 17:2635), in the ``mean_interval`` layout
    (``n`` = pairs).

    Why paired: runs that share a seed share their data split, initialization and input draws, so
    their outcomes are correlated; the interval for independent shares (``newcombe``) ignores that
    and is too wide where the pairs agree. Each share gets its Wilson interval; the two are
    combined with the (corrected) phi coefficient of the 2 x 2 table of pairs (0 where a margin
    is empty)."""
    x1 = np.asarray(first, dtype=bool)
    x2 = np.asarray(second, dtype=bool)
    if x1.shape != x2.shape or x1.ndim != 1:
        raise ValueError(f"paired shares need two equal-length 1-D sequences, got {x1.shape} and {x2.shape}")
    n = len(x1)
    nan = float("nan")
    if n == 0:
        return {"mean": nan, "sd": nan, "se": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    a = int(np.sum(x1 & x2))
    b = int(np.sum(x1 & ~x2))
    c = int(np.sum(~x1 & x2))
    d = n - a - b - c
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    # Newcombe's phi with his correction toward 0 (Altman et al., Statistics with Confidence,
    # 2nd ed., ch. 6): ad - bc above n/2 is reduced by n/2, between 0 and n/2 counts as 0.
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    cross = cross - n / 2 if cross > n / 2 else min(cross, 0)
    phi = cross / math.sqrt(margins) if margins > 0 else 0.0
    diff = p1 - p2
    lo = diff - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = diff + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return {"mean": diff, "sd": nan, "se": nan, "ci_low": max(-1.0, lo), "ci_high": min(1.0, hi), "n": n}


def finite_number(x) -> bool:
    """A real, finite number (not None, NaN, an infinity or a string): an estimate or bound that exists."""
    return x is not None and isinstance(x, (int, float, np.floating, np.integer)) and math.isfinite(x)


def _standard_error(side: dict) -> tuple[float, float] | None:
    """(standard error, degrees of freedom) of one side's estimate, or None without an interval.

    The summary's means come with their standard error and seed count (a t interval: df = n - 1).
    A claim's interval may be a t interval over seeds, a Wilson/Newcombe interval over counts or a
    ratio's: its half-width over the normal 1.96 is at least its standard error (a t interval's
    quantile is larger), so the test errs towards "within noise" there (df = inf)."""
    if not (finite_number(side.get("ci_low")) and finite_number(side.get("ci_high"))):
        return None
    n = side.get("n")
    if finite_number(side.get("se")) and finite_number(n) and n >= 2:
        return float(side["se"]), float(n) - 1
    return (float(side["ci_high"]) - float(side["ci_low"])) / (2 * Z95), math.inf


def difference_test(ref: dict, ours: dict) -> tuple[float, float] | None:
    """(z, two-sided p) for "the two estimates differ", Welch's t for two t intervals, the normal
    otherwise; None where a side has no estimate or no interval. Seeds are shared by the two sides,
    which makes their estimates correlate: treating them as independent overstates the noise, so
    the test errs towards "within noise", never towards "differs"."""
    a, b = _standard_error(ref), _standard_error(ours)
    if a is None or b is None or not (finite_number(ref["estimate"]) and finite_number(ours["estimate"])):
        return None
    (sa, da), (sb, db) = a, b
    se = math.hypot(sa, sb)
    diff = float(ours["estimate"]) - float(ref["estimate"])
    if se == 0:
        return (0.0, 1.0) if diff == 0 else (math.copysign(math.inf, diff), 0.0)
    z = diff / se
    if math.isinf(da) or math.isinf(db):
        return z, float(2 * sps.norm.sf(abs(z)))
    df = se**4 / (sa**4 / da + sb**4 / db)  # Welch-Satterthwaite (se > 0 here)
    return z, float(2 * sps.t.sf(abs(z), df))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given): family-wise error control that
    holds for any dependence between the tests."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
