"""Instant reload through MLflow's registry webhook: a real ``mlflow server`` (basic
auth) delivers its signed alias events to ``POST /hooks/mlflow`` of a two-worker API,
and both workers serve the new champion within a second of the promotion, although
their poll is a minute apart. Unsigned, forged, replayed and foreign events are refused
or ignored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import requests
from cryptography.fernet import Fernet

from champion.lifecycle import promote_version, register_trained
from champion.predictionlog import sqlite_url
from champion.settings import load_settings
from champion.tracking.connection import connect
from champion.tracking.webhooks import subscribe, unsubscribe
from champion.types import Alias

from api_helpers import TOKEN
from servers import ADMIN_PASSWORD, ADMIN_USER, api_server, mlflow_server

SECRET = "registry-hook-secret-0123456789"


def _mlflow_env() -> dict[str, str]:
    return {
        # the API is on 127.0.0.1 over plain HTTP: allowed explicitly
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        # the server caches who is subscribed (60 s by default): a fresh subscription
        # is seen within this
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory, titanic, titanic_pair) -> Iterator[tuple]:
    work = tmp_path_factory.mktemp("reload")
    with mlflow_server(work / "mlflow", env=_mlflow_env()) as mlflow:
        admin = {
            "mlflow_tracking_uri": mlflow.url,
            "mlflow_username": ADMIN_USER,
            "mlflow_password": ADMIN_PASSWORD,
            "home": work,
            "registry_webhook_secret": SECRET,
        }
        settings = load_settings(**admin)
        for alias, result in zip(Alias, titanic_pair, strict=True):
            register_trained(settings, titanic, result, register_as=alias, reason="test")
        env = {
            "CHAMPION_MLFLOW_TRACKING_URI": mlflow.url,
            "CHAMPION_MLFLOW_USERNAME": ADMIN_USER,
            "CHAMPION_MLFLOW_PASSWORD": ADMIN_PASSWORD,
            "CHAMPION_DATABASE_URL": sqlite_url(work / "events.db"),
            "CHAMPION_ADMIN_TOKEN": TOKEN,
            "CHAMPION_POLL_INTERVAL": "60",  # only the webhook can explain a fast swap
            "CHAMPION_REGISTRY_WEBHOOK_SECRET": SECRET,
        }
        with api_server(env, work, workers=2) as api:
            made = subscribe(connect(settings), f"{api.url}/hooks/mlflow", SECRET)
            assert made.created and set(made.events) == {
                "model_version_alias.created",
                "model_version_alias.deleted",
            }
            time.sleep(1.2)  # the server's subscriber cache turns over
            yield api, settings


def _champions(url: str, attempts: int = 40) -> dict[int, str]:
    seen: dict[int, str] = {}
    for _ in range(attempts):
        body = requests.get(f"{url}/health", timeout=5, headers={"Connection": "close"}).json()
        seen[body["worker"]] = body["champion"]
    return seen


def test_a_promotion_reaches_every_worker_at_once(served) -> None:
    api, settings = served
    assert set(_champions(api.url).values()) == {"1"}
    started = time.monotonic()
    promote_version(settings, "2", reason="instant reload test")
    moved = None
    while time.monotonic() - started < 10:
        seen = _champions(api.url, attempts=12)
        if len(seen) == 2 and set(seen.values()) == {"2"}:
            moved = time.monotonic() - started
            break
    assert moved is not None, _champions(api.url)
    # within a second here (benchmarks/promote_to_answer.py); the bound leaves room for a
    # loaded CI machine: the poll alone would take up to 60 s
    assert moved < 3.0, f"{moved:.2f} s"
    # and back: the champion alias set again is an event too
    started = time.monotonic()
    promote_version(settings, "1", reason="and back")
    while set(_champions(api.url, attempts=12).values()) != {"1"}:
        assert time.monotonic() - started < 10
    assert time.monotonic() - started < 3.0


def _signed(body: bytes, *, secret: str = SECRET, stamp: int | None = None) -> dict[str, str]:
    stamp_text = str(int(time.time()) if stamp is None else stamp)
    signed = f"delivery-1.{stamp_text}.".encode() + body
    mac = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    return {
        "X-MLflow-Signature": f"v1,{mac.decode()}",
        "X-MLflow-Timestamp": stamp_text,
        "X-MLflow-Delivery-Id": "delivery-1",
        "Content-Type": "application/json",
    }


def test_only_signed_fresh_events_of_this_model_are_acted_on(served) -> None:
    api, settings = served
    hook = f"{api.url}/hooks/mlflow"
    event = {
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "now",
        "data": {"name": settings.model_name, "alias": "champion", "version": "2"},
    }
    body = json.dumps(event).encode()
    with httpx.Client(timeout=10) as client:
        assert client.post(hook, content=body).status_code == 401
        forged = client.post(hook, content=body, headers=_signed(body, secret="guess"))
        assert forged.status_code == 403
        old = client.post(hook, content=body, headers=_signed(body, stamp=int(time.time()) - 900))
        assert old.status_code == 403
        other = json.dumps({**event, "data": {**event["data"], "name": "another"}}).encode()
        ignored = client.post(hook, content=other, headers=_signed(other))
        assert ignored.status_code == 200 and ignored.json() == {"reload": False}
        good = client.post(hook, content=body, headers=_signed(body))
        assert good.status_code == 200 and good.json() == {"reload": True, "signalled": True}
        # a signed event only makes the API look: the registry, not the body, says v1
        time.sleep(1.0)
        assert set(_champions(api.url, attempts=12).values()) == {"1"}


def test_unsubscribe_removes_the_webhook(served) -> None:
    _, settings = served
    tracking = connect(settings)
    assert unsubscribe(tracking) is True
    assert unsubscribe(tracking) is False
