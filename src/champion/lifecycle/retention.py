"""Retention: the UTC days that ended more than ``CHAMPION_LOG_RETENTION_DAYS`` ago leave
the log for Parquet files at ``CHAMPION_LOG_ARCHIVE_TO`` (the ``log_retention`` DAG runs it
daily)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from champion.errors import ConfigError
from champion.predictionlog import EventStore
from champion.predictionlog.archive import ArchiveResult, PartitionOutcome, archive
from champion.settings import Settings


def archive_log(
    settings: Settings,
    *,
    before: datetime,
    to: str,
    dry_run: bool = False,
    progress: Callable[[PartitionOutcome], None] | None = None,
) -> ArchiveResult:
    """Archive every prediction served before ``before`` to ``to``, then delete it."""
    store = EventStore(settings.events_url, model_name=settings.model_name)
    try:
        store.migrate()
        return archive(store.engine, before=before, to=to, dry_run=dry_run, progress=progress)
    finally:
        store.dispose()


def apply_retention(settings: Settings, *, now: datetime | None = None) -> ArchiveResult | None:
    """Archive what is older than the retention; None when no retention is set."""
    if settings.log_retention_days is None:
        return None
    if not settings.log_archive_to:
        raise ConfigError(
            "CHAMPION_LOG_RETENTION_DAYS is set but CHAMPION_LOG_ARCHIVE_TO is not: where "
            "should old predictions go? (a directory or s3://bucket/prefix)"
        )
    moment = (now or datetime.now(UTC)) - timedelta(days=settings.log_retention_days)
    # whole UTC days: a day leaves the log at once (on PostgreSQL, as its partitions)
    before = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return archive_log(settings, before=before, to=settings.log_archive_to)
