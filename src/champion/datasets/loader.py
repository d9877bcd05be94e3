"""Load the bundled datasets or any CSV/Parquet table, and infer its schema.

The schema says which column is the target, which task it implies, and which columns
are numeric or categorical features. Identifier-like text columns (nearly one distinct
value per row, such as a passenger's name) are left out of the features and listed in
``Schema.dropped`` so the choice is visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
from pandas.api import types as ptypes

from champion.errors import InvalidInputError, NotFoundError
from champion.types import Task, parse

#: Bundled datasets: name -> (file inside the package, target column, task).
BUNDLED: dict[str, tuple[str, str, Task]] = {
    "titanic": ("titanic.csv.gz", "Survived", Task.CLASSIFICATION),
    "diamonds": ("diamonds.csv.gz", "price", Task.REGRESSION),
}

#: A text column with more distinct values than this share of its rows is an identifier.
IDENTIFIER_SHARE = 0.5
#: ... as long as it also has more than this many distinct values.
IDENTIFIER_MIN_LEVELS = 50
#: A numeric target with at most this many integer levels is a class label.
MAX_CLASS_LEVELS = 20


@dataclass(frozen=True)
class Schema:
    """Roles of the columns of a table."""

    target: str | None
    task: Task | None
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dropped: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[str, ...]:
        """All feature columns, numeric first."""
        return self.numeric + self.categorical

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "task": self.task,
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "dropped": list(self.dropped),
        }


@dataclass(frozen=True)
class Dataset:
    """A table and its schema."""

    name: str
    frame: pd.DataFrame = field(repr=False)
    schema: Schema
    source: str = ""  # where the rows came from (a file path), for lineage records

    @property
    def features(self) -> pd.DataFrame:
        return self.frame.loc[:, list(self.schema.features)]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally gzip-compressed) or Parquet file; errors name the file."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"file not found: {path}")
    if path.is_dir():
        raise InvalidInputError(f"{path} is a directory; give a .csv or .parquet file")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif suffixes.endswith((".csv", ".csv.gz", ".txt")):
            frame = pd.read_csv(path)
        else:
            raise InvalidInputError(
                f"{path}: unsupported file type {path.suffix!r}; use .csv, .csv.gz or .parquet"
            )
    except InvalidInputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InvalidInputError(f"{path} is empty: it has no header and no rows") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"cannot read {path}: {reason}") from exc
    if frame.empty:
        raise InvalidInputError(f"{path} has no rows")
    return frame


def _is_identifier(column: pd.Series) -> bool:
    levels = column.nunique(dropna=True)
    return levels > IDENTIFIER_MIN_LEVELS and levels > IDENTIFIER_SHARE * column.notna().sum()


def infer_task(target: pd.Series) -> Task:
    """Classification for labels (text, booleans, few integer levels), else regression."""
    if ptypes.is_bool_dtype(target) or not ptypes.is_numeric_dtype(target):
        return Task.CLASSIFICATION
    values = target.dropna()
    integral = bool((values == values.round()).all())
    if integral and values.nunique() <= MAX_CLASS_LEVELS:
        return Task.CLASSIFICATION
    return Task.REGRESSION


def infer_schema(
    frame: pd.DataFrame,
    target: str | None = None,
    task: Task | None = None,
    features: list[str] | tuple[str, ...] | None = None,
) -> Schema:
    """Infer the roles of the columns of ``frame``.

    ``features`` restricts the features to the named columns (each must exist). Numeric
    dtypes are numeric features; booleans, strings and categories are categorical;
    identifier-like text, datetimes and all-missing columns are dropped.
    """
    columns = list(frame.columns)
    if target is not None and target not in frame.columns:
        raise InvalidInputError(
            f"target column {target!r} not found; columns are: {', '.join(map(str, columns))}"
        )
    if features is not None:
        unknown = [c for c in features if c not in frame.columns]
        if unknown:
            raise InvalidInputError(
                f"unknown column(s) {', '.join(map(repr, unknown))}; "
                f"columns are: {', '.join(map(str, columns))}"
            )
        candidates = [c for c in features if c != target]
    else:
        candidates = [c for c in columns if c != target]

    numeric: list[str] = []
    categorical: list[str] = []
    dropped: list[str] = []
    for name in candidates:
        col = frame[name]
        explicit = features is not None
        if col.isna().all() or ptypes.is_datetime64_any_dtype(col):
            dropped.append(name)
        elif ptypes.is_bool_dtype(col):
            categorical.append(name)
        elif ptypes.is_numeric_dtype(col):
            numeric.append(name)
        elif not explicit and _is_identifier(col):
            dropped.append(name)
        else:
            categorical.append(name)

    if not numeric and not categorical:
        raise InvalidInputError("no usable feature column: give --features or another table")
    inferred_task = None
    if target is not None:
        inferred_task = parse(Task, task, "task") if task else infer_task(frame[target])
    return Schema(
        target=target,
        task=inferred_task,
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        dropped=tuple(dropped),
    )


def load_dataset(name: str) -> Dataset:
    """Load a bundled dataset (``titanic`` or ``diamonds``) with its schema."""
    key = name.lower()
    if key not in BUNDLED:
        raise NotFoundError(
            f"unknown dataset {name!r}; bundled datasets are: {', '.join(sorted(BUNDLED))}"
        )
    filename, target, task = BUNDLED[key]
    with resources.as_file(resources.files("champion.datasets") / "data" / filename) as path:
        frame = pd.read_csv(path)
        source = str(path)
    schema = infer_schema(frame, target=target, task=task)
    return Dataset(name=key, frame=frame, schema=schema, source=source)


def load_data(
    path: str | Path,
    target: str | None = None,
    task: Task | None = None,
    features: list[str] | tuple[str, ...] | None = None,
) -> Dataset:
    """Load any CSV/Parquet table and infer its schema (``target`` optional)."""
    frame = read_table(path)
    return Dataset(
        name=Path(path).name.split(".")[0],
        frame=frame,
        schema=infer_schema(frame, target=target, task=task, features=features),
        source=str(Path(path).resolve()),
    )
