"""The prediction log: predictions, feedback and the A/B configuration.

SQLite (WAL, ``synchronous=FULL``: a committed row survives a crash of the process and of
the machine) by default, PostgreSQL by URL. All methods are synchronous and
thread-safe; the API calls them from worker threads. Every write is one transaction:
nothing is ever half-written. Database failures become
:class:`~champion.errors.BackendError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from champion.errors import (
    BackendError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RowRejectedError,
)
from champion.predictionlog import partitions
from champion.predictionlog.drift_checks import DriftChecks
from champion.predictionlog.migrations import upgrade
from champion.predictionlog.notifications import Notifications
from champion.predictionlog.reads import LogReads
from champion.predictionlog.schema import (
    SCHEMA_VERSION,
    ab_config,
    failures,
    feedback,
    metadata,
    predictions,
    schema_version,
)
from champion.settings import Settings
from champion.types import ABMode, parse

#: The experiment id rows are logged under before any experiment was started (each
#: model's own: every read is scoped by model name).
DEFAULT_EXPERIMENT = "default"
#: The model a store serves when none is named (the settings' default model name).
DEFAULT_MODEL = "champion-model"


def to_json(value: Any) -> str:
    """Canonical JSON (compact, sorted keys): labels and predictions compare by this text."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def to_number(value: Any) -> float | None:
    """The numeric form of a label or prediction, if it has one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class ABConfig:
    """The experiment in force: how traffic is split between champion and challenger."""

    experiment_id: str
    mode: ABMode
    split_b: float  # share of traffic to the challenger (hash, random)
    updated_at: datetime
    updated_by: str
    note: str = ""
    phase: int = 0  # the stored row's id: every change starts a phase of the experiment

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "mode": self.mode,
            "split_b": self.split_b,
            "phase": self.phase,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
            "note": self.note,
        }


@dataclass(frozen=True)
class FeedbackResult:
    inserted: int
    duplicates: int


PREDICTION_COLUMNS = tuple(c.name for c in predictions.columns)


def _sqlite_time(value: datetime) -> str:
    """A timestamp in the text form SQLAlchemy's SQLite DateTime reads back."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def _sqlite_pragmas(busy_ms: int) -> Callable[[Any, Any], None]:
    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return apply


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None: another database, or in memory)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///"))


class _WriterTurns:
    """Turns at a SQLite log's write lock for the API processes that share it.

    SQLite lets one writer in at a time, and a process that finds the lock taken sleeps
    in its busy handler — 1, 2, 5, 10 … 100 ms, whatever happens meanwhile — so two
    workers committing side by side wait whole milliseconds for a lock held for a
    fraction of one. Holding an ``flock`` on a file beside the log around each group
    commit queues them in the kernel instead, which wakes the next one the moment the
    lock is let go. Other writers (labels, the lifecycle) still meet SQLite's own lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + "-writers.lock")
        self._fd: int | None = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # waits without the GIL
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@functools.lru_cache(maxsize=1024)
def _values_sql(rows: int, marker: str = "?") -> str:
    """``INSERT INTO predictions`` of ``rows`` rows in one statement."""
    one = f"({', '.join([marker] * len(PREDICTION_COLUMNS))})"
    return f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) VALUES " + ", ".join(
        [one] * rows
    )


def _insert_sqlite(conn: sqlite3.Connection, params: list[tuple[Any, ...]]) -> None:
    """The rows as few statements as SQLite's parameter limit allows, atomically.

    The writer thread shares the GIL with the event loop, and each time the driver lets
    go of it (every statement, every commit) getting it back waits for the loop's next
    switch: a batch that fits one statement is sent as one ``INSERT … VALUES`` in
    autocommit mode, so preparing, inserting and the commit's fsync are one driver call.
    """
    per_statement = max(
        conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(PREDICTION_COLUMNS), 1
    )
    if len(params) <= per_statement:
        conn.execute(_values_sql(len(params)), [v for row in params for v in row])
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for start in range(0, len(params), per_statement):
            chunk = params[start : start + per_statement]
            conn.execute(_values_sql(len(chunk)), [v for row in chunk for v in row])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def make_engine(url: str, *, statement_timeout: float | None = None) -> Engine:
    """An engine for ``url`` (SQLite file or PostgreSQL), configured for the log; with
    ``statement_timeout`` (seconds) no statement runs longer (PostgreSQL) or waits
    longer for a lock (SQLite)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        wait = 30.0 if statement_timeout is None else statement_timeout
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": wait})
        event.listen(engine, "connect", _sqlite_pragmas(int(wait * 1000)))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect: dict[str, Any] = {"connect_timeout": 5}
    if statement_timeout is not None:
        connect["options"] = f"-c statement_timeout={max(int(statement_timeout * 1000), 1)}"
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=5, connect_args=connect
    )


