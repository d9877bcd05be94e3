"""The events the lifecycle notifies, built from real decisions of the pure rule
(simulated experiments), and the two bodies a webhook receives."""

from __future__ import annotations

import json

import numpy as np

from champion.abtest import Policy, Scenario, decide
from champion.abtest.simulation import draw
from champion.lifecycle.notices import decision_events, experiment_started
from champion.notify import BodyFormat, Event, Kind, render
from champion.types import ABMode, Action


def _decision(scenario: Scenario, seed: int):
    return decide(draw(scenario, np.random.default_rng(seed)), Policy(), mode=scenario.mode)


def test_a_guardrail_that_holds_back_a_better_challenger_is_a_breach() -> None:
    # B is 3 points more accurate, its recall 6 points worse (the margin is 0.02)
    decision = _decision(Scenario(mode=ABMode.RANDOM, rows=40_000, tpr_b=0.74, tnr_b=0.92), 6)
    assert decision.interval.lower > 0 and decision.action != Action.PROMOTE
    events = decision_events("m", "e1", "1", "2", decision, Policy(), None)
    breaches = [e for e in events if e.kind == Kind.GUARDRAIL_BREACH]
    assert "recall" in {e.details["guardrail"] for e in breaches}
    assert all(e.key.startswith("guardrail:e1:") for e in breaches)  # once per experiment
    assert all(e.kind.severity == "alert" for e in breaches)


def test_a_promotion_is_a_decision_and_a_look_that_continues_is_nothing() -> None:
    better = _decision(Scenario(mode=ABMode.RANDOM, rows=20_000, tpr_b=0.88, tnr_b=0.88), 1)
    assert better.action == Action.PROMOTE
    (event,) = decision_events("m", "e1", "1", "2", better, Policy(), "promoted v2")
    assert event.kind == Kind.DECISION and event.details["action"] == "promote"
    assert event.details["lower"] == better.interval.lower > 0
    assert event.text.startswith("Challenger v2 is better: promote (promoted v2).")
    early = _decision(Scenario(mode=ABMode.RANDOM, rows=300), 2)
    assert early.action == Action.CONTINUE
    assert decision_events("m", "e1", "1", "2", early, Policy(), None) == []


def test_bodies_and_the_event_round_trip() -> None:
    event = experiment_started("m", "v1-v2-x", "shadow", 0.5, "1", "2")
    assert Event.from_json(event.to_json()) == event
    plain = json.loads(render(event, BodyFormat.JSON, "7-1", "https://api.example/"))
    assert plain["dashboard"] == "https://api.example/dashboard"
    assert plain["delivery_id"] == "7-1" and plain["event_id"] == "experiment:v1-v2-x"
    assert "both models score every request" in plain["text"]
    slack = json.loads(render(event, BodyFormat.SLACK, "7-1", "https://api.example"))
    assert (
        slack["blocks"][-1]["elements"][-1]["text"] == "<https://api.example/dashboard|dashboard>"
    )
    assert set(slack) == {"text", "blocks"}


def test_an_event_never_carries_a_password() -> None:
    event = Event(Kind.RETRAIN_FAILED, "m", "at postgresql://u:pw-1@db/x", {"e": "http://a:pw-2@h"})
    text = event.to_json()
    assert "pw-1" not in text and "pw-2" not in text and "u:***@db" in text
