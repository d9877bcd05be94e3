"""A PostgreSQL prediction log is partitioned by day: rows and their labels land in
their day's partitions, archiving a day detaches and drops them (a day that keeps a
running experiment's rows is deleted row by row instead), a label that arrives while
its day is archived is never lost, and a log from before partitioning is converted in
place with every row and label kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from champion.errors import ConflictError
from champion.predictionlog import EventStore
from champion.predictionlog.archive import archive
from champion.predictionlog.partitions import DAYS_AHEAD, ensure_days
from champion.predictionlog.schema import metadata

from servers import pg_cluster, postgres_available

pytestmark = pytest.mark.skipif(not postgres_available(), reason="apt-get install postgresql")

DAY0 = datetime(2026, 9, 1, tzinfo=UTC)
DATABASES = ("fresh", "archived", "race", "legacy")


@pytest.fixture(scope="module")
def pg():
    with pg_cluster(DATABASES) as cluster:
        yield cluster


def _row(request_id: str, created: datetime, model: str, experiment: str, i: int) -> dict:
    return {
        "request_id": request_id, "created_at": created, "experiment_id": experiment,
        "user_id": f"u{i % 5}", "variant": "A", "model_name": model, "model_version": "1",
        "features": '{"x": ' + str(i) + "}", "prediction": "1", "prediction_num": 1.0,
        "probability": 0.6, "latency_ms": 2.0, "phase": None, "version_a": "1",
        "prediction_a": "1", "prediction_a_num": 1.0, "probability_a": 0.6,
        "latency_a_ms": 1.0, "failed_a": 0, "version_b": None, "prediction_b": None,
        "prediction_b_num": None, "probability_b": None, "latency_b_ms": None, "failed_b": 0,
    }  # fmt: skip


def fill(store: EventStore, start: datetime, days: int, per_day: int, experiment: str = "old"):
    """``per_day`` rows a day from ``start``, every third one labelled; returns the ids."""
    rows = [
        _row(f"{experiment}-{d:02d}-{i:05d}", start + timedelta(days=d, seconds=i * 80),
             store.model_name, experiment, i)
        for d in range(days)
        for i in range(per_day)
    ]  # fmt: skip
    store.insert_predictions(rows)
    store.add_feedback([(r["request_id"], i % 2) for i, r in enumerate(rows) if i % 3 == 0])
    return [r["request_id"] for r in rows]


def where(store: EventStore) -> dict[str, int]:
    """Rows per partition, predictions and labels."""
    with store.engine.connect() as conn:
        query = "SELECT tableoid::regclass::text, count(*) FROM {t} GROUP BY 1 ORDER BY 1"
        found = dict(conn.execute(text(query.format(t="predictions"))).all())
        found |= dict(conn.execute(text(query.format(t="feedback"))).all())
    return found


def partitions_of(store: EventStore, table: str) -> set[str]:
    with store.engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass(:t)"
                ),
                {"t": table},
            ).scalars()
        )


def read_back(root: Path) -> tuple[list[str], int]:
    ids, labels = [], 0
    for path in sorted(root.rglob("*.parquet")):
        table = pq.read_table(path, columns=["request_id", "label"])
        ids += table.column("request_id").to_pylist()
        labels += table.num_rows - table.column("label").null_count
    return ids, labels


def test_a_new_log_is_partitioned_by_day_and_rows_land_in_their_day(pg) -> None:
    store = EventStore(pg.url("fresh"), model_name="fares")
    store.migrate()
    today = datetime.now(UTC).date()
    days = [f"predictions_p{today + timedelta(days=d):%Y%m%d}" for d in range(DAYS_AHEAD + 1)]
    assert partitions_of(store, "predictions") == {*days, "predictions_default"}
    assert len(partitions_of(store, "feedback")) == DAYS_AHEAD + 2
    assert store.migrate() and store.ensure_partitions() == []  # idempotent
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ids = fill(store, now, days=1, per_day=30) + fill(store, DAY0, 1, 9, "older")
    assert where(store) == {
        days[0]: 30, f"feedback_p{today:%Y%m%d}": 10,
        "predictions_default": 9, "feedback_default": 3,
    }  # fmt: skip
    assert store.prediction(ids[0])["request_id"] == ids[0]
    store.dispose()


def test_archiving_drops_whole_days_and_deletes_the_rows_of_a_day_that_keeps_some(
    pg, tmp_path
) -> None:
    store = EventStore(pg.url("archived"), model_name="fares")
    store.migrate()
    with store.engine.begin() as conn:
        ensure_days(conn, DAY0.date(), 3)  # 09-01 .. 09-04 get their partitions
    old = fill(store, DAY0, days=4, per_day=120)
    running = fill(store, DAY0 + timedelta(days=2), 1, 15, "now")  # on 09-03
    store.set_ab_config(experiment_id="now", mode="hash", split_b=0.5, updated_by="t")
    other = EventStore(store.url, model_name="cabins")
    cabins = fill(other, DAY0, days=1, per_day=40, experiment="c-old")

    result = archive(store.engine, before=DAY0 + timedelta(days=3), to=str(tmp_path / "a"))
    # 09-01 and 09-02 left whole; 09-03 keeps the running experiment: deleted row by row
    assert result.dropped == ("predictions_p20260901", "predictions_p20260902")
    left = partitions_of(store, "predictions")
    assert "predictions_p20260901" not in left and "predictions_p20260903" in left
    assert "feedback_p20260901" not in partitions_of(store, "feedback")
    ids, labels = read_back(tmp_path / "a")
    expected = set(old[:360]) | set(cabins)
    assert sorted(ids) == sorted(expected) and len(ids) == 400
    assert labels == 40 * 3 + 14  # every third row labelled, per fill
    counts = where(store)
    assert counts == {
        "predictions_p20260903": 15, "predictions_p20260904": 120,
        "feedback_p20260903": 5, "feedback_p20260904": 40,
    }  # fmt: skip
    assert archive(store.engine, before=DAY0 + timedelta(days=3), to=str(tmp_path / "a")).rows == 0
    assert running and store.add_feedback([(running[1], 1)]).inserted == 1
    other.dispose()
    store.dispose()


def test_a_label_arriving_while_its_day_is_archived_stops_the_drop_and_is_archived(
    pg, tmp_path
) -> None:
    store = EventStore(pg.url("race"), model_name="fares")
    store.migrate()
    with store.engine.begin() as conn:
        ensure_days(conn, DAY0.date(), 0)
    ids = fill(store, DAY0, days=1, per_day=60)
    late = ids[1]  # not labelled by fill

    def a_label_arrives(outcome) -> None:  # after the day's part is written and checked
        store.add_feedback([(late, 1)])

    with pytest.raises(ConflictError, match="changed while it was archived"):
        archive(store.engine, before=DAY0 + timedelta(days=1), to=str(tmp_path / "a"),
                progress=a_label_arrives)  # fmt: skip
    assert where(store)["predictions_p20260901"] == 60  # nothing dropped
    result = archive(store.engine, before=DAY0 + timedelta(days=1), to=str(tmp_path / "a"))
    assert [p.status for p in result.partitions] == ["resumed"]
    assert result.dropped == ("predictions_p20260901",)
    archived, labels = read_back(tmp_path / "a")
    assert sorted(archived) == sorted(ids) and labels == 21  # 20 from fill, and the late one
    store.dispose()


def _schema_6(url: str) -> None:
    """The tables as champion created them before partitioning (schema 6)."""
    engine = EventStore(url).engine
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(text("ALTER TABLE feedback DROP COLUMN predicted_at"))
        conn.execute(text("INSERT INTO champion_schema (id, version) VALUES (1, 6)"))
    engine.dispose()


def test_a_log_from_before_partitioning_is_converted_in_place(pg, tmp_path) -> None:
    url = pg.url("legacy")
    _schema_6(url)
    store = EventStore(url, model_name="fares")
    label = text(
        "INSERT INTO feedback (request_id, label, label_num, received_at, source) "
        "VALUES (:id, '1', 1.0, :at, 'feedback')"
    )
    with store.engine.begin() as conn:
        for i in range(50):
            row = _row(f"legacy-{i:03d}", DAY0 + timedelta(hours=i), "fares", "old", i)
            names = ", ".join(row)
            values = ", ".join(f":{k}" for k in row)
            conn.execute(text(f"INSERT INTO predictions ({names}) VALUES ({values})"), row)
            if i % 2 == 0:
                at = DAY0 + timedelta(hours=i, minutes=5)
                conn.execute(label, {"id": f"legacy-{i:03d}", "at": at})
    store.migrate()
    assert "predictions_legacy" in partitions_of(store, "predictions")
    assert where(store) == {"predictions_legacy": 50, "feedback_legacy": 25}
    with store.engine.connect() as conn:
        unmatched = conn.execute(text(
            "SELECT count(*) FROM feedback f JOIN predictions p ON p.request_id = f.request_id "
            "WHERE f.predicted_at <> p.created_at"
        )).scalar_one()  # fmt: skip
    assert unmatched == 0
    assert store.add_feedback([("legacy-001", 0)]).inserted == 1
    tomorrow: date = datetime.now(UTC).date() + timedelta(days=1)
    assert f"predictions_p{tomorrow:%Y%m%d}" in partitions_of(store, "predictions")
    result = archive(store.engine, before=DAY0 + timedelta(days=1), to=str(tmp_path / "a"))
    assert result.rows == 24 and result.dropped == ()  # the legacy partition is not a day
    ids, labels = read_back(tmp_path / "a")
    assert sorted(ids) == [f"legacy-{i:03d}" for i in range(24)] and labels == 13
    assert where(store) == {"predictions_legacy": 26, "feedback_legacy": 13}
    store.dispose()
