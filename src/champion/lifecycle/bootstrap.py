"""The first run: no champion yet, so one is trained on the reference data and made
champion directly (no A/B test); and the status of the aliases, which decides what a
scheduled pipeline does next."""

from __future__ import annotations

from dataclasses import dataclass

from champion.datasets import Dataset
from champion.lifecycle.registration import Progress, TrainOutcome, train_and_register
from champion.lifecycle.workspace import Workspace
from champion.settings import Settings
from champion.tracking.registry import VersionInfo
from champion.training import TrainConfig
from champion.types import Alias


@dataclass(frozen=True)
class BootstrapOutcome:
    """The champion after bootstrap, and whether this call created it."""

    champion: VersionInfo
    created: bool
    training: TrainOutcome | None


def bootstrap(
    settings: Settings,
    dataset: Dataset,
    config: TrainConfig,
    *,
    on_progress: Progress | None = None,
) -> BootstrapOutcome:
    """No champion yet? Train on the reference data and make it champion directly."""
    ws = Workspace(settings)
    ws.require_logging("bootstrap")
    existing = ws.alias(Alias.CHAMPION)
    if existing is not None:
        return BootstrapOutcome(champion=existing, created=False, training=None)
    outcome = train_and_register(
        settings,
        dataset,
        config,
        register_as=Alias.CHAMPION,
        reason=f"bootstrap: no champion existed; trained on {dataset.name}",
        on_progress=on_progress,
    )
    assert outcome.version is not None  # registered: MLFLOW_LOG is true
    return BootstrapOutcome(champion=outcome.version, created=True, training=outcome)


def model_status(settings: Settings) -> dict[str, str | None]:
    """The versions behind the aliases: ``{"champion": "3", "challenger": None}``."""
    ws = Workspace(settings)
    out: dict[str, str | None] = {}
    for alias in Alias:
        version = ws.alias(alias)
        out[alias] = version.version if version else None
    return out
