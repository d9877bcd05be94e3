"""The drift check's window counted in SQL gives the verdict and every statistic of the
row-based check on the same rows (SQLite and PostgreSQL), including ints and floats,
missing keys and nulls, booleans, a level the reference never saw and a shifted
feature; by user, each user's latest row once; and KS from the grid on a large window
is within 1/1000 of the exact statistic, never above it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from champion.datasets import Schema
from champion.drift import DriftConfig, build_profile, check_drift, check_summary
from champion.lifecycle.drift_check import served_frame
from champion.predictionlog import EventStore
from champion.predictionlog.drift_window import window_summary
from champion.types import DriftUnit

from servers import pg_cluster, postgres_available

START = datetime(2026, 10, 1, tzinfo=UTC)
NUMERIC = ("age", "fare", "rooms")
CATEGORICAL = ("city", "member")


def reference(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3_000
    return pd.DataFrame(
        {
            "age": rng.normal(40, 12, n).round(1),
            "fare": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(3, 1, n)),
            "rooms": rng.poisson(2, n).astype(float),  # discrete: ties at every edge
            "city": rng.choice(["north", "south", "west"], n, p=[0.5, 0.3, 0.2]),
            "member": rng.choice(["yes", "no"], n),
        }
    )


def served(n: int, seed: int, shift: float) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        row: dict = {
            "age": round(float(rng.normal(40 + shift, 12)), 1),
            "rooms": int(rng.poisson(2)),  # logged as a JSON integer
            "city": str(rng.choice(["north", "south", "west", "east"], p=[0.45, 0.3, 0.2, 0.05])),
            "member": bool(rng.random() < 0.5) if i % 7 else None,
        }
        if rng.random() > 0.15:  # fare missing now and then: no key at all
            row["fare"] = float(rng.lognormal(3, 1))
        if i % 11 == 0:
            row["age"] = None
        rows.append(row)
    return rows


def log(
    store: EventStore, features: list[dict], users: list[str | None] | None = None, start: int = 0
) -> None:
    import orjson

    users = users or [None] * len(features)

    rows = [
        {
            "request_id": str(uuid.uuid4()), "created_at": START + timedelta(seconds=start + i),
            "experiment_id": "e", "user_id": users[i], "variant": "A",
            "model_name": store.model_name, "model_version": "1",
            "features": orjson.dumps(f).decode(), "prediction": "1", "prediction_num": 1.0,
            "probability": 0.5, "latency_ms": 1.0, "phase": None, "version_a": "1",
            "prediction_a": "1", "prediction_a_num": 1.0, "probability_a": 0.5,
            "latency_a_ms": 1.0, "failed_a": 0, "version_b": None, "prediction_b": None,
            "prediction_b_num": None, "probability_b": None, "latency_b_ms": None,
            "failed_b": 0,
        }
        for i, f in enumerate(features)
    ]  # fmt: skip
    store.insert_predictions(rows)


def equal_results(sql, rows) -> None:
    assert sql.drifted == rows.drifted and sql.n_current == rows.n_current
    assert sql.drifted_features == rows.drifted_features
    for a, b in zip(sql.features, rows.features, strict=True):
        assert a.feature == b.feature and a.bins == b.bins and a.reason == b.reason
        for field in ("psi", "statistic", "p_value", "missing_current"):
            assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-9, abs=1e-12)
        assert a.current_shares == pytest.approx(b.current_shares, rel=1e-12)
        if b.mean_current is not None:
            assert a.mean_current == pytest.approx(b.mean_current, rel=1e-9)


def check_both(store: EventStore, seed: int) -> None:
    schema = Schema(target="y", task=None, numeric=NUMERIC, categorical=CATEGORICAL)
    profile = build_profile(reference(seed), NUMERIC, CATEGORICAL)
    config = DriftConfig()
    log(store, served(4_000, seed, shift=0.0) + served(1_500, seed + 1, shift=6.0))
    for limit, since in ((1_000, None), (5_500, None), (2_000, START + timedelta(seconds=5_000))):
        records = store.served_features(limit=limit, since=since)
        rows = check_drift(profile, served_frame(records, schema), config)
        summary = store.served_summary(profile, limit=limit, since=since)
        equal_results(check_summary(profile, summary, config), rows)
    # the shifted rows are the latest: the window of 1,000 sees age drift, the rows agree
    window = check_drift(profile, served_frame(store.served_features(limit=1_000), schema))
    assert "age" in window.drifted_features and "city" in window.drifted_features


def check_users(store: EventStore, seed: int) -> None:
    """By user, the window is each user's latest row among the latest rows (rows without
    a user count each); by row, every row."""
    schema = Schema(target="y", task=None, numeric=NUMERIC, categorical=CATEGORICAL)
    profile = build_profile(reference(seed), NUMERIC, CATEGORICAL)
    rng = np.random.default_rng(seed)
    features = served(6_000, seed + 2, shift=0.0)
    users = [None if rng.random() < 0.1 else f"u{rng.integers(400)}" for _ in features]
    log(store, features, users, start=10_000)  # after check_both's rows, without users
    ordered = pd.DataFrame({"user": users, "i": range(len(users))}).iloc[::-1]
    for limit in (100, 300, 1_000):
        recent = ordered.head(limit)
        unit = recent["user"].fillna("row:" + recent["i"].astype(str))
        chosen = recent[~unit.duplicated()]["i"]
        frame = served_frame([features[i] for i in chosen], schema)
        by_user = store.served_summary(profile, limit=limit, unit=DriftUnit.USER)
        equal_results(check_summary(profile, by_user), check_drift(profile, frame))
        assert by_user.rows == chosen.size < limit
        by_row = store.served_summary(profile, limit=limit, unit=DriftUnit.ROW)
        assert by_row.rows == limit
        rows = served_frame(list(reversed(features[-limit:])), schema)
        equal_results(check_summary(profile, by_row), check_drift(profile, rows))


def test_the_sql_window_equals_the_rows_on_sqlite(tmp_path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}", model_name="fares")
    store.migrate()
    check_both(store, seed=3)
    check_users(store, seed=3)
    store.dispose()


@pytest.mark.skipif(not postgres_available(), reason="apt-get install postgresql")
def test_the_sql_window_equals_the_rows_on_postgresql_and_the_grid_bounds_ks() -> None:
    with pg_cluster(("events",)) as pg:
        store = EventStore(pg.url("events"), model_name="fares")
        store.migrate()
        check_both(store, seed=5)
        check_users(store, seed=5)
        profile = build_profile(reference(5), NUMERIC, CATEGORICAL)
        with store.engine.begin() as conn:
            exact = window_summary(conn, "fares", profile, limit=5_500)
            grid = window_summary(conn, "fares", profile, limit=5_500, exact_up_to=100)
        a, b = check_summary(profile, exact), check_summary(profile, grid)
        assert all(w.below is not None and w.values is None for w in grid.numeric)
        for name in NUMERIC:
            d_exact, d_grid = a.feature(name).statistic, b.feature(name).statistic
            assert d_exact - 1e-3 - 1e-12 <= d_grid <= d_exact + 1e-12, (name, d_exact, d_grid)
            assert b.feature(name).p_value >= a.feature(name).p_value - 1e-12
            assert b.feature(name).psi == a.feature(name).psi
        store.dispose()
