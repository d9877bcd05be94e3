"""The drift check's window summarized by the database: counts per reference bin, per
level, missing counts and means, computed in SQL — not the rows.

The features are JSON text (a model's features are whatever its clients send; typed
columns would need a migration per model). The window — the latest ``limit`` rows of
the model, or each user's latest row among them — is parsed once into a
temporary table of typed columns (PostgreSQL JSONB operators, SQLite's JSON1
functions); each feature's counts are then one GROUP BY over a plain column. KS needs
more than bins: up to ``exact_up_to`` present values the sorted values themselves are
read (one float per row, exact KS); above that, on PostgreSQL, the counts below each
point of a grid of reference quantiles (``width_bucket``), from which KS is within
1/1000 of exact and conservative (``champion.drift.stats.ks_test_grid``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import text

from champion.drift import (
    CategoricalWindow,
    NumericWindow,
    ReferenceProfile,
    WindowSummary,
    ks_grid,
)
from champion.types import MISSING, DriftUnit

TABLE = "champion_drift_values"
#: Present values up to which KS reads them all (the reference keeps as many).
EXACT_UP_TO = 50_000


class _Dialect:
    """The SQL that differs: reading a JSON field as a number or a level, binning."""

    def __init__(self, name: str) -> None:
        self.postgres = name == "postgresql"

    def source(self) -> str:
        return "features::jsonb AS f" if self.postgres else "features AS f"

    def key(self, name: str) -> str:
        return name if self.postgres else '$."' + name.replace('"', '""') + '"'

    def number(self, p: str) -> str:
        if self.postgres:
            return f"CASE WHEN jsonb_typeof(f -> :{p}) = 'number' THEN (f ->> :{p})::float8 END"
        return f"CASE WHEN json_type(f, :{p}) IN ('integer', 'real') THEN json_extract(f, :{p}) END"

    def level(self, p: str) -> str:
        if self.postgres:
            return (
                f"CASE jsonb_typeof(f -> :{p}) WHEN 'string' THEN f ->> :{p} "
                f"WHEN 'number' THEN f ->> :{p} WHEN 'boolean' THEN "
                f"CASE WHEN f ->> :{p} = 'true' THEN 'True' ELSE 'False' END END"
            )
        return (
            f"CASE json_type(f, :{p}) WHEN 'text' THEN json_extract(f, :{p}) "
            f"WHEN 'integer' THEN CAST(json_extract(f, :{p}) AS TEXT) "
            f"WHEN 'real' THEN CAST(json_extract(f, :{p}) AS TEXT) "
            "WHEN 'true' THEN 'True' WHEN 'false' THEN 'False' END"
        )

    def bin(self, column: str, edges: np.ndarray, params: dict[str, Any]) -> str:
        """The right-closed bin of ``column``: how many edges lie below it."""
        if edges.size == 0:
            return "0"
        if self.postgres:  # width_bucket counts thresholds <= x: mirror it for "< x"
            params["edges"] = [-float(e) for e in edges[::-1]]
            return f"{edges.size} - width_bucket(-{column}, CAST(:edges AS float8[]))"
        cases = []
        for i, edge in enumerate(edges):
            params[f"e{i}"] = float(edge)
            cases.append(f"WHEN {column} <= :e{i} THEN {i}")
        return f"CASE {' '.join(cases)} ELSE {edges.size} END"


def _window(where: str, unit: DriftUnit) -> str:
    """The window's rows: the latest ``:limit`` rows — by user, the latest row of each
    user among them (rows without a user count once each)."""
    latest = "SELECT {columns} FROM predictions WHERE " + where + " ORDER BY created_at DESC"
    if unit == DriftUnit.ROW:
        return latest.format(columns="features") + " LIMIT :limit"
    recent = latest.format(columns="features, created_at, user_id, request_id")
    return (
        "SELECT features FROM (SELECT features, ROW_NUMBER() OVER (PARTITION BY "
        "COALESCE(user_id, request_id) ORDER BY created_at DESC) AS nth FROM ("
        f"{recent} LIMIT :limit) s) r WHERE nth = 1"
    )


def _fill(
    conn: Any, d: _Dialect, profile: ReferenceProfile, model: str, limit: int,
    since: datetime | None, unit: DriftUnit,
) -> None:  # fmt: skip
    """The window's features, parsed once into typed columns n0.., c0.."""
    real = "DOUBLE PRECISION" if d.postgres else "REAL"
    columns = [f"n{i} {real}" for i in range(len(profile.numeric))]
    columns += [f"c{j} TEXT" for j in range(len(profile.categorical))]
    suffix = " ON COMMIT DROP" if d.postgres else ""
    conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
    conn.execute(text(f"CREATE TEMPORARY TABLE {TABLE} (k INTEGER, {', '.join(columns)}){suffix}"))
    params: dict[str, Any] = {"model": model, "limit": limit}
    exprs = ["1"]
    for i, ref in enumerate(profile.numeric):
        params[f"n{i}"] = d.key(ref.name)
        exprs.append(d.number(f"n{i}"))
    for j, ref in enumerate(profile.categorical):
        params[f"c{j}"] = d.key(ref.name)
        exprs.append(d.level(f"c{j}"))
    where = "model_name = :model"
    if since is not None:
        where += " AND created_at >= :since"
        params["since"] = since
    names = ["k", *(c.split()[0] for c in columns)]
    conn.execute(
        text(
            f"INSERT INTO {TABLE} ({', '.join(names)}) SELECT {', '.join(exprs)} FROM "
            f"(SELECT {d.source()} FROM ({_window(where, unit)}) u) w"
        ),
        params,
    )


