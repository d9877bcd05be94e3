"""The prediction log: predictions, feedback and the A/B configuration.

SQLite (WAL, ``synchronous=FULL``: a committed row survives a crash of the process and of
the machine) by default, PostgreSQL by URL. All methods are synchronous and
thread-safe; the API calls them from worker threads. Every write is one transaction:
nothing is ever half-written. Database failures become
:class:`~champion.errors.BackendError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
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
from champion.predictionlog.writes import (
    PredictionWrites,
)
from champion.settings import Settings
from champion.types import ABMode, parse

#: The experiment id rows are logged under before any experiment was started (each
#: model's own: every read is scoped by model name).
DEFAULT_EXPERIMENT = "default"


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


class EventStore(PredictionWrites, LogReads, DriftChecks, Notifications):
    """The prediction log of one model over one database. Several models may share the
    database: every read and write here is of ``model_name``'s rows only."""

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
