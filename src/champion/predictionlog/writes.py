"""Writing prediction rows: the one part of the log the serving hot path needs.

Kept apart from the reads (pandas, the statistics) so that the API's log writer process
(:mod:`champion.predictionlog.commit_child`) starts by importing only the database
drivers: it is started again whenever one dies, and requests wait while it starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event
from sqlalchemy.exc import SQLAlchemyError

from champion.errors import BackendError, ConflictError, NotFoundError, RowRejectedError
from champion.predictionlog.schema import feedback, predictions

#: The model a store serves when none is named (the settings' default model name).
DEFAULT_MODEL = "champion-model"

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


class PredictionWrites:
    """Prediction rows of one model written to (and removed from) the log."""

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
