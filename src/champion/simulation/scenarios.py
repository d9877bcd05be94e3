"""What changes in the world after the stable period: the demo's scenarios.

A shift is a *selection*: the changed world sends more of some rows and fewer of others
(an exponential tilt on the drift columns), drawn without replacement from real rows.
So a covariate shift really is one — the distribution of the features moves while each
row keeps its own target — and nothing is made up.

* **concept shift** (the default story): the covariate shift below and, in one
  segment — the rows the shift makes common — the relation between features and target
  changes: a class label becomes another class, a regression target rises by half. A
  model retrained on the new traffic learns it; the champion cannot, so retraining helps.
* **covariate shift**: the drift columns' distribution moves, the relation stays. The
  drift check fires and a challenger is retrained, but it has nothing new to learn — and
  fewer rows than the champion had — so it is not better and is rejected.
* **no drift**: nothing changes; the drift check stays quiet and nothing is retrained.

Every function takes a seed (or needs no randomness) and works on copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from champion.errors import InvalidInputError
from champion.types import Task

#: Numeric segment: the rows above this quantile of the reference (they grow with a shift).
SEGMENT_QUANTILE = 0.75
_STANDARD_NORMAL = NormalDist()
#: Regression concept shift: the target in the segment is multiplied by this.
REGRESSION_FACTOR = 1.5


class Scenario(StrEnum):
    """The demo's stories (module docstring)."""

    CONCEPT_SHIFT = "concept-shift"
    COVARIATE_SHIFT = "covariate-shift"
    NO_DRIFT = "no-drift"


@dataclass(frozen=True)
class Segment:
    """Rows of one column's upper range (numeric) or of one category."""

    column: str
    above: float | None = None
    category: str | None = None

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.column]
        if self.above is not None:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            return np.nan_to_num(numbers, nan=-np.inf) > self.above
        return (values.astype("string") == self.category).fillna(False).to_numpy(dtype=bool)

    def describe(self) -> str:
        if self.above is not None:
            return f"{self.column} > {self.above:.4g}"
        return f"{self.column} = {self.category}"


def segment_of(reference: pd.DataFrame, column: str) -> Segment:
    """The segment of ``column`` that a drift makes larger: above the reference's upper
    quartile for a number (a shift moves rows up), its rarest category for a category
    (a drift that evens the categories out makes it common)."""
    values = reference[column]
    if ptypes.is_numeric_dtype(values) and not ptypes.is_bool_dtype(values):
        return Segment(column, above=float(np.nanquantile(values, SEGMENT_QUANTILE)))
    counts = values.astype("string").value_counts()
    if counts.empty:
        raise InvalidInputError(f"column {column!r} has no values to define a segment")
    return Segment(column, category=str(counts.index[-1]))


def relabel(frame: pd.DataFrame, target: str, task: Task, mask: np.ndarray) -> pd.DataFrame:
    """The concept change in the masked rows: each class becomes the next one (two
    classes swap), a number is multiplied by :data:`REGRESSION_FACTOR`."""
    out = frame.copy()
    if not mask.any():
        return out
    if task == Task.REGRESSION:
        values = out[target].to_numpy(dtype=np.float64).copy()
        values[mask] *= REGRESSION_FACTOR
        out[target] = values
        return out
    classes = sorted(pd.unique(frame[target].dropna()).tolist())
    if len(classes) < 2:
        return out
    following = {c: classes[(i + 1) % len(classes)] for i, c in enumerate(classes)}
    column = out[target].astype(object).to_numpy().copy()
    column[mask] = [following.get(v, v) for v in column[mask]]
    out[target] = pd.Series(column, index=out.index).astype(frame[target].dtype)
    return out


def tilt_weights(pool: pd.DataFrame, columns: Sequence[str], strength: float) -> np.ndarray:
    """Selection weights that shift ``columns``: for a number, ``exp(strength * z)`` with
    ``z`` its normal score (rank-based, so a heavy tail cannot dominate; missing: 0),
    which moves the normal scores up by about ``strength`` SDs; for a category,
    ``share ** -strength`` (1: every category equally likely, missing counted as one)."""
    log_w = np.zeros(len(pool))
    for name in columns:
        values = pool[name]
        if ptypes.is_numeric_dtype(values) and not ptypes.is_bool_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce")
            ranks = numbers.rank(method="average", pct=True).to_numpy(dtype=np.float64)
            n = int(numbers.notna().sum())
            # ranks in (0, 1] -> centred quantiles in (0, 1), then normal scores
            quantiles = (ranks * n - 0.5) / max(n, 1)
            z = np.nan_to_num(_normal_score(quantiles), nan=0.0)
            log_w += strength * z
        else:
            labels = values.astype("string").fillna("\x00missing")
            share = labels.map(labels.value_counts(normalize=True)).to_numpy(dtype=np.float64)
            log_w += -strength * np.log(share)
    return np.exp(log_w - log_w.max())


def _normal_score(q: np.ndarray) -> np.ndarray:
    """The standard normal quantile of each ``q`` in (0, 1); NaN elsewhere."""
    out = np.full(q.shape, np.nan)
    ok = np.isfinite(q) & (q > 0) & (q < 1)
    out[ok] = [_STANDARD_NORMAL.inv_cdf(v) for v in q[ok]]
    return out


@dataclass(frozen=True)
class World:
    """How traffic looks once the scenario's change has happened."""

    scenario: Scenario
    drift_cols: tuple[str, ...]
    strength: float
    target: str
    task: Task
    segment: Segment | None = None  # concept shift only

    def sample(self, pool: pd.DataFrame, n: int, *, seed: int) -> pd.DataFrame:
        """``n`` distinct rows of the changed world from ``pool`` (labels included):
        uniform without drift, a tilted selection otherwise (see the module docstring)."""
        if not 0 < n <= len(pool):
            raise InvalidInputError(f"cannot draw {n} distinct rows from {len(pool)}")
        rng = np.random.default_rng(seed)
        if self.scenario == Scenario.NO_DRIFT:
            idx = rng.choice(len(pool), size=n, replace=False)
        else:
            weights = tilt_weights(pool, self.drift_cols, self.strength)
            idx = rng.choice(len(pool), size=n, replace=False, p=weights / weights.sum())
        # a weighted draw comes out heaviest first: shuffle, so every stretch looks alike
        rows = pool.iloc[rng.permutation(idx)].reset_index(drop=True)
        if self.segment is None:
            return rows
        return relabel(rows, self.target, self.task, self.segment.mask(rows))

    def describe(self) -> str:
        if self.scenario == Scenario.NO_DRIFT:
            return "no drift: the traffic keeps looking like the training data"
        moved = f"the distribution of {', '.join(self.drift_cols)} shifts"
        if self.segment is None:
            return f"covariate shift: {moved}, the relation to the target stays"
        change = (
            f"{self.target} × {REGRESSION_FACTOR:g}"
            if self.task == Task.REGRESSION
            else f"{self.target} changes class"
        )
        return f"concept shift: {moved}; where {self.segment.describe()}, {change}"


def world_of(
    scenario: Scenario,
    reference: pd.DataFrame,
    *,
    drift_cols: Sequence[str],
    strength: float,
    target: str,
    task: Task,
) -> World:
    """The world of ``scenario``; a concept shift's segment is read off ``reference``."""
    if not drift_cols:
        raise InvalidInputError("a scenario needs at least one drift column")
    segment = None
    if scenario == Scenario.CONCEPT_SHIFT:
        segment = segment_of(reference, drift_cols[0])
    return World(scenario, tuple(drift_cols), strength, target, task, segment)