class EventStore(LogReads, DriftChecks, Notifications):
    """The prediction log of one model over one database. Several models may share the
    database: every read and write here is of ``model_name``'s rows only."""

    def __init__(
        self, url: str, *, model_name: str = DEFAULT_MODEL, statement_timeout: float | None = None
    ) -> None:
        self.url = url
        self.model_name = model_name
        self.statement_timeout = statement_timeout
        self.engine = make_engine(url, statement_timeout=statement_timeout)
        self._local = threading.local()
        path = sqlite_path(url)
        self._turns = _WriterTurns(path) if path is not None else None
        dbapi = self.engine.dialect.loaded_dbapi
        self._dbapi_error = dbapi.Error
        # the value is at fault, not the database: only that row's request fails
        self._rejected = (dbapi.DataError, dbapi.IntegrityError, OverflowError, ValueError)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _tx(self, what: str) -> Iterator[Any]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except (NotFoundError, ConflictError):
            raise
        except SQLAlchemyError as exc:
            reason = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
            raise BackendError(f"database unavailable ({what}): {reason}") from exc

    def migrate(self) -> int:
        """Create the tables or check their version; returns the schema version."""
        postgres = self.dialect == "postgresql"
        with self._tx("migrate") as conn:
            if postgres:  # API workers start together: one migrates, the others wait
                conn.execute(text("SELECT pg_advisory_xact_lock(7263001)"))
                if not inspect(conn).has_table("predictions"):
                    partitions.create(conn)
            metadata.create_all(conn)
            found = conn.execute(select(schema_version.c.version)).scalar()
            if found is None:
                conn.execute(insert(schema_version).values(id=1, version=SCHEMA_VERSION))
                found = SCHEMA_VERSION
        if found > SCHEMA_VERSION:
            raise BackendError(
                f"the prediction log has schema version {found}, newer than this champion "
                f"({SCHEMA_VERSION}); upgrade champion"
            )
        if found < SCHEMA_VERSION:
            with self._tx("migrate") as conn:
                if postgres:  # an upgrade may rebuild an index: no statement timeout
                    conn.execute(text("SET LOCAL statement_timeout = 0"))
                    conn.execute(text("SELECT pg_advisory_xact_lock(7263001)"))
                found = conn.execute(select(schema_version.c.version)).scalar_one()
                if found < SCHEMA_VERSION:  # not upgraded by a worker that got the lock first
                    upgrade(conn, found, self.model_name)
                    conn.execute(update(schema_version).values(version=SCHEMA_VERSION))
        if postgres:
            self.ensure_partitions()
        return SCHEMA_VERSION

    def ensure_partitions(self) -> list[str]:
        """PostgreSQL: make the day partitions of today and the days ahead that are
        missing; returns their names (nothing to do on SQLite)."""
        if self.dialect != "postgresql":
            return []
        with self._tx("make partitions") as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(7263001)"))
            return partitions.ensure_days(conn, datetime.now(UTC).date())

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def dispose(self) -> None:
        raw = getattr(self._local, "raw", None)
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()
        if self._turns is not None:
            self._turns.close()
        self.engine.dispose()

    # -- predictions -----------------------------------------------------------------
    def insert_predictions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert prediction rows in one transaction (all or none).

        The hot path of the API: the rows go to the driver as plain tuples on a
        long-lived connection of the calling thread, skipping SQLAlchemy's per-row
        parameter processing (~80 µs a row) and per-batch transaction set-up. A failed
        write is rolled back and its connection discarded.
        """
        if not rows:
            return
        sqlite = self.dialect == "sqlite"
        params = [
            tuple(
                _sqlite_time(row[c]) if sqlite and c == "created_at" else row[c]
                for c in PREDICTION_COLUMNS
            )
            for row in rows
        ]
        raw = getattr(self._local, "raw", None)
        try:
            if raw is None:  # one long-lived connection per writing thread
                raw = self._local.raw = self.engine.raw_connection()
                if sqlite:  # its transactions are explicit (_insert_sqlite)
                    raw.driver_connection.isolation_level = None
            with self._turns.turn() if self._turns else contextlib.nullcontext():
                if sqlite:
                    _insert_sqlite(raw.driver_connection, params)
                else:
                    cursor = raw.cursor()
                    try:
                        cursor.executemany(self._insert_sql, params)
                    finally:
                        cursor.close()
                    raw.commit()
        except Exception as exc:
            self._local.raw = None
            if raw is not None:
                with contextlib.suppress(Exception):
                    raw.rollback()
                with contextlib.suppress(Exception):
                    raw.invalidate()  # never reuse a connection that failed mid-write
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
            if isinstance(exc, self._rejected):
                raise RowRejectedError(f"the database refused a value: {reason}") from exc
            if isinstance(exc, SQLAlchemyError | self._dbapi_error | OSError):
                raise BackendError(f"database unavailable (log predictions): {reason}") from exc
            raise

    def delete_predictions(self, request_ids: Sequence[str]) -> None:
        """Remove these requests' rows (and their labels): rows committed after their
        request was already answered 503."""
        if not request_ids:
            return
        ids = list(request_ids)
        with self._tx("remove rows") as conn:
            for start in range(0, len(ids), 500):  # within any database's parameter limit
                chunk = ids[start : start + 500]
                conn.execute(delete(feedback).where(feedback.c.request_id.in_(chunk)))
                conn.execute(delete(predictions).where(predictions.c.request_id.in_(chunk)))

    @property
    def _insert_sql(self) -> str:
        marker = "?" if self.dialect == "sqlite" else "%s"
        return _values_sql(1, marker)

    def count_predictions(self, experiment_id: str | None = None) -> int:
        query = (
            select(func.count())
            .select_from(predictions)
            .where(predictions.c.model_name == self.model_name)
        )
        if experiment_id is not None:
            query = query.where(predictions.c.experiment_id == experiment_id)
        with self._tx("count predictions") as conn:
            return int(conn.execute(query).scalar() or 0)

    def prediction(self, request_id: str) -> dict[str, Any] | None:
        with self._tx("read prediction") as conn:
            row = (
                conn.execute(select(predictions).where(predictions.c.request_id == request_id))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    # -- feedback ---------------------------------------------------------------------
    def add_feedback(
        self, items: Sequence[tuple[str, Any]], *, source: str = "feedback"
    ) -> FeedbackResult:
        """Record labels atomically: all are written, or none; ``source`` names the
        credential that posted them.

        An unknown request id raises NotFoundError, a label different from the one
        already recorded raises ConflictError (the first label stands); the same label
        again is accepted and counted as a duplicate.
        """
        ids = [request_id for request_id, _ in items]
        if len(set(ids)) != len(ids):
            raise ConflictError("the same request_id appears twice in one feedback batch")
        now = datetime.now(UTC)
        with self._tx("record feedback") as conn:
            known = dict(
                conn.execute(
                    select(predictions.c.request_id, predictions.c.created_at).where(
                        predictions.c.request_id.in_(ids),
                        predictions.c.model_name == self.model_name,
                    )
                ).all()
            )
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise NotFoundError(f"unknown request_id(s): {', '.join(unknown[:5])}")
            existing = dict(
                conn.execute(
                    select(feedback.c.request_id, feedback.c.label).where(
                        feedback.c.request_id.in_(ids)
                    )
                ).all()
            )
            fresh, duplicates, conflicts = [], 0, []
            for request_id, label in items:
                encoded = to_json(label)
                if request_id not in existing:
                    fresh.append(
                        {
                            "request_id": request_id,
                            "label": encoded,
                            "label_num": to_number(label),
                            "received_at": now,
                            "source": source,
                            "predicted_at": known[request_id],
                        }
                    )
                elif existing[request_id] == encoded:
                    duplicates += 1
                else:
                    conflicts.append(f"{request_id} has label {existing[request_id]}")
            if conflicts:
                raise ConflictError(
                    "a label is already recorded and cannot be changed: " + "; ".join(conflicts[:5])
                )
            if fresh:
                conn.execute(insert(feedback), fresh)
        return FeedbackResult(inserted=len(fresh), duplicates=duplicates)

    # -- failures ---------------------------------------------------------------------
    def record_failure(
        self, *, experiment_id: str, variant: str, model_version: str, requests: int, error: str
    ) -> None:
        """Count requests a model failed to answer (the error-rate guardrail reads them)."""
        with self._tx("record failure") as conn:
            conn.execute(
                insert(failures).values(
                    created_at=datetime.now(UTC),
                    model_name=self.model_name,
                    experiment_id=experiment_id,
                    variant=variant,
                    model_version=model_version,
                    requests=requests,
                    error=error[:2000],
                )
            )

    # -- A/B configuration ------------------------------------------------------------
    def ab_config(self) -> ABConfig | None:
        """The configuration in force (the latest one written), or None."""
        with self._tx("read A/B config") as conn:
            row = (
                conn.execute(
                    select(ab_config)
                    .where(ab_config.c.model_name == self.model_name)
                    .order_by(ab_config.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        updated = row["updated_at"]
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        return ABConfig(
            experiment_id=row["experiment_id"],
            mode=ABMode(row["mode"]),
            split_b=float(row["split_b"]),
            updated_at=updated,
            updated_by=row["updated_by"],
            note=row["note"] or "",
            phase=int(row["id"]),
        )

    def set_ab_config(
        self, *, experiment_id: str, mode: ABMode, split_b: float, updated_by: str, note: str = ""
    ) -> ABConfig:
        """Store a new configuration; it is in force for every worker from its next poll."""
        mode = parse(ABMode, mode, "mode")
        if not 0 <= split_b <= 1:
            raise InvalidInputError(f"split_b must be in [0, 1], got {split_b}")
        now = datetime.now(UTC)
        with self._tx("write A/B config") as conn:
            result = conn.execute(
                insert(ab_config).values(
                    model_name=self.model_name,
                    experiment_id=experiment_id,
                    mode=mode,
                    split_b=split_b,
                    updated_at=now,
                    updated_by=updated_by,
                    note=note,
                )
            )
            phase = int(result.inserted_primary_key[0])
        return ABConfig(experiment_id, mode, split_b, now, updated_by, note, phase)


def open_store(settings: Settings) -> EventStore:
    """The prediction log ``settings`` name, created or upgraded to this schema."""
    store = EventStore(settings.events_url, model_name=settings.model_name)
    store.migrate()
    return store
