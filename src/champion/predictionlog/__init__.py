"""The prediction log: predictions, labels (feedback), failures and the A/B
configuration, on SQLite or PostgreSQL."""

from champion.predictionlog.drift_checks import DriftCheckRecord
from champion.predictionlog.notifications import Outgoing
from champion.predictionlog.reads import VariantStats
from champion.predictionlog.store import (
    DEFAULT_EXPERIMENT,
    DEFAULT_MODEL,
    ABConfig,
    EventStore,
    FeedbackResult,
    open_store,
    sqlite_url,
    to_json,
    to_number,
)
from champion.predictionlog.writer import GroupCommitWriter

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_MODEL",
    "ABConfig",
    "DriftCheckRecord",
    "EventStore",
    "FeedbackResult",
    "GroupCommitWriter",
    "Outgoing",
    "VariantStats",
    "open_store",
    "sqlite_url",
    "to_json",
    "to_number",
]
