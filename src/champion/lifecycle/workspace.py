"""What a lifecycle step works on, opened in one place: the settings, one checked MLflow
connection, the registry of the model (read uncached: a step must see the aliases as they
are now) and the prediction log (opened and migrated on first use)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from champion.errors import ConfigError, NotFoundError
from champion.notify import Event, Notifier
from champion.predictionlog import EventStore, open_store
from champion.settings import Settings
from champion.tracking.connection import Tracking, connect
from champion.tracking.registry import ModelRegistry, VersionInfo
from champion.types import Alias


@dataclass(frozen=True)
class Workspace:
    """One lifecycle step's connections. ``store`` and ``tracking`` may be given (tests,
    the demo), else they are opened from ``settings`` when first needed."""

    settings: Settings
    given_store: EventStore | None = field(default=None, repr=False)
    given_tracking: Tracking | None = field(default=None, repr=False)

    @cached_property
    def tracking(self) -> Tracking:
        return self.given_tracking or connect(self.settings)

    @cached_property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.tracking.client, self.settings.model_name, cache_ttl=0)

    @cached_property
    def store(self) -> EventStore:
        return self.given_store or open_store(self.settings)

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(self.settings.notify, self.store)

    def notify(self, *events: Event) -> None:
        """Tell the webhooks (and retry what earlier steps could not deliver); never
        raises: a receiver that is down must not fail the step."""
        if not self.settings.notify.webhooks:
            return
        for event in events:
            self.notifier.emit(event)
        self.notifier.flush()

    def alias(self, alias: Alias) -> VersionInfo | None:
        """The version behind ``alias`` now."""
        return self.registry.alias(alias, refresh=True)

    def require(self, alias: Alias, doing: str) -> VersionInfo:
        """The version behind ``alias``; NotFoundError saying what needed it otherwise."""
        version = self.alias(alias)
        if version is None:
            raise NotFoundError(f"model {self.settings.model_name!r} has no {alias}: {doing}")
        return version

    def require_logging(self, step: str) -> None:
        """The steps that register a version need MLflow logging on."""
        if not self.settings.mlflow_log:
            raise ConfigError(f"{step} registers a model version in MLflow: set MLFLOW_LOG=true")
