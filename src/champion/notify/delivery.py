"""Sending notifications: written to the outbox first, then posted to every webhook.

:meth:`Notifier.emit` makes ``CHAMPION_WEBHOOK_RETRIES`` attempts at once (back-off
0.5 s, 1 s, 2 s, ...); what is still undelivered waits in the outbox, and
:meth:`Notifier.flush` — run by every lifecycle step, by the API every minute and by
``champion notify flush`` — tries it again, the wait doubling from a minute, until
``CHAMPION_WEBHOOK_MAX_ATTEMPTS``. A 4xx answer other than 408 and 429 gives up at once
(the receiver refuses the body; sending it again changes nothing). Nothing here raises:
a receiver or a database that is down costs a log line, never the step that noticed
the event.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from champion.errors import BackendError
from champion.notify.bodies import BodyFormat, render
from champion.notify.events import Event
from champion.predictionlog import EventStore, Outgoing
from champion.redact import redact
from champion.settings import NotifySettings, webhook_targets

log = logging.getLogger("champion.notify")

FIRST_RETRY = timedelta(minutes=1)
#: How long a claimed notification is left to its sender before another may try it.
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Target:
    """One webhook: the URL stays in memory; the outbox keeps only its digest and host."""

    url: str
    fmt: BodyFormat

    @property
    def id(self) -> str:
        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:16]

    @property
    def destination(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
        return f"{self.fmt}:{parts.scheme}://{host}{port}/…"


@dataclass(frozen=True)
class Attempt:
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        """The receiver refused this body: retrying cannot help."""
        code = self.status
        return code is not None and 400 <= code < 500 and code not in (408, 429)


def targets_of(settings: NotifySettings) -> tuple[Target, ...]:
    return tuple(Target(url, BodyFormat(fmt)) for fmt, url in webhook_targets(settings))


class Notifier:
    """Notifications of one model, through one prediction log's outbox."""

    def __init__(
        self,
        settings: NotifySettings,
        store: EventStore,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.store = store
        self.targets = {t.id: t for t in targets_of(settings)}
        self._client = client
        self._sleep = sleep

    @property
    def enabled(self) -> bool:
        return bool(self.targets)

    def _http(self) -> httpx.Client:
        if self._client is None:
            # no proxy from the environment: a receiver's token must not pass through one
            self._client = httpx.Client(timeout=self.settings.webhook_timeout, trust_env=False)
        return self._client

    def emit(self, event: Event) -> list[Outgoing]:
        """Write ``event`` for every target and try to send it now; returns the rows as
        they stand after this call's attempts (empty without webhooks)."""
        if not self.enabled:
            return []
        pairs = [(t.id, t.destination) for t in self.targets.values()]
        try:
            ids = self.store.enqueue_notification(event.key, event.kind, event.to_json(), pairs)
            rows = self.store.claim_notifications(LEASE, ids=ids)
        except BackendError as exc:
            log.warning("notification %s not written: %s", event.kind, exc)
            return []
        return [self._deliver(row, self.settings.webhook_retries) for row in rows]

    def flush(self) -> list[Outgoing]:
        """One more attempt at every due notification (each claimed first)."""
        if not self.enabled:
            return []
        try:
            rows = self.store.claim_notifications(LEASE)
        except BackendError as exc:
            log.warning("notifications not flushed: %s", exc)
            return []
        return [self._deliver(row, 1) for row in rows if row.target in self.targets]

    def _deliver(self, row: Outgoing, attempts: int) -> Outgoing:
        target = self.targets[row.target]
        event = Event.from_json(row.event)
        most = self.settings.webhook_max_attempts
        done, attempt, retry_at = row.attempts, Attempt(None, "not tried"), None
        for k in range(attempts):
            if k:
                self._sleep(0.5 * 2 ** (k - 1))
            attempt = self._post(target, event, f"{row.id}-{done + 1}")
            done += 1
            final = attempt.delivered or attempt.permanent or done >= most
            if final or k == attempts - 1:
                retry_at = (
                    None
                    if final
                    else datetime.now(UTC)
                    + FIRST_RETRY * 2 ** max(done - self.settings.webhook_retries, 0)
                )
            else:
                retry_at = datetime.now(UTC) + LEASE  # still this caller's
            self._record(row, attempt, retry_at)
            if final:
                break
        if not attempt.delivered:
            log.warning("notification %s to %s: %s", event.kind, target.destination, attempt.error)
        return replace(
            row,
            attempts=done,
            last_status=attempt.status,
            last_error=attempt.error,
            next_attempt_at=None if attempt.delivered else retry_at,
            delivered_at=datetime.now(UTC) if attempt.delivered else None,
        )

    def _record(self, row: Outgoing, attempt: Attempt, retry_at: datetime | None) -> None:
        try:
            self.store.record_attempt(
                row.id,
                status=attempt.status,
                error=attempt.error,
                delivered=attempt.delivered,
                retry_at=retry_at,
            )
        except BackendError as exc:  # the lease runs out and the row is sent again
            log.warning("delivery of notification %s not recorded: %s", row.id, exc)

    def _post(self, target: Target, event: Event, delivery: str) -> Attempt:
        body = render(event, target.fmt, delivery, self.settings.public_url)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "champion-notify/1",
            "X-Champion-Event": str(event.kind),
            "X-Champion-Delivery": delivery,
        }
        secret = self.settings.webhook_secret
        if secret is not None:
            stamp = str(int(time.time()))
            mac = hmac.new(
                secret.get_secret_value().encode("utf-8"),
                stamp.encode("ascii") + b"." + body,
                hashlib.sha256,
            )
            headers["X-Champion-Timestamp"] = stamp
            headers["X-Champion-Signature"] = f"sha256={mac.hexdigest()}"
        try:
            answer = self._http().post(target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # the URL (and any token in it) stays out of the message
            return Attempt(None, f"{type(exc).__name__}: no answer from {target.destination}")
        error = None if 200 <= answer.status_code < 300 else redact(answer.text[:200])
        return Attempt(answer.status_code, error)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
