"""``champion log archive``: old predictions to Parquet by model and day, then out of the
log — nothing lost, nothing twice, on SQLite and PostgreSQL, to a directory and to S3,
and a run that stops anywhere is finished by the next."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from champion.errors import ConfigError
from champion.predictionlog import EventStore
from champion.predictionlog.archive import (
    Part,
    Partition,
    Target,
    _day_bounds,
    _file_sha256,
    _save_manifest,
    _scope,
    _write_part,
    archive,
)
from champion.predictionlog.schema import feedback, predictions

from servers import pg_cluster, postgres_available, s3_server

DAY0 = datetime(2026, 9, 1, tzinfo=UTC)


def fill(
    store: EventStore, *, days: int, per_day: int, model: str, experiment: str = "old"
) -> list[str]:
    rows, labels = [], []
    for d in range(days):
        for i in range(per_day):
            request_id = str(uuid.uuid4())
            created = DAY0 + timedelta(days=d, seconds=i * 86_000 / per_day)
            rows.append(
                {
                    "request_id": request_id, "created_at": created, "experiment_id": experiment,
                    "user_id": f"u{i % 7}", "variant": "A", "model_name": model,
                    "model_version": "1", "features": '{"x": ' + str(i) + "}", "prediction": "1",
                    "prediction_num": 1.0, "probability": 0.7, "latency_ms": 2.0, "phase": None,
                    "version_a": "1", "prediction_a": "1", "prediction_a_num": 1.0,
                    "probability_a": 0.7, "latency_a_ms": 1.0, "failed_a": 0,
                    "version_b": None, "prediction_b": None, "prediction_b_num": None,
                    "probability_b": None, "latency_b_ms": None, "failed_b": 0,
                }
            )  # fmt: skip
            if i % 2 == 0:
                labels.append((request_id, i % 3))
    store.insert_predictions(rows)
    store.add_feedback(labels)
    return [r["request_id"] for r in rows]


def logged(store: EventStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(predictions.c.request_id)).scalars())


def archived(root: Path) -> list[str]:
    ids: list[str] = []
    for path in sorted(root.rglob("*.parquet")):
        ids += pq.read_table(path, columns=["request_id"]).column("request_id").to_pylist()
    return ids


@pytest.fixture
def store(tmp_path) -> EventStore:
    s = EventStore(f"sqlite:///{tmp_path / 'events.db'}", model_name="fares")
    s.migrate()
    yield s
    s.dispose()


def test_a_round_trip_keeps_every_row_and_label_and_the_running_experiment(store, tmp_path) -> None:
    fares = fill(store, days=4, per_day=300, model="fares")
    cabins = fill(EventStore(store.url, model_name="cabins"), days=2, per_day=100, model="cabins")
    running = fill(store, days=4, per_day=20, model="fares", experiment="now")
    store.set_ab_config(experiment_id="now", mode="hash", split_b=0.5, updated_by="t")
    before = DAY0 + timedelta(days=3)
    result = archive(store.engine, before=before, to=str(tmp_path / "archive"))

    expected = {r for r in fares[:900]} | set(cabins)
    assert result.rows == len(expected) == 1100
    days = {(p.partition.model_name, p.partition.day.isoformat()) for p in result.partitions}
    assert days == {("fares", "2026-09-01"), ("fares", "2026-09-02"), ("fares", "2026-09-03"),
                    ("cabins", "2026-09-01"), ("cabins", "2026-09-02")}  # fmt: skip
    files = archived(tmp_path / "archive")
    assert sorted(files) == sorted(expected) and len(files) == len(set(files))
    assert logged(store) == set(fares[900:]) | set(running)
    assert result.kept_running == ("fares: now",)
    # the labels went with their rows, and nothing is left behind in the feedback table
    table = pq.read_table(
        tmp_path / "archive" / "model=fares" / "day=2026-09-01" / "part-0.parquet"
    )
    assert table.num_rows == 300
    assert table.column("label").drop_null().length() == 150
    assert set(table.column("label").drop_null().to_pylist()) == {"0", "1", "2"}
    assert table.column("created_at").type.tz == "UTC"
    with store.engine.connect() as conn:
        orphans = conn.execute(
            select(func.count())
            .select_from(feedback)
            .where(~feedback.c.request_id.in_(select(predictions.c.request_id)))
        ).scalar_one()
    assert orphans == 0
    # a second run finds nothing left to do
    again = archive(store.engine, before=before, to=str(tmp_path / "archive"))
    assert again.partitions == () and sorted(archived(tmp_path / "archive")) == sorted(expected)


def test_a_dry_run_writes_and_deletes_nothing(store, tmp_path) -> None:
    ids = fill(store, days=2, per_day=50, model="fares")
    result = archive(
        store.engine, before=DAY0 + timedelta(days=5), to=str(tmp_path / "a"), dry_run=True
    )
    assert result.rows == 100 and {p.status for p in result.partitions} == {"would archive"}
    assert logged(store) == set(ids) and not (tmp_path / "a").exists()


def test_a_run_stopped_before_deleting_is_finished_without_a_second_copy(store, tmp_path) -> None:
    ids = fill(store, days=2, per_day=200, model="fares")
    before = DAY0 + timedelta(days=2)
    target, work = Target(str(tmp_path / "a")), tmp_path / "work"
    work.mkdir()
    # what a run does for the first day up to the deletion, then it stops
    partition = Partition("fares", DAY0.date(), 200)
    start, end = _day_bounds(partition.day, before)
    scope = _scope("fares", start, end, {})
    local = work / "part.parquet"
    with store.engine.connect() as conn:
        rows, digest, labels = _write_part(conn, scope, local)
    part = Part(f"{partition.prefix}/part-0.parquet", rows, _file_sha256(local), digest, labels)
    target.put(local, part.file)
    _save_manifest(target, partition.prefix, [part], work)
    assert logged(store) == set(ids)

    result = archive(store.engine, before=before, to=str(tmp_path / "a"))
    assert [p.status for p in result.partitions] == ["resumed", "archived"]
    files = archived(tmp_path / "a")
    assert sorted(files) == sorted(ids) and len(files) == 400
    assert logged(store) == set()


def test_a_killed_archive_run_loses_and_duplicates_nothing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    store = EventStore(url, model_name="fares")
    store.migrate()
    ids = fill(store, days=12, per_day=2000, model="fares")
    env = {**os.environ, "CHAMPION_DATABASE_URL": url, "CHAMPION_MODEL_NAME": "fares",
           "CHAMPION_HOME": str(tmp_path / "home")}  # fmt: skip
    cmd = [sys.executable, "-m", "champion", "log", "archive", "--before", "2026-09-30",
           "--to", str(tmp_path / "a")]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the first day is done; more are under way
    assert "archived fares 2026-09-01" in line, line
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    middle = archived(tmp_path / "a")
    assert set(middle) | logged(store) == set(ids)  # nothing lost when it died
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    files = archived(tmp_path / "a")
    assert sorted(files) == sorted(ids) and len(files) == len(set(files)) == 24_000
    assert logged(store) == set()
    store.dispose()


def test_bad_arguments_exit_2_with_one_line(store, tmp_path) -> None:
    env = {**os.environ, "CHAMPION_DATABASE_URL": store.url, "CHAMPION_HOME": str(tmp_path)}
    for args in (["--before", "last tuesday"], ["--before", "2999-01-01"]):
        done = subprocess.run(
            [sys.executable, "-m", "champion", "log", "archive", *args,
             "--to", str(tmp_path / "a")],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "--before" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_target_that_cannot_be_written_is_one_line_and_keeps_the_rows(store, tmp_path) -> None:
    ids = fill(store, days=1, per_day=10, model="fares")
    blocked = tmp_path / "a-file"
    blocked.write_text("the archive cannot go under a file")
    env = {**os.environ, "CHAMPION_DATABASE_URL": store.url, "CHAMPION_MODEL_NAME": "fares",
           "CHAMPION_HOME": str(tmp_path)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "champion", "log", "archive", "--before", "2026-11-01",
         "--to", str(blocked / "archive")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "cannot write" in done.stderr
    assert "Traceback" not in done.stderr
    assert logged(store) == set(ids)


@pytest.mark.skipif(not postgres_available(), reason="apt-get install postgresql")
def test_postgresql_to_s3_round_trip(tmp_path, monkeypatch) -> None:
    with pg_cluster(("events",)) as pg, s3_server(tmp_path, bucket="archive") as s3:
        for key, value in s3.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3.env()["MLFLOW_S3_ENDPOINT_URL"])
        store = EventStore(pg.url("events"), model_name="fares")
        store.migrate()
        ids = fill(store, days=3, per_day=400, model="fares")
        result = archive(store.engine, before=DAY0 + timedelta(days=2), to="s3://archive/log")
        assert result.rows == 800
        keys = s3.keys("log/")
        assert sorted(k for k in keys if k.endswith(".parquet")) == [
            "log/model=fares/day=2026-09-01/part-0.parquet",
            "log/model=fares/day=2026-09-02/part-0.parquet",
        ]
        client, back = s3.client(), []
        for key in keys:
            if key.endswith(".parquet"):
                local = tmp_path / key.replace("/", "_")
                client.download_file("archive", key, str(local))
                back += pq.read_table(local).column("request_id").to_pylist()
        assert sorted(back) == sorted(ids[:800])
        assert logged(store) == set(ids[800:])
        store.dispose()


def test_the_retention_task_archives_what_is_older_than_the_retention(
    tmp_path, monkeypatch
) -> None:
    from champion.orchestration import tasks

    url = f"sqlite:///{tmp_path / 'events.db'}"
    store = EventStore(url, model_name="fares")
    store.migrate()
    ids = fill(store, days=3, per_day=100, model="fares")
    monkeypatch.setenv("CHAMPION_DATABASE_URL", url)
    monkeypatch.setenv("CHAMPION_MODEL_NAME", "fares")
    monkeypatch.setenv("CHAMPION_HOME", str(tmp_path / "home"))
    assert tasks.retention()["archived"] == 0  # no retention set: the log keeps everything
    monkeypatch.setenv("CHAMPION_LOG_RETENTION_DAYS", "1")
    with pytest.raises(ConfigError, match="CHAMPION_LOG_ARCHIVE_TO"):
        tasks.retention()
    monkeypatch.setenv("CHAMPION_LOG_ARCHIVE_TO", str(tmp_path / "archive"))
    done = tasks.retention()  # today is long after 2026-09: all three days are old
    assert done == {"archived": 300, "partitions": 3, "to": str(tmp_path / "archive")}
    assert sorted(archived(tmp_path / "archive")) == sorted(ids) and logged(store) == set()
    store.dispose()
