"""MLflow's model-registry webhooks: champion subscribes its API to alias events, so a
promotion reaches every worker at once (``POST /hooks/mlflow``) instead of at the next
poll. Offered by MLflow tracking servers from 3.3; the server must be allowed to call
the API (``MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https`` for plain HTTP inside a private
network, ``MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true`` for a private address)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from champion.errors import BackendError, ConfigError
from champion.redact import redact
from champion.tracking.connection import Tracking

ALIAS_EVENTS = ("model_version_alias.created", "model_version_alias.deleted")
DEFAULT_NAME = "champion-reload"


@dataclass(frozen=True)
class Subscription:
    webhook_id: str
    name: str
    url: str
    events: tuple[str, ...]
    status: str
    created: bool  # False: an existing subscription of that name was updated


def _fail(exc: Exception, what: str) -> BackendError:
    message = getattr(exc, "message", None) or str(exc)
    return BackendError(redact(f"MLflow could not {what}: {message}"))


def _of(hook: Any, created: bool) -> Subscription:
    return Subscription(
        hook.webhook_id,
        hook.name,
        hook.url,
        tuple(str(e) for e in hook.events),
        str(hook.status),
        created,
    )


def _named(client: Any, name: str) -> Any | None:
    token = None
    while True:
        page = client.list_webhooks(max_results=100, page_token=token)
        for hook in page:
            if hook.name == name:
                return hook
        token = page.token
        if not token:
            return None


def subscribe(
    tracking: Tracking, url: str, secret: str, *, name: str = DEFAULT_NAME
) -> Subscription:
    """Create (or update, by ``name``) the webhook that tells ``url`` of alias moves."""
    from mlflow.exceptions import MlflowException

    if not url.startswith(("http://", "https://")) or not url.rstrip("/").endswith("/hooks/mlflow"):
        raise ConfigError(f"the webhook URL is the API's /hooks/mlflow, got {url!r}")
    if not tracking.uri.startswith(("http://", "https://")):
        raise ConfigError("registry webhooks need an MLflow tracking server (not a local store)")
    client: Any = tracking.client
    try:
        existing = _named(client, name)
        if existing is None:
            hook = client.create_webhook(
                name=name,
                url=url,
                events=list(ALIAS_EVENTS),
                secret=secret,
                description="champion: reload the API's models when an alias moves",
            )
            return _of(hook, True)
        hook = client.update_webhook(
            existing.webhook_id,
            url=url,
            events=list(ALIAS_EVENTS),
            secret=secret,
            status="ACTIVE",
        )
        return _of(hook, False)
    except MlflowException as exc:
        raise _fail(exc, "subscribe the registry webhook") from exc


def unsubscribe(tracking: Tracking, *, name: str = DEFAULT_NAME) -> bool:
    """Delete the webhook of ``name``; False when there was none."""
    from mlflow.exceptions import MlflowException

    client: Any = tracking.client
    try:
        existing = _named(client, name)
        if existing is None:
            return False
        client.delete_webhook(existing.webhook_id)
    except MlflowException as exc:
        raise _fail(exc, "delete the registry webhook") from exc
    return True
