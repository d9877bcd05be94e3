"""What champion tells people about: one :class:`Event` per thing that happened.

An event carries a sentence for people and a few details (versions, counts, reasons),
never a credential: every text passes :func:`champion.redact.redact`, and nothing from
the settings but the model's name is put in one. ``key`` names the event itself, so the
same failure seen by every API worker is one notification.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from champion.redact import redact

Detail = str | int | float | bool | None


class Kind(StrEnum):
    """The events champion notifies."""

    DRIFT_FOUND = "drift_found"
    PERFORMANCE_DROPPED = "performance_dropped"
    RETRAIN_STARTED = "retrain_started"
    RETRAIN_FINISHED = "retrain_finished"
    RETRAIN_FAILED = "retrain_failed"
    EXPERIMENT_STARTED = "experiment_started"
    DECISION = "decision"  # promote, reject or invalid (details["action"])
    GUARDRAIL_BREACH = "guardrail_breach"  # a guardrail holds back a better challenger
    PROMOTED = "promoted"  # by hand (champion promote)
    ROLLBACK = "rollback"
    MODEL_LOAD_FAILED = "model_load_failed"
    TEST = "test"  # champion notify test

    @property
    def severity(self) -> str:
        """``alert`` for what needs a person, ``info`` for the rest."""
        alerts = {
            Kind.DRIFT_FOUND,
            Kind.PERFORMANCE_DROPPED,
            Kind.RETRAIN_FAILED,
            Kind.GUARDRAIL_BREACH,
            Kind.ROLLBACK,
            Kind.MODEL_LOAD_FAILED,
        }
        return "alert" if self in alerts else "info"


def _clean(value: Detail) -> Detail:
    return redact(value)[:500] if isinstance(value, str) else value


@dataclass(frozen=True)
class Event:
    """One thing that happened to one model."""

    kind: Kind
    model: str
    text: str  # one or two sentences for people
    details: Mapping[str, Detail] = field(default_factory=dict)
    key: str = ""  # the event's identity; default: a new one (nobody else reports it)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "text", redact(self.text)[:2000])
        object.__setattr__(self, "details", {k: _clean(v) for k, v in self.details.items()})
        if not self.key:
            object.__setattr__(self, "key", f"{self.kind}:{uuid.uuid4()}")

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": str(self.kind),
                "model": self.model,
                "text": self.text,
                "details": dict(self.details),
                "key": self.key,
                "at": self.at.isoformat(),
            },
            allow_nan=False,
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> Event:
        data = json.loads(text)
        return cls(
            kind=Kind(data["kind"]),
            model=data["model"],
            text=data["text"],
            details=data["details"],
            key=data["key"],
            at=datetime.fromisoformat(data["at"]),
        )
