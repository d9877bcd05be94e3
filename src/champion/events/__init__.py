"""The prediction log: predictions, labels (feedback) and the A/B configuration."""

from champion.events.reads import VariantStats
from champion.events.store import (
    AB_MODES,
    ABConfig,
    EventStore,
    FeedbackResult,
    sqlite_url,
    to_json,
    to_number,
)
from champion.events.writer import GroupCommitWriter

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
