"""Commands: ``notify test|flush|log`` (the webhooks champion tells of events) and
``webhook subscribe|unsubscribe`` (MLflow's registry webhook that reloads the API)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from champion.cli.app import notify_app, webhook_app
from champion.cli.common import JsonOpt, Opt, console
from champion.errors import ConfigError
from champion.notify import Event, Kind, Notifier
from champion.predictionlog import Outgoing, open_store
from champion.settings import load_settings
from champion.tracking.connection import connect
from champion.tracking.webhooks import DEFAULT_NAME, subscribe, unsubscribe


def _notifier() -> Notifier:
    settings = load_settings()
    if settings.notify.webhooks is None:
        raise ConfigError("no webhook configured: set CHAMPION_WEBHOOKS")
    return Notifier(settings.notify, open_store(settings))


def _rows(rows: list[Outgoing], as_json: bool, title: str) -> None:
    if as_json:
        console.print_json(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "kind": r.kind,
                        "destination": r.destination,
                        "state": r.state,
                        "attempts": r.attempts,
                        "last_status": r.last_status,
                        "last_error": r.last_error,
                        "created_at": r.created_at.isoformat(),
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table(title=title)
    for col in ("id", "event", "to", "state", "attempts", "status", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.id),
            r.kind,
            r.destination,
            r.state,
            str(r.attempts),
            str(r.last_status or "—"),
            (r.last_error or "")[:60],
        )
    console.print(table)


@notify_app.command("test")
def notify_test(as_json: JsonOpt = False) -> None:
    """Send a test event to every configured webhook; exit 1 unless all got it."""
    notifier = _notifier()
    event = Event(Kind.TEST, notifier.store.model_name, "champion can reach this webhook.")
    rows = notifier.emit(event)
    _rows(rows, as_json, "test notification")
    if not rows or any(r.state != "delivered" for r in rows):
        raise typer.Exit(1)


@notify_app.command("flush")
def notify_flush(as_json: JsonOpt = False) -> None:
    """Try again every notification that is due (the API does it every minute)."""
    _rows(_notifier().flush(), as_json, "notifications retried")


@notify_app.command("log")
def notify_log(
    limit: Annotated[int, Opt(min=1, max=10_000, help="How many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The delivery log: every notification, where it went and how it went."""
    settings = load_settings()
    rows = open_store(settings).notification_log(limit=limit)
    _rows(rows, as_json, f"latest {len(rows)} notifications")


@webhook_app.command("subscribe")
def webhook_subscribe(
    url: Annotated[str, typer.Argument(help="The API's hook, e.g. http://api:8000/hooks/mlflow.")],
    name: Annotated[str, Opt(help="The webhook's name in MLflow.")] = DEFAULT_NAME,
) -> None:
    """Subscribe the API to MLflow's alias events (secret: CHAMPION_REGISTRY_WEBHOOK_SECRET)."""
    settings = load_settings()
    secret = settings.serving.registry_webhook_secret
    if secret is None:
        raise ConfigError("set CHAMPION_REGISTRY_WEBHOOK_SECRET (the API needs the same one)")
    made = subscribe(connect(settings), url, secret.get_secret_value(), name=name)
    verb = "subscribed" if made.created else "updated"
    console.print(f"{verb} webhook {made.name} ({made.webhook_id}): {', '.join(made.events)}")


@webhook_app.command("unsubscribe")
def webhook_unsubscribe(
    name: Annotated[str, Opt(help="The webhook's name in MLflow.")] = DEFAULT_NAME,
) -> None:
    """Delete the registry webhook (the API goes back to polling alone)."""
    gone = unsubscribe(connect(load_settings()), name=name)
    console.print(f"deleted webhook {name}" if gone else f"no webhook named {name}")
