"""The body a webhook receives: champion's JSON, or Slack's incoming-webhook form
(``text`` plus blocks; Mattermost, Rocket.Chat and Teams' Slack-compatible hooks take
it too)."""

from __future__ import annotations

import json
from enum import StrEnum

from champion.notify.events import Event


class BodyFormat(StrEnum):
    JSON = "json"
    SLACK = "slack"


def dashboard_link(public_url: str | None) -> str | None:
    return f"{public_url.rstrip('/')}/dashboard" if public_url else None


def json_body(event: Event, delivery: str, public_url: str | None) -> dict[str, object]:
    return {
        "source": "champion",
        "event": str(event.kind),
        "severity": event.kind.severity,
        "model": event.model,
        "text": event.text,
        "details": dict(event.details),
        "at": event.at.isoformat(),
        "event_id": event.key,
        "delivery_id": delivery,
        "dashboard": dashboard_link(public_url),
    }


def slack_body(event: Event, public_url: str | None) -> dict[str, object]:
    mark = ":rotating_light:" if event.kind.severity == "alert" else ":information_source:"
    title = f"{mark} *champion · {event.model}* — {event.kind.replace('_', ' ')}"
    facts = " · ".join(f"{k}: {v}" for k, v in event.details.items() if v is not None)
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{title}\n{event.text}"}}
    ]
    context = [facts[:2900]] if facts else []
    link = dashboard_link(public_url)
    if link:
        context.append(f"<{link}|dashboard>")
    if context:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": part} for part in context],
            }
        )
    return {"text": f"champion · {event.model}: {event.text}", "blocks": blocks}


def render(event: Event, fmt: BodyFormat, delivery: str, public_url: str | None) -> bytes:
    """The bytes posted to one target."""
    body = slack_body(event, public_url) if fmt == BodyFormat.SLACK else None
    if body is None:
        body = json_body(event, delivery, public_url)
    return json.dumps(body, allow_nan=False, default=str).encode("utf-8")
