"""The prediction log: predictions, labels (feedback) and the A/B configuration."""

from champion.predictionlog.reads import VariantStats
from champion.predictionlog.store import (
    AB_MODES,
    ABConfig,
    EventStore,
    FeedbackResult,
    sqlite_url,
    to_json,
    to_number,
)
from champion.predictionlog.writer import GroupCommitWriter

__all__ = [
    "AB_MODES",
    "ABConfig",
    "EventStore",
    "FeedbackResult",
    "GroupCommitWriter",
    "VariantStats",
    "sqlite_url",
    "to_json",
    "to_number",
]
