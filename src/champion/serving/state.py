"""What every endpoint of one app shares."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from champion.notify import Notifier
from champion.predictionlog import DEFAULT_EXPERIMENT, ABConfig, EventStore, GroupCommitWriter
from champion.redact import redact
from champion.serving.batching import MicroBatcher
from champion.serving.loading import ModelSlots
from champion.serving.prometheus import Metrics
from champion.settings import Settings
from champion.tracking.registry import ModelRegistry


@dataclass
class ServingState:
    """The models, the log and its writer, the A/B configuration; one per app."""

    settings: Settings
    store: EventStore
    slots: ModelSlots
    metrics: Metrics
    registry: ModelRegistry | None = None
    writer: GroupCommitWriter | None = None
    batcher: MicroBatcher | None = None
    ab: ABConfig | None = None
    database_ok: bool = False
    database_error: str | None = None
    partitions_made_at: float = 0.0  # monotonic time of the last partition upkeep
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    notifier: Notifier | None = None  # set when webhooks are configured
    # set by POST /hooks/mlflow: the poller reloads now instead of at its next poll
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    generation: int = 0  # the registry signal this worker last acted on
    reloads: int = 0  # refreshes a registry signal or webhook caused (for /health)
    dashboard_cache: tuple[float, Any] | None = None  # (monotonic time, Dashboard)
    drift_read_at: float = -1e9  # monotonic time the drift gauges were last read
    keeper: EventStore | None = None  # the log without the request deadline (A/B upkeep)
    keeping: int = 0  # upkeeps (and starts) of the A/B sums running: a start from a
    # route may overlap the periodic upkeep, which waits until none is

    def problems(self) -> list[str]:
        """What is degraded, redacted (``/health`` and the dashboard say the same)."""
        champion, _ = self.slots.snapshot()
        found = [p for p in (self.database_error, self.slots.last_error) if p]
        if self.writer is not None and self.writer.stalled:
            found.append("prediction log: a commit is waiting for the database")
        if champion is None:
            found.append("no champion model loaded")
        return [redact(p) for p in found]

    def config(self) -> ABConfig:
        """The A/B configuration in force: the stored one, else the settings'."""
        if self.ab is not None:
            return self.ab
        return ABConfig(
            experiment_id=DEFAULT_EXPERIMENT,
            mode=self.settings.ab.mode,
            split_b=self.settings.ab.split_b,
            updated_at=datetime.fromtimestamp(0, tz=UTC),
            updated_by="settings",
        )
