"""Moving the champion alias by hand: a promotion or a rollback, recorded in the
registry's audit trail and notified."""

from __future__ import annotations

from champion.lifecycle.notices import alias_event
from champion.lifecycle.workspace import Workspace
from champion.predictionlog import EventStore
from champion.settings import Settings
from champion.tracking.registry import AliasEvent


def promote_version(
    settings: Settings, version: str | None, *, reason: str, store: EventStore | None = None
) -> AliasEvent:
    """Make ``version`` (default: the challenger) the champion."""
    ws = Workspace(settings, given_store=store)
    moved = ws.registry.promote(version, actor=settings.who, reason=reason)
    ws.notify(alias_event(settings.model_name, moved))
    return moved


def rollback_champion(
    settings: Settings, *, reason: str, store: EventStore | None = None
) -> AliasEvent:
    """Return the champion alias to the version the current champion replaced."""
    ws = Workspace(settings, given_store=store)
    moved = ws.registry.rollback(actor=settings.who, reason=reason)
    ws.notify(alias_event(settings.model_name, moved))
    return moved
