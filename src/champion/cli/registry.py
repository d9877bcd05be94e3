"""Commands: ``registry list|history``, ``promote``, ``rollback``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from champion.cli.app import app, registry_app
from champion.cli.common import JsonOpt, ReasonOpt, console
from champion.lifecycle.aliases import promote_version, rollback_champion
from champion.redact import redact
from champion.settings import load_settings
from champion.tracking.registry import DATASET_TAG, VersionInfo, open_registry


def _last_move(version: VersionInfo) -> str:
    moves = {
        k: v for k, v in version.tags.items() if k.startswith("champion.") and k.endswith(".at")
    }
    return max(moves.items(), key=lambda kv: kv[1])[0].split(".")[1] if moves else ""


@registry_app.command("list")
def registry_list(as_json: JsonOpt = False) -> None:
    """Every version of the model, with its aliases and run."""
    settings = load_settings()
    registry = open_registry(settings)
    versions = registry.versions()
    if as_json:
        rows = [
            {
                "version": v.version,
                "aliases": list(v.aliases),
                "created_at": v.created_at.isoformat(),
                "run_id": v.run_id,
                "tags": v.tags,
            }
            for v in versions
        ]
        console.print_json(json.dumps(rows))
        return
    if not versions:
        console.print(f"model {settings.model_name!r} has no registered version yet")
        return
    table = Table(title=f"{settings.model_name} ({redact(registry.client.tracking_uri)})")
    for col in ("version", "aliases", "created (UTC)", "run", "dataset", "last move"):
        table.add_column(col, overflow="fold")
    for v in versions:
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            v.run_id or "",
            v.tags.get(DATASET_TAG, ""),
            _last_move(v),
        )
    console.print(table)


@registry_app.command("history")
def registry_history(as_json: JsonOpt = False) -> None:
    """Who moved which alias, when, and why."""
    settings = load_settings()
    events = open_registry(settings).history()
    if as_json:
        console.print_json(json.dumps([e.__dict__ for e in events]))
        return
    if not events:
        console.print(f"model {settings.model_name!r} has no recorded alias move yet")
        return
    table = Table(title=f"Alias history of {settings.model_name}")
    for col in ("when (UTC)", "action", "alias", "version", "previous", "by", "why"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(
            e.at, e.action, e.alias, e.version or "—", e.previous or "—", e.actor, e.reason
        )
    console.print(table)


@app.command()
def promote(
    version: Annotated[
        str | None, typer.Argument(help="Version (default: the challenger).")
    ] = None,
    reason: ReasonOpt = None,
) -> None:
    """Make a version (default: the challenger) the champion."""
    settings = load_settings()
    event = promote_version(settings, version, reason=reason or "promoted from the command line")
    before = f" (was v{event.previous})" if event.previous else ""
    console.print(f"champion -> v{event.version}{before}")


@app.command()
def rollback(reason: ReasonOpt = None) -> None:
    """Return the champion alias to the version the current champion replaced."""
    settings = load_settings()
    event = rollback_champion(settings, reason=reason or "rolled back from the command line")
    console.print(f"champion -> v{event.version} (rolled back from v{event.previous})")
