"""The notifications' outbox and delivery log, and the registry signal; mixed into
:class:`champion.predictionlog.store.EventStore`.

A notification is written (one row per webhook target) before anything is sent, then
each attempt is recorded on its row: the row is the delivery log. A sender *claims* a
due row by moving its ``next_attempt_at`` forward in one conditional UPDATE, so two
processes flushing the outbox at once never both send it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from champion.errors import ConflictError
from champion.predictionlog.drift_checks import aware
from champion.predictionlog.schema import notifications, registry_signal


@dataclass(frozen=True)
class Outgoing:
    """One notification to one target, as the outbox holds it."""

    id: int
    event_key: str
    target: str
    destination: str
    kind: str
    event: str  # JSON
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None

    @property
    def state(self) -> str:
        if self.delivered_at is not None:
            return "delivered"
        return "pending" if self.next_attempt_at is not None else "failed"


def _maybeaware(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


def _outgoing(row: Any) -> Outgoing:
    return Outgoing(
        id=int(row["id"]),
        event_key=row["event_key"],
        target=row["target"],
        destination=row["destination"],
        kind=row["kind"],
        event=row["event"],
        created_at=aware(row["created_at"]),
        attempts=int(row["attempts"]),
        next_attempt_at=_maybeaware(row["next_attempt_at"]),
        delivered_at=_maybeaware(row["delivered_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
    )


def _insert(conn: Any, statement: Any) -> int:
    """Run an INSERT; ConflictError (which rolls the transaction back) on a taken key."""
    try:
        key = conn.execute(statement).inserted_primary_key
    except IntegrityError as exc:
        raise ConflictError("the row exists already") from exc
    return int(key[0]) if key and isinstance(key[0], int) else 0


class Notifications:
    """The outbox of one model's notifications."""

    _tx: Callable[[str], AbstractContextManager[Any]]
    model_name: str

    def enqueue_notification(
        self, event_key: str, kind: str, event: str, targets: Sequence[tuple[str, str]]
    ) -> list[int]:
        """Write the notification for each ``(target, destination)``; returns the ids of
        the rows this call wrote (a row that exists already — the same event written by
        another worker — is skipped)."""
        now = datetime.now(UTC)
        written: list[int] = []
        for target, destination in targets:
            row = {
                "model_name": self.model_name,
                "event_key": event_key[:256],
                "target": target,
                "destination": destination[:300],
                "kind": kind,
                "event": event,
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            }
            try:
                with self._tx("write notification") as conn:
                    key = _insert(conn, insert(notifications).values(**row))
            except ConflictError:
                continue  # someone else wrote (and sends) this one
            written.append(key)
        return written

    def claim_notifications(
        self, lease: timedelta, *, ids: Sequence[int] | None = None, limit: int = 50
    ) -> list[Outgoing]:
        """Due rows (or those of ``ids``) this caller may now send: each is claimed for
        ``lease`` (another sender skips it until then)."""
        c = notifications.c
        now = datetime.now(UTC)
        query = select(notifications).where(
            c.model_name == self.model_name, c.next_attempt_at <= now
        )
        if ids is not None:
            query = query.where(c.id.in_(list(ids)))
        query = query.order_by(c.id).limit(limit)
        claimed: list[Outgoing] = []
        with self._tx("claim notifications") as conn:
            rows = conn.execute(query).mappings().all()
        for row in rows:
            with self._tx("claim notification") as conn:
                moved = conn.execute(
                    update(notifications)
                    .where(c.id == row["id"], c.next_attempt_at == row["next_attempt_at"])
                    .values(next_attempt_at=now + lease)
                ).rowcount
            if moved == 1:
                claimed.append(_outgoing(row))
        return claimed

    def record_attempt(
        self,
        notification_id: int,
        *,
        status: int | None,
        error: str | None,
        delivered: bool,
        retry_at: datetime | None,
    ) -> None:
        """One attempt's outcome; ``retry_at`` None and not delivered means given up."""
        c = notifications.c
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "attempts": c.attempts + 1,
            "last_status": status,
            "last_error": None if error is None else error[:1000],
            "next_attempt_at": None if delivered else retry_at,
        }
        if delivered:
            values["delivered_at"] = now
        with self._tx("record delivery") as conn:
            conn.execute(update(notifications).where(c.id == notification_id).values(**values))

    def notification_log(self, limit: int = 100) -> list[Outgoing]:
        """The latest notifications, newest first: what was sent where, and how it went."""
        c = notifications.c
        query = (
            select(notifications)
            .where(c.model_name == self.model_name)
            .order_by(c.id.desc())
            .limit(limit)
        )
        with self._tx("read notifications") as conn:
            return [_outgoing(r) for r in conn.execute(query).mappings().all()]

    def bump_registry_signal(self, detail: str) -> int:
        """Say that the registry changed (an alias moved); returns the new generation."""
        c = registry_signal.c
        values = {"detail": detail[:300], "updated_at": datetime.now(UTC)}
        bump = (
            update(registry_signal)
            .where(c.model_name == self.model_name)
            .values(generation=c.generation + 1, **values)
        )
        with self._tx("signal registry change") as conn:
            moved = conn.execute(bump).rowcount
        if moved == 0:
            try:
                with self._tx("signal registry change") as conn:
                    row = {"model_name": self.model_name, "generation": 1, **values}
                    _insert(conn, insert(registry_signal).values(**row))
            except ConflictError:  # the first row was written by another worker meanwhile
                with self._tx("signal registry change") as conn:
                    conn.execute(bump)
        return self.registry_generation()

    def registry_generation(self) -> int:
        """The registry signal's generation (0 before the first)."""
        c = registry_signal.c
        with self._tx("read registry signal") as conn:
            found = conn.execute(
                select(c.generation).where(c.model_name == self.model_name)
            ).scalar()
        return int(found or 0)
