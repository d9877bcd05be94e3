"""What the drift check needs from the current window: counts, not rows.

A :class:`WindowSummary` holds, per monitored feature, the counts per reference bin, the
missing count and the mean (numerics), the counts per level (categoricals), and for KS
either the sorted values themselves or, for a large window, how many values lie below
each point of a grid of reference quantiles (:func:`ks_grid`). The prediction log
computes it in SQL (``champion.predictionlog.drift_window``); :func:`summarize_frame`
computes the same from a table. The check itself (``champion.drift.detect``) reads only
the summary, so both paths give one verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from champion.drift.profile import (
    NumericProfile,
    ReferenceProfile,
    category_counts,
    numeric_values,
)
from champion.drift.stats import bin_counts

#: Points of the KS grid: the statistic read at them is within 1 / KS_GRID of the exact
#: one (and never above it, so the test stays conservative).
KS_GRID = 1_000


@dataclass(frozen=True, eq=False)
class NumericWindow:
    """One numeric feature of the window."""

    name: str
    rows: int
    missing: int
    counts: np.ndarray  # per reference bin (right-closed, as the profile's)
    mean: float | None  # of the present values
    values: np.ndarray | None = None  # the present values, sorted (exact KS)
    below: np.ndarray | None = None  # present values < each point of ks_grid (KS from it)

    @property
    def present(self) -> int:
        return self.rows - self.missing


@dataclass(frozen=True)
class CategoricalWindow:
    """One categorical feature of the window: counts per level (missing as MISSING)."""

    name: str
    counts: dict[str, int]


@dataclass(frozen=True, eq=False)
class WindowSummary:
    rows: int
    numeric: tuple[NumericWindow, ...]
    categorical: tuple[CategoricalWindow, ...]


def ks_grid(profile: NumericProfile, size: int = KS_GRID) -> np.ndarray:
    """Evenly spaced quantiles of the reference sample (distinct, increasing)."""
    sample = profile.sample
    if sample.size <= size:
        return np.unique(sample)
    idx = ((np.arange(size) + 0.5) * sample.size / size).astype(np.intp)
    return np.unique(sample[idx])


def summarize_frame(profile: ReferenceProfile, frame: pd.DataFrame) -> WindowSummary:
    """The summary of a table holding the profile's columns (exact values for KS)."""
    numeric = []
    for ref in profile.numeric:
        values = numeric_values(frame[ref.name], ref.name, "current")
        present = np.sort(values[~np.isnan(values)])
        numeric.append(
            NumericWindow(
                name=ref.name,
                rows=int(values.size),
                missing=int(values.size - present.size),
                counts=bin_counts(present, ref.edges),
                mean=float(present.mean()) if present.size else None,
                values=present,
            )
        )
    categorical = tuple(
        CategoricalWindow(ref.name, category_counts(frame[ref.name])) for ref in profile.categorical
    )
    return WindowSummary(len(frame), tuple(numeric), categorical)