def _numeric(
    conn: Any, d: _Dialect, i: int, profile: ReferenceProfile, rows: int, present: int,
    mean: float | None, exact_up_to: int,
) -> NumericWindow:  # fmt: skip
    ref = profile.numeric[i]
    column, params = f"n{i}", {}
    bin_sql = d.bin(column, ref.edges, params)
    counts = np.zeros(ref.edges.size + 1, dtype=np.int64)
    query = f"SELECT {bin_sql}, count(*) FROM {TABLE} WHERE {column} IS NOT NULL GROUP BY 1"
    for index, n in conn.execute(text(query), params):
        counts[int(index)] = int(n)
    missing = rows - present
    if present <= exact_up_to or not d.postgres:
        query = f"SELECT {column} FROM {TABLE} WHERE {column} IS NOT NULL ORDER BY 1"
        values = np.fromiter(conn.execute(text(query)).scalars(), dtype=np.float64, count=present)
        return NumericWindow(ref.name, rows, missing, counts, mean, values=values)
    grid = ks_grid(ref)
    query = (
        f"SELECT width_bucket({column}, CAST(:grid AS float8[])), count(*) FROM {TABLE} "
        f"WHERE {column} IS NOT NULL GROUP BY 1"
    )
    buckets = np.zeros(grid.size + 1, dtype=np.int64)  # bucket b: b grid points <= x
    for bucket, n in conn.execute(text(query), {"grid": grid.tolist()}):
        buckets[int(bucket)] = int(n)
    below = np.cumsum(buckets)[:-1]  # values < grid[j] are those in buckets 0..j
    return NumericWindow(ref.name, rows, missing, counts, mean, below=below)


def window_summary(
    conn: Any,
    model: str,
    profile: ReferenceProfile,
    *,
    limit: int,
    since: datetime | None = None,
    exact_up_to: int = EXACT_UP_TO,
    unit: DriftUnit = DriftUnit.USER,
) -> WindowSummary:
    """The counts the drift check needs of ``model``'s latest ``limit`` rows — by
    ``unit`` user, of each user's latest row among them: a user's rows resemble each
    other, so counting them all would make ten rows of one user look like ten
    independent observations (the tests' levels assume independent ones)."""
    d = _Dialect(conn.dialect.name)
    _fill(conn, d, profile, model, limit, since, unit)
    n_numeric = len(profile.numeric)
    aggregates = ["count(*)"]
    aggregates += [f"count(n{i}), avg(n{i})" for i in range(n_numeric)]
    totals = conn.execute(text(f"SELECT {', '.join(aggregates)} FROM {TABLE}")).one()
    rows = int(totals[0])
    numeric = []
    if rows:
        for i in range(n_numeric):
            present, mean = int(totals[1 + 2 * i]), totals[2 + 2 * i]
            mean = float(mean) if mean is not None else None
            numeric.append(_numeric(conn, d, i, profile, rows, present, mean, exact_up_to))
    categorical = []
    for j, ref in enumerate(profile.categorical):
        query = f"SELECT c{j}, count(*) FROM {TABLE} GROUP BY 1"
        counts: dict[str, int] = {}
        for value, n in conn.execute(text(query)):
            level = MISSING if value is None else str(value)
            counts[level] = counts.get(level, 0) + int(n)
        categorical.append(CategoricalWindow(ref.name, counts))
    conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
    return WindowSummary(rows, tuple(numeric), tuple(categorical))
