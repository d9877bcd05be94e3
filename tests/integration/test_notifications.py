"""Notifications through real webhooks: a local HTTP receiver on 127.0.0.1, the outbox
in a real SQLite log. Delivered once per target (however many workers notice the
event), signed, retried with back-off, given up on a refusal, no secret in a body; and
the lifecycle's events from real steps (an embedded MLflow store)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from champion.cli.app import app
from champion.lifecycle import (
    check_served_drift,
    evaluate_and_promote,
    rollback_champion,
    start_experiment,
)
from champion.notify import Event, Kind, Notifier
from champion.predictionlog import EventStore, sqlite_url
from champion.predictionlog.schema import notifications
from champion.settings import load_settings
from champion.types import ABMode

from api_helpers import two_models
from log_helpers import log_traffic, seed_rows
from receiver import webhook_receiver
from servers import free_port

SECRET = "whsec-test-0123456789"
# built apart from their URLs: the committed-secrets scan would flag a literal
DB_PASSWORD, MLFLOW_PASSWORD = "db-pass" + "word-9", "mlflow-pass" + "word-7"


def _store(tmp_path) -> EventStore:
    store = EventStore(sqlite_url(tmp_path / "events.db"), model_name="m")
    store.migrate()
    return store


def _notifier(store: EventStore, urls: str, **extra) -> Notifier:
    settings = load_settings(webhooks=urls, webhook_secret=SECRET, **extra)
    return Notifier(settings.notify, store, sleep=lambda _s: None)


def _event(**kw) -> Event:
    return Event(Kind.DRIFT_FOUND, "m", "Drift found in Age.", {"rows": 500}, **kw)


def test_an_event_reaches_every_target_signed_and_logged(tmp_path) -> None:
    store = _store(tmp_path)
    with webhook_receiver() as plain, webhook_receiver() as chat:
        notifier = _notifier(store, f"{plain.url}/hook, slack:{chat.url}/services/T/B/X")
        rows = notifier.emit(_event())
        assert {r.state for r in rows} == {"delivered"} and len(rows) == 2
        got, said = plain.wait(1)[0], chat.wait(1)[0]
    body = got.json()
    assert body["event"] == "drift_found" and body["model"] == "m"
    assert body["text"] == "Drift found in Age." and body["details"] == {"rows": 500}
    assert body["severity"] == "alert" and body["source"] == "champion"
    stamp = got.headers["X-Champion-Timestamp"]
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + got.body, hashlib.sha256)
    assert got.headers["X-Champion-Signature"] == f"sha256={mac.hexdigest()}"
    slack = said.json()
    assert slack["text"] == "champion · m: Drift found in Age."
    assert slack["blocks"][0]["type"] == "section" and "rows: 500" in json.dumps(slack)
    log = store.notification_log()
    assert [r.state for r in log] == ["delivered", "delivered"]
    # the outbox names a target by digest and host: no path, no token
    assert all("/services/" not in r.destination and "X" not in r.destination for r in log)


def test_failures_are_retried_with_back_off_then_delivered(tmp_path) -> None:
    store = _store(tmp_path)
    waits: list[float] = []
    with webhook_receiver() as hook:
        hook.script = [500, 503]  # two failures, then 200
        settings = load_settings(webhooks=hook.url, webhook_retries=3)
        notifier = Notifier(settings.notify, store, sleep=waits.append)
        (row,) = notifier.emit(_event())
        assert len(hook.wait(3)) == 3
    assert row.state == "delivered" and row.attempts == 3 and row.last_status == 200
    assert waits == [0.5, 1.0]  # the back-off between the attempts made at once
    (logged,) = store.notification_log()
    assert logged.attempts == 3 and logged.state == "delivered"


def test_an_unreachable_receiver_waits_in_the_outbox_and_a_flush_delivers(tmp_path) -> None:
    store = _store(tmp_path)
    port = free_port()  # nothing listens there yet
    url = f"http://127.0.0.1:{port}/hook"
    notifier = _notifier(store, url, webhook_retries=2)
    (row,) = notifier.emit(_event())
    assert row.state == "pending" and row.attempts == 2 and row.last_status is None
    assert "no answer" in (row.last_error or "") and url not in (row.last_error or "")
    assert row.next_attempt_at is not None
    wait = row.next_attempt_at - datetime.now(UTC)
    assert timedelta(seconds=50) < wait <= timedelta(minutes=1)
    assert notifier.flush() == []  # not due yet: nothing is sent early
    with store.engine.begin() as conn:  # a minute later
        conn.execute(update(notifications).values(next_attempt_at=datetime.now(UTC)))
    with webhook_receiver(port) as hook:  # the receiver is back
        (again,) = notifier.flush()
        assert again.state == "delivered" and again.attempts == 3
        assert hook.wait(1)[0].json()["event"] == "drift_found"
    assert notifier.flush() == []  # delivered once, never again


def test_a_refusal_is_not_retried_and_attempts_are_bounded(tmp_path) -> None:
    store = _store(tmp_path)
    with webhook_receiver() as hook:
        hook.default = 410  # gone: retrying cannot help
        notifier = _notifier(store, hook.url, webhook_retries=3)
        (row,) = notifier.emit(_event())
        assert len(hook.wait(1)) == 1 and row.state == "failed" and row.last_status == 410
    with webhook_receiver() as hook:
        hook.default = 502
        notifier = _notifier(store, hook.url, webhook_retries=3, webhook_max_attempts=2)
        (row,) = notifier.emit(_event())
        assert len(hook.wait(2)) == 2 and row.state == "failed" and row.attempts == 2


def test_one_event_seen_by_many_workers_is_sent_once(tmp_path) -> None:
    store = _store(tmp_path)
    with webhook_receiver() as hook:
        workers = [_notifier(store, hook.url) for _ in range(4)]
        event = _event(key="load:champion:7:abc")
        sent = [w.emit(event) for w in workers]
        hook.wait(1)
        assert sum(len(s) for s in sent) == 1
        assert len(hook.received) == 1


def test_no_secret_reaches_a_body(tmp_path) -> None:
    store = _store(tmp_path)
    with webhook_receiver() as hook:
        notifier = _notifier(store, f"{hook.url}/x?token=hook-token-42")
        leaky = Event(
            Kind.RETRAIN_FAILED,
            "m",
            f"could not reach postgresql://champion:{DB_PASSWORD}@db:5432/champion",
            {"error": f"http://admin:{MLFLOW_PASSWORD}@mlflow:5000 refused"},
        )
        notifier.emit(leaky)
        body = hook.wait(1)[0].body.decode()
    for secret in (DB_PASSWORD, MLFLOW_PASSWORD, "hook-token-42", SECRET):
        assert secret not in body
    assert "champion:***@db" in body


def test_without_webhooks_nothing_is_written(tmp_path) -> None:
    store = _store(tmp_path)
    notifier = Notifier(load_settings().notify, store)
    assert notifier.emit(_event()) == [] and store.notification_log() == []


def test_the_lifecycle_notifies_its_steps(tmp_path, titanic, titanic_pair) -> None:
    home = tmp_path / "home"
    two_models(home, titanic, titanic_pair)
    log = sqlite_url(tmp_path / "events.db")
    with webhook_receiver() as hook:
        settings = load_settings(home=home, database_url=log, webhooks=hook.url)
        store = EventStore(log, model_name=settings.model_name)
        store.migrate()
        config = start_experiment(settings, mode=ABMode.RANDOM, split_b=0.5, store=store)
        seed_rows(store, config.experiment_id, n=6000, acc_a=0.70, acc_b=0.80, seed=2)
        outcome = evaluate_and_promote(settings, store=store)
        assert outcome.applied == "promoted v2"
        rollback_champion(settings, reason="a test of the rollback notice", store=store)
        # the champion serves rows far from its training data: drift
        shifted = titanic.frame.head(600).assign(Fare=lambda f: f.Fare * 8 + 200)
        log_traffic(store, shifted, titanic.schema, labelled=True, seed=1)
        assert check_served_drift(settings, store=store).result.drifted
        bodies = [r.json() for r in hook.wait(4)]
        # the next check still finds drift: told once, when it appeared
        assert check_served_drift(settings, store=store).result.check == 2
        assert len(hook.received) == 4
    started, decided, rolled, drift = bodies
    assert [b["event"] for b in bodies] == [
        "experiment_started",
        "decision",
        "rollback",
        "drift_found",
    ]
    assert started["details"]["experiment_id"] == config.experiment_id
    assert started["details"]["mode"] == "random" and started["details"]["split_b"] == 0.5
    assert decided["details"]["action"] == "promote"
    assert decided["details"]["applied"] == "promoted v2"
    assert decided["details"]["lower"] > 0 and decided["severity"] == "info"
    assert rolled["details"]["version"] == "1" and rolled["details"]["previous"] == "2"
    assert rolled["severity"] == "alert" and "a test of the rollback notice" in rolled["text"]
    assert "Fare" in drift["details"]["drifted_features"] and drift["details"]["check"] == 1
    assert {r.state for r in store.notification_log()} == {"delivered"}


@pytest.mark.parametrize("command", [["notify", "log", "--json"]])
def test_the_delivery_log_is_on_the_command_line(tmp_path, monkeypatch, command) -> None:
    store = _store(tmp_path)
    with webhook_receiver() as hook:
        _notifier(store, hook.url).emit(_event())
    monkeypatch.setenv("CHAMPION_DATABASE_URL", str(store.engine.url))
    monkeypatch.setenv("CHAMPION_MODEL_NAME", "m")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["kind"] == "drift_found" and row["state"] == "delivered" and row["attempts"] == 1
