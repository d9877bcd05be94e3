"""PostgreSQL logs keep ``predictions`` and ``feedback`` partitioned by UTC day.

A day's predictions and their labels live in ``predictions_p<YYYYMMDD>`` and
``feedback_p<YYYYMMDD>`` (labels are partitioned by their prediction's time, so a day
leaves the log as one pair of tables). Archiving a day then detaches and drops its two
partitions, instead of deleting its rows one by one and leaving the space to vacuum.

Partitions are made ahead (:data:`DAYS_AHEAD` days, at every start-up and by the
retention task); a row whose day has none goes to the ``*_default`` partition, so a
write never fails for want of one. A log from before partitioning keeps its rows in
one ``*_legacy`` partition (everything up to the day after the upgrade): converting
costs an index build, not a copy. SQLite logs are not partitioned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import inspect, text

from champion.predictionlog.schema import partitioned

DAYS_AHEAD = 7
TABLES = ("predictions", "feedback")
_KEY = {"predictions": "created_at", "feedback": "predicted_at"}


@dataclass(frozen=True)
class DayPartition:
    """One day's pair of partitions."""

    day: date
    predictions: str
    feedback: str | None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(), tzinfo=UTC)


def _name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def is_partitioned(conn: Any) -> bool:
    kind = conn.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass('predictions')")
    ).scalar()
    return kind == "p"


def create(conn: Any) -> None:
    """Create both tables partitioned, with their default partitions (a new log)."""
    for table in TABLES:
        partitioned.tables[table].create(conn)
        conn.execute(text(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT"))


def _bounds(conn: Any, table: str) -> dict[str, str]:
    """Each partition of ``table`` and its bound expression."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    )
    return dict(rows.all())


def _start(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00"


def ensure_days(conn: Any, first: date, days: int = DAYS_AHEAD) -> list[str]:
    """Make the partitions of ``first`` and the ``days`` after it that do not exist;
    returns the ones made. A day whose rows already went to a default partition (or
    that an older partition covers) keeps them there."""
    made = []
    for table in TABLES:
        existing = _bounds(conn, table)
        for offset in range(days + 1):
            day = first + timedelta(days=offset)
            name = _name(table, day)
            if name in existing or _covered(conn, table, day, existing):
                continue
            conn.execute(
                text(
                    f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM "
                    f"('{_start(day)}') TO ('{_start(day + timedelta(days=1))}')"
                )
            )
            made.append(name)
    return made


def _covered(conn: Any, table: str, day: date, existing: dict[str, str]) -> bool:
    """True when ``day`` cannot get its own partition: the legacy partition reaches
    into it, or the default partition already holds rows of it."""
    legacy = existing.get(f"{table}_legacy")
    if legacy and _upper(legacy) > datetime.combine(day, time(), tzinfo=UTC):
        return True
    key = _KEY[table]
    held = conn.execute(
        text(f"SELECT 1 FROM {table}_default WHERE {key} >= :lo AND {key} < :hi LIMIT 1"),
        {
            "lo": datetime.combine(day, time(), tzinfo=UTC),
            "hi": datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC),
        },
    ).first()
    return held is not None


def _upper(bound: str) -> datetime:
    """The upper end of a ``FOR VALUES FROM (...) TO ('...')`` bound."""
    value = bound.rsplit("TO (", 1)[1].strip("') ")
    return datetime.fromisoformat(value).astimezone(UTC)


def day_partitions(conn: Any) -> dict[date, DayPartition]:
    """The log's one-day partitions by day (not the default or legacy ones)."""
    labels = _bounds(conn, "feedback")
    found = {}
    for name in _bounds(conn, "predictions"):
        stamp = name.removeprefix("predictions_p")
        if name.startswith("predictions_p") and stamp.isdigit():
            day = datetime.strptime(stamp, "%Y%m%d").date()
            other = _name("feedback", day)
            found[day] = DayPartition(day, name, other if other in labels else None)
    return found


def drop(conn: Any, partition: DayPartition) -> None:
    """Detach and drop a day's labels, then its predictions (the labels reference them)."""
    for table, name in (("feedback", partition.feedback), ("predictions", partition.predictions)):
        if name is not None:
            conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
            conn.execute(text(f"DROP TABLE {name}"))


def convert(conn: Any, today: date) -> None:
    """Partition an existing log: its tables become the ``*_legacy`` partitions of new
    partitioned tables, reaching to the end of ``today``."""
    upper = _start(today + timedelta(days=1))
    inspector = inspect(conn)
    for fk in inspector.get_foreign_keys("feedback"):
        conn.execute(text(f'ALTER TABLE feedback DROP CONSTRAINT "{fk["name"]}"'))
    for table in TABLES:
        legacy = f"{table}_legacy"
        key = inspector.get_pk_constraint(table)["name"]
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {legacy}"))
        conn.execute(text(f'ALTER TABLE {legacy} DROP CONSTRAINT "{key}"'))
        for index in inspector.get_indexes(table):
            conn.execute(text(f'ALTER INDEX "{index["name"]}" RENAME TO "{index["name"]}_legacy"'))
    conn.execute(text("ALTER TABLE feedback_legacy ALTER COLUMN predicted_at SET NOT NULL"))
    for table in TABLES:
        legacy = f"{table}_legacy"
        conn.execute(text(f"ALTER TABLE {legacy} ADD PRIMARY KEY (request_id, {_KEY[table]})"))
        partitioned.tables[table].create(conn)
        conn.execute(
            text(
                f"ALTER TABLE {table} ATTACH PARTITION {legacy} "
                f"FOR VALUES FROM (MINVALUE) TO ('{upper}')"
            )
        )
        conn.execute(text(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT"))
