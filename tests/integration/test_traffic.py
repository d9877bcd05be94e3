"""The dashboard's traffic figures counted in SQL (a real SQLite log and, when its
binaries are here, a PostgreSQL cluster): requests, model errors and latency per minute
and the latency quantiles, against counts and quantiles computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from champion.predictionlog import EventStore, sqlite_url
from champion.predictionlog.traffic import LATENCY_EDGES_MS, quantile

from log_helpers import plain_row
from servers import pg_cluster, postgres_available


def test_the_histogram_quantile_interpolates_within_a_bucket() -> None:
    counts = [0] * (len(LATENCY_EDGES_MS) + 1)
    counts[2], counts[3] = 50, 50  # (0.25, 0.5] and (0.5, 1.0] ms
    assert quantile(counts, 0.5) == pytest.approx(0.5)
    assert quantile(counts, 0.95) == pytest.approx(0.5 + 0.5 * 45 / 50)
    assert quantile([0] * len(counts), 0.5) is None
    counts[-1] = 1000  # the open bucket answers its lower edge
    assert quantile(counts, 0.99) == LATENCY_EDGES_MS[-1]


def _traffic(store: EventStore) -> None:
    store.migrate()
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    rows = []
    for minutes_ago, n, latency in ((50, 3, 0.4), (10, 5, 2.0), (2, 2, 7.0), (90, 4, 1.0)):
        for k in range(n):
            row = plain_row(store, "e", user_id=f"u{k}")
            row["created_at"] = now - timedelta(minutes=minutes_ago)
            row["latency_ms"] = latency
            if minutes_ago == 10 and k == 0:
                row["failed_b"] = 1  # the challenger failed on one row
            rows.append(row)
    store.insert_predictions(rows)
    store.record_failure(experiment_id="e", variant="B", model_version="2", requests=3, error="x")
    seen = store.traffic(timedelta(hours=1))
    assert seen.requests == 10  # the row 90 minutes ago is out of the span
    # three minutes of rows, and the current one with the failures table's requests only
    assert [m.requests for m in seen.minutes] == [3, 5, 2, 0]
    by_start = {m.start: m for m in seen.minutes}
    ten = (now - timedelta(minutes=10)).replace(second=0)
    assert by_start[ten].failed == 1 and by_start[ten].mean_latency_ms == pytest.approx(2.0)
    assert seen.failed == 1 + 3  # the failures table's requests too, in the current minute
    # 3 rows at 0.4 ms, 5 at 2.0, 2 at 7.0: p50 is in (1.0, 2.5], p95 in (5, 10]
    assert 1.0 < seen.latency_quantiles_ms["p50"] <= 2.5
    assert 5.0 < seen.latency_quantiles_ms["p95"] <= 10.0
    assert seen.rate_per_s == pytest.approx(10 / 3600)


def test_traffic_on_sqlite(tmp_path) -> None:
    _traffic(EventStore(sqlite_url(tmp_path / "events.db"), model_name="m"))


@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL binaries")
def test_traffic_on_postgresql() -> None:
    with pg_cluster(("champion",)) as pg:
        store = EventStore(pg.url("champion"), model_name="m")
        try:
            _traffic(store)
        finally:
            store.dispose()
