"""The reference profile: everything the drift check needs from the training data.

Computed once from the reference frame and serializable to JSON, so that it can be
stored with a model version and the reference data need not be read again:

* numeric feature: the quantile bin edges and the reference counts per bin, the
  missing count, summary statistics, and the sorted values that KS compares against
  (all of them up to ``ks_sample_size``; above that an evenly spaced quantile sketch of
  that size, whose ECDF is within ``1 / ks_sample_size`` of the full one — the KS
  p-value then uses the sketch size, which is conservative);
* categorical feature: the count of each category and the missing count.

Missing values are part of the comparison: numeric PSI has a "missing" bin and the
categorical tests treat missing as one more level, so a feed that starts dropping a
field is reported as drift. KS uses the non-missing values only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from champion.drift.stats import bin_counts, quantile_edges
from champion.errors import InvalidInputError
from champion.types import MISSING

#: Largest reference sample kept for KS (see the module docstring).
KS_SAMPLE_SIZE = 50_000
PROFILE_VERSION = 1


def numeric_values(column: pd.Series, name: str, side: str) -> np.ndarray:
    """The values of a numeric feature as float64 (NaN for missing).

    A column holding anything that is not a number raises InvalidInputError naming
    the column, the first offending value and its row.
    """
    if ptypes.is_bool_dtype(column):
        raise InvalidInputError(
            f"column {name!r} of the {side} data is boolean but numeric in the reference"
        )
    if ptypes.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    converted = pd.to_numeric(column, errors="coerce")
    bad = converted.isna() & column.notna()
    if bad.any():
        row = bad.to_numpy().nonzero()[0][0]
        raise InvalidInputError(
            f"column {name!r} of the {side} data must be numeric but holds "
            f"{column.iloc[row]!r} (row {row + 1}); clean the data or monitor it as categorical"
        )
    return converted.to_numpy(dtype=np.float64, na_value=np.nan)


def category_counts(column: pd.Series) -> dict[str, int]:
    """Counts per category (as strings), missing values counted under MISSING."""
    counts = column.value_counts(dropna=True, sort=False)
    result = {str(k): int(v) for k, v in counts.items() if v > 0}
    missing = int(column.isna().sum())
    if missing:
        result[MISSING] = result.get(MISSING, 0) + missing
    return result


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Reference state of one numeric feature."""

    name: str
    edges: np.ndarray  # inner edges, strictly increasing
    counts: np.ndarray  # per right-closed bin, len(edges) + 1
    missing: int
    sample: np.ndarray  # sorted reference values (or quantile sketch) for KS
    n: int  # non-missing values
    mean: float
    std: float
    minimum: float
    maximum: float

    @property
    def sample_is_full(self) -> bool:
        return self.sample.size == self.n

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "missing": self.missing,
            "sample": self.sample.tolist(),
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "min": self.minimum,
            "max": self.maximum,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericProfile:
        return cls(
            name=data["name"],
            edges=np.asarray(data["edges"], dtype=np.float64),
            counts=np.asarray(data["counts"], dtype=np.int64),
            missing=int(data["missing"]),
            sample=np.asarray(data["sample"], dtype=np.float64),
            n=int(data["n"]),
            mean=float(data["mean"]),
            std=float(data["std"]),
            minimum=float(data["min"]),
            maximum=float(data["max"]),
        )


@dataclass(frozen=True)
class CategoricalProfile:
    """Reference state of one categorical feature (counts include MISSING if any)."""

    name: str
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "counts": dict(self.counts)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalProfile:
        return cls(name=data["name"], counts={str(k): int(v) for k, v in data["counts"].items()})


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """The reference side of every drift check, built by :func:`build_profile`."""

    n_rows: int
    bins: int
    numeric: tuple[NumericProfile, ...]
    categorical: tuple[CategoricalProfile, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.numeric) + tuple(p.name for p in self.categorical)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PROFILE_VERSION,
            "n_rows": self.n_rows,
            "bins": self.bins,
            "numeric": [p.to_dict() for p in self.numeric],
            "categorical": [p.to_dict() for p in self.categorical],
            "meta": self.meta,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        if data.get("version") != PROFILE_VERSION:
            raise InvalidInputError(
                f"unsupported reference profile version {data.get('version')!r}; "
                f"expected {PROFILE_VERSION}"
            )
        return cls(
            n_rows=int(data["n_rows"]),
            bins=int(data["bins"]),
            numeric=tuple(NumericProfile.from_dict(p) for p in data["numeric"]),
            categorical=tuple(CategoricalProfile.from_dict(p) for p in data["categorical"]),
            meta=dict(data.get("meta", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"reference profile is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def _sketch(sorted_values: np.ndarray, size: int) -> np.ndarray:
    if sorted_values.size <= size:
        return sorted_values
    idx = ((np.arange(size) + 0.5) * sorted_values.size / size).astype(np.intp)
    return sorted_values[idx]


def _numeric_profile(name: str, column: pd.Series, bins: int, ks_size: int) -> NumericProfile:
    values = numeric_values(column, name, "reference")
    present = values[~np.isnan(values)]
    if present.size == 0:
        raise InvalidInputError(f"numeric column {name!r} of the reference data has no values")
    ordered = np.sort(present)
    edges = quantile_edges(ordered, bins)
    return NumericProfile(
        name=name,
        edges=edges,
        counts=bin_counts(ordered, edges),
        missing=int(values.size - present.size),
        sample=_sketch(ordered, ks_size),
        n=int(present.size),
        mean=float(present.mean()),
        std=float(present.std()),
        minimum=float(ordered[0]),
        maximum=float(ordered[-1]),
    )


def build_profile(
    frame: pd.DataFrame,
    numeric: list[str] | tuple[str, ...],
    categorical: list[str] | tuple[str, ...] = (),
    *,
    bins: int = 10,
    ks_sample_size: int = KS_SAMPLE_SIZE,
    meta: dict[str, Any] | None = None,
) -> ReferenceProfile:
    """Profile the reference ``frame`` for the given numeric and categorical features."""
    if bins < 2:
        raise InvalidInputError(f"bins must be at least 2, got {bins}")
    if ks_sample_size < 100:
        raise InvalidInputError(f"ks_sample_size must be at least 100, got {ks_sample_size}")
    if frame.empty:
        raise InvalidInputError("the reference data has no rows")
    missing = [c for c in (*numeric, *categorical) if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"reference data has no column(s) {', '.join(map(repr, missing))}; "
            f"columns are: {', '.join(map(str, frame.columns))}"
        )
    if not numeric and not categorical:
        raise InvalidInputError("no feature to monitor")
    return ReferenceProfile(
        n_rows=len(frame),
        bins=bins,
        numeric=tuple(_numeric_profile(c, frame[c], bins, ks_sample_size) for c in numeric),
        categorical=tuple(
            CategoricalProfile(name=c, counts=category_counts(frame[c])) for c in categorical
        ),
        meta=dict(meta or {}),
    )
