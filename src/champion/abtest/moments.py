"""Sufficient statistics of per-row scores grouped into independent units (pure numpy).

A unit is what was randomised: a user in hash mode, a request otherwise. Rows of one unit
are correlated (a user who is hard to predict stays hard), so the variance of a mean is
computed over units — the cluster-robust (delta-method) variance of a ratio of sums:

    mean = sum_j S_j / sum_j N_j
    var  = k / (k - 1) * sum_j (S_j - mean N_j)^2 / (sum_j N_j)^2

with ``S_j`` the sum of unit ``j``'s scores, ``N_j`` its rows and ``k`` the units. With one
row per unit it is the usual ``s^2 / n``. Everything a decision needs is a handful of sums
(``k``, ``n``, ``sum S``, ``sum S^2``, ``sum S N``, ``sum N^2``), so the statistics of a
look can be kept up to date row by row (:func:`running`) or added up in a database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Number = float | np.ndarray


@dataclass(frozen=True)
class Moments:
    """Sums over the units of one group of rows (one arm, one phase, one metric).

    Each field is a number, or an array of numbers — one per look — and every property
    is computed elementwise, so a whole experiment's looks are evaluated at once."""

    k: Number = 0.0  # units with at least one row
    n: Number = 0.0  # rows
    s: Number = 0.0  # sum of scores
    ss: Number = 0.0  # sum over units of S_j^2
    sn: Number = 0.0  # sum over units of S_j N_j
    nn: Number = 0.0  # sum over units of N_j^2

    def __add__(self, other: Moments) -> Moments:
        """The moments of two disjoint groups of units together."""
        return Moments(
            self.k + other.k,
            self.n + other.n,
            self.s + other.s,
            self.ss + other.ss,
            self.sn + other.sn,
            self.nn + other.nn,
        )

    @property
    def mean(self) -> Number:
        n = np.asarray(self.n, dtype=np.float64)
        return _plain(np.divide(self.s, n, out=np.zeros_like(n), where=n > 0))

    def residual_square(self, mean: Number) -> Number:
        """sum_j (S_j - mean N_j)^2: the spread of the units around ``mean``."""
        return _plain(np.maximum(self.ss - 2.0 * mean * self.sn + mean * mean * self.nn, 0.0))

    @property
    def variance(self) -> Number:
        """Cluster-robust variance of :attr:`mean` (inf with fewer than two units)."""
        k, n = np.asarray(self.k, dtype=np.float64), np.asarray(self.n, dtype=np.float64)
        ok = (k >= 2) & (n > 0)
        safe_k, safe_n = np.where(ok, k, 2.0), np.where(ok, n, 1.0)
        value = safe_k / (safe_k - 1.0) * self.residual_square(self.mean) / (safe_n * safe_n)
        return _plain(np.where(ok, value, np.inf))


def _plain(value: np.ndarray) -> Number:
    """A 0-d array as a float, anything else as it is."""
    return float(value) if np.ndim(value) == 0 else value


def of_rows(scores: np.ndarray, units: np.ndarray | None = None) -> Moments:
    """The moments of ``scores`` grouped by the integer codes ``units`` (None: each row
    is its own unit)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return Moments()
    if units is None:
        return Moments(
            float(scores.size),
            float(scores.size),
            float(scores.sum()),
            float((scores * scores).sum()),
            float(scores.sum()),
            float(scores.size),
        )
    _, codes = np.unique(np.asarray(units), return_inverse=True)
    sums = np.bincount(codes, weights=scores)
    counts = np.bincount(codes).astype(np.float64)
    return Moments(
        float(counts.size),
        float(counts.sum()),
        float(sums.sum()),
        float((sums * sums).sum()),
        float((sums * counts).sum()),
        float((counts * counts).sum()),
    )


def running(scores: np.ndarray, units: np.ndarray) -> np.ndarray:
    """The moments after each row, rows taken in the given order: an array of shape
    (len(scores), 6) whose row ``i`` holds (k, n, sum S, sum S^2, sum S N, sum N^2) over
    rows ``0..i``. ``units`` are integer codes. Vectorised: each row's change to the
    sums follows from its unit's sums before it."""
    scores = np.asarray(scores, dtype=np.float64)
    units = np.asarray(units)
    size = scores.size
    out = np.zeros((size, 6))
    if size == 0:
        return out
    order = np.argsort(units, kind="stable")  # rows of a unit together, in time order
    sorted_units, sorted_scores = units[order], scores[order]
    first = np.ones(size, dtype=bool)
    first[1:] = sorted_units[1:] != sorted_units[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(size), 0))
    cum_s = np.cumsum(sorted_scores)
    before_s = np.empty(size)
    before_s[order] = cum_s - sorted_scores - np.where(group_start > 0, cum_s[group_start - 1], 0.0)
    before_n = np.empty(size)
    before_n[order] = np.arange(size) - group_start
    s = scores
    out[:, 0] = np.cumsum(before_n == 0)
    out[:, 1] = np.arange(1, size + 1)
    out[:, 2] = np.cumsum(s)
    out[:, 3] = np.cumsum(2.0 * before_s * s + s * s)
    out[:, 4] = np.cumsum(before_s + s * before_n + s)
    out[:, 5] = np.cumsum(2.0 * before_n + 1.0)
    return out


def at(table: np.ndarray, count: int | np.ndarray) -> Moments:
    """The moments of the first ``count`` rows of a :func:`running` table (``count`` may
    be an array: then each field is an array, one entry per count)."""
    counts = np.asarray(count)
    if counts.ndim == 0:
        c = int(counts)
        return Moments() if c <= 0 else Moments(*(float(v) for v in table[c - 1]))
    padded = np.vstack([np.zeros((1, 6)), table])
    rows = padded[np.clip(counts, 0, table.shape[0])]
    return Moments(*(rows[:, i] for i in range(6)))
