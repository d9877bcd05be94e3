"""The prediction log: predictions, labels (feedback), failures and the A/B
configuration, on SQLite or PostgreSQL.

Its names are loaded on first use: the API's log writer process imports
:mod:`champion.predictionlog.writes` alone, without the reads' pandas and statistics.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from champion.predictionlog.drift_checks import DriftCheckRecord
    from champion.predictionlog.notifications import Outgoing
    from champion.predictionlog.reads import VariantStats
    from champion.predictionlog.store import (
        DEFAULT_EXPERIMENT,
        ABConfig,
        EventStore,
        FeedbackResult,
        open_store,
        to_json,
        to_number,
    )
    from champion.predictionlog.writer import GroupCommitWriter
    from champion.predictionlog.writes import DEFAULT_MODEL, sqlite_url

#: Each public name, and the module it comes from.
_WHERE = {
    "DEFAULT_EXPERIMENT": "store",
    "DEFAULT_MODEL": "writes",
    "ABConfig": "store",
    "DriftCheckRecord": "drift_checks",
    "EventStore": "store",
    "FeedbackResult": "store",
    "GroupCommitWriter": "writer",
    "Outgoing": "notifications",
    "VariantStats": "reads",
    "open_store": "store",
    "sqlite_url": "writes",
    "to_json": "store",
    "to_number": "store",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup finds it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
