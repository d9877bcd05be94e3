"""Notifications: webhooks (champion's JSON or Slack's form) told of drift, retraining,
experiments, decisions, guardrail breaches, rollbacks and models that fail to load —
through an outbox in the prediction log, which is also the delivery log."""

from champion.notify.bodies import BodyFormat, render
from champion.notify.delivery import Notifier, Target, targets_of
from champion.notify.events import Event, Kind

__all__ = ["BodyFormat", "Event", "Kind", "Notifier", "Target", "render", "targets_of"]
