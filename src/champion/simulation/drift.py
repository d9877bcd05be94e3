"""Traffic simulation: sample rows and inject drift into chosen columns, with a seed.

Two kinds of drift:

* the **original router's** (:func:`router_drift`): a categorical column gets values
  resampled uniformly from its categories; a numeric column has half of its rows
  multiplied by a factor drawn from U(0.1, 2.0);
* **controlled shifts** that dial the effect size: :func:`shift_numeric` moves a numeric
  column's mean by ``k`` standard deviations; :func:`reweight_categories` resamples rows
  so that chosen categories become more or less frequent (the joint distribution of the
  other columns given the category is kept, as in a real covariate shift).

Every function takes a ``seed`` (or needs no randomness) and never touches the global
random state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from champion.errors import InvalidInputError
from champion.types import MISSING


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise InvalidInputError(
            f"unknown drift column(s) {', '.join(map(repr, unknown))}; "
            f"columns are: {', '.join(map(str, frame.columns))}"
        )


def _is_numeric(column: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(column) and not ptypes.is_bool_dtype(column)


def sample_rows(
    frame: pd.DataFrame, n: int, *, seed: int, replace: bool | None = None
) -> pd.DataFrame:
    """``n`` rows drawn at random (with replacement when ``n`` exceeds the table)."""
    if n <= 0:
        raise InvalidInputError(f"number of rows must be positive, got {n}")
    if frame.empty:
        raise InvalidInputError("cannot sample from an empty table")
    replace = n > len(frame) if replace is None else replace
    if not replace and n > len(frame):
        raise InvalidInputError(f"cannot draw {n} rows without replacement from {len(frame)}")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(frame), size=n, replace=replace)
    return frame.iloc[idx].reset_index(drop=True)


def router_drift(frame: pd.DataFrame, columns: Sequence[str], *, seed: int) -> pd.DataFrame:
    """The original data router's drift, applied to a copy of ``frame``."""
    _check_columns(frame, columns)
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for name in columns:
        col = out[name]
        if _is_numeric(col):
            values = col.to_numpy(dtype=np.float64, na_value=np.nan).copy()
            chosen = rng.random(len(values)) < 0.5
            values[chosen] *= rng.uniform(0.1, 2.0, size=int(chosen.sum()))
            out[name] = values
        else:
            categories = col.dropna().unique()
            if len(categories) == 0:
                continue
            picked = categories[rng.integers(0, len(categories), size=len(col))]
            out[name] = pd.Series(picked, index=out.index, dtype=col.dtype)
    return out


def shift_numeric(frame: pd.DataFrame, columns: Sequence[str], k_sd: float) -> pd.DataFrame:
    """Add ``k_sd`` standard deviations (of each column) to the numeric ``columns``."""
    _check_columns(frame, columns)
    out = frame.copy()
    for name in columns:
        col = out[name]
        if not _is_numeric(col):
            raise InvalidInputError(f"column {name!r} is not numeric; use reweight_categories")
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        out[name] = values + k_sd * float(np.nanstd(values))
    return out


def reweight_categories(
    frame: pd.DataFrame,
    column: str,
    weights: Mapping[str, float],
    *,
    seed: int,
    n: int | None = None,
) -> pd.DataFrame:
    """Resample rows so that category ``c`` of ``column`` is ``weights[c]`` times as likely.

    Categories absent from ``weights`` keep weight 1. Returns ``n`` rows (default: as
    many as ``frame``), drawn with replacement.
    """
    _check_columns(frame, [column])
    bad = {k: w for k, w in weights.items() if not (w >= 0 and np.isfinite(w))}
    if bad:
        raise InvalidInputError(f"weights must be finite and >= 0, got {bad}")
    keys = frame[column].astype("string").fillna(MISSING)
    row_weights = keys.map(lambda k: float(weights.get(k, 1.0))).to_numpy(dtype=np.float64)
    if row_weights.sum() <= 0:
        raise InvalidInputError("every row has weight 0; give at least one positive weight")
    rng = np.random.default_rng(seed)
    size = len(frame) if n is None else n
    idx = rng.choice(len(frame), size=size, replace=True, p=row_weights / row_weights.sum())
    return frame.iloc[idx].reset_index(drop=True)


def make_traffic(
    frame: pd.DataFrame,
    n: int,
    *,
    seed: int,
    drift_cols: Sequence[str] = (),
    shift_sd: float | None = None,
) -> pd.DataFrame:
    """``n`` rows of simulated traffic, drifted in ``drift_cols``.

    With ``shift_sd`` the numeric drift columns are shifted by that many standard
    deviations (categorical ones get the router's uniform resampling); without it the
    original router's drift is applied to every drift column.
    """
    rows = sample_rows(frame, n, seed=seed)
    if not drift_cols:
        return rows
    _check_columns(rows, drift_cols)
    if shift_sd is None:
        return router_drift(rows, drift_cols, seed=seed + 1)
    numeric = [c for c in drift_cols if _is_numeric(rows[c])]
    other = [c for c in drift_cols if c not in numeric]
    rows = shift_numeric(rows, numeric, shift_sd) if numeric else rows
    return router_drift(rows, other, seed=seed + 1) if other else rows
