"""Crafted JSON through real HTTP: each probe is a 422 naming where, the same on the fast
path (/predict) and FastAPI's (/predict/batch, /feedback), never a 500 — and a body built
to be slow to validate does not hold up a normal request beside it."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from champion.predictionlog import sqlite_url
from champion.simulation.replay import records

from api_helpers import AUTH, TOKEN
from servers import api_server


@pytest.fixture(scope="module")
def api(model_home, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    env = {
        "CHAMPION_HOME": str(model_home),
        "CHAMPION_DATABASE_URL": sqlite_url(tmp / "events.db"),
        "CHAMPION_ADMIN_TOKEN": TOKEN,
    }
    with api_server(env, tmp) as server:
        yield server


@pytest.fixture(scope="module")
def record(titanic) -> dict:
    return records(titanic.frame, titanic.schema.features)[0]


def _send(url: str, path: str, text: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{url}{path}",
        content=text.encode("utf-8", "surrogatepass"),
        headers={"content-type": "application/json", **headers},
        timeout=20,
    )


def _both(url: str, features_text: str, user_text: str = '"u1"') -> list[httpx.Response]:
    """The same features on the fast path and inside a batch."""
    one = f'{{"user_id": {user_text}, "features": {features_text}}}'
    return [_send(url, "/predict", one), _send(url, "/predict/batch", f'{{"items": [{one}]}}')]


def _features(record: dict, **raw: str) -> str:
    """The record as JSON text, with some values replaced by raw JSON text."""
    parts = [f'"{k}": {raw[k] if k in raw else json.dumps(v)}' for k, v in record.items()]
    return "{" + ", ".join(parts) + "}"


PROBES = {
    "a 400-digit number": ({"Fare": "1" + "0" * 400}, '"u1"', "signed 64-bit"),
    "a number beyond a double": ({"Fare": "1e400"}, '"u1"', "not a finite number"),
    "NaN": ({"Age": "NaN"}, '"u1"', "not a finite number"),
    "truncated": ({"Age": "[1"}, '"u1"', "invalid JSON"),
    "an integer of 2^63": ({"Age": str(2**63)}, '"u1"', "signed 64-bit"),
    "a lone surrogate": ({"Sex": '"\\ud800"'}, '"u1"', "lone surrogate"),
    "a NUL character": ({"Sex": '"ma\\u0000le"'}, '"u1"', "NUL"),
    "nested 1,000 deep": ({"Deck": "[" * 1000 + "]" * 1000}, '"u1"', "nested deeper"),
}


@pytest.mark.parametrize("name", list(PROBES))
def test_crafted_values_are_a_422_on_every_path(api, record, name) -> None:
    raw, user, reason = PROBES[name]
    for response in _both(api.url, _features(record, **raw), user):
        assert response.status_code == 422, (name, response.request.url, response.text[:300])
        (error,) = response.json()["detail"]
        assert reason in error["msg"], error
        if reason != "invalid JSON":  # the field is named, on both paths
            assert next(iter(raw)) in error["loc"], error


@pytest.mark.parametrize(
    "user", ["true", "18446744073709551616", "1.5", '""', '"' + "u" * 257 + '"']
)
def test_a_user_id_is_a_bounded_string_or_an_integer(api, record, user) -> None:
    for response in _both(api.url, _features(record), user):
        assert response.status_code == 422, (user, response.text[:300])
        assert "user_id" in response.json()["detail"][0]["loc"], response.json()


def test_labels_face_the_same_guard(api) -> None:
    text = '{"request_id": "r", "label": "\\ud800"}'
    response = _send(api.url, "/feedback", text, **AUTH)
    assert response.status_code == 422 and "lone surrogate" in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "label"]
    long = _send(api.url, "/feedback", '{"request_id": "r", "label": "' + "x" * 300 + '"}', **AUTH)
    assert long.status_code == 422
    assert any("at most 256 characters" in e["msg"] for e in long.json()["detail"]), long.text


def test_a_body_of_many_keys_is_refused_at_once_and_stalls_nobody(api, record) -> None:
    keys = ",".join(f'"{i}":0' for i in range(150_000))  # ~1.4 MB, under the body limit
    hostile = f'{{"features": {{{keys}}}}}'
    assert len(hostile) < 2 * 1024 * 1024
    answered: dict[str, float] = {}

    def normal() -> None:
        time.sleep(0.05)  # while the hostile body is being handled
        started = time.perf_counter()
        ok = httpx.post(f"{api.url}/predict", json={"features": record}, timeout=20)
        assert ok.status_code == 200
        answered["normal"] = time.perf_counter() - started

    beside = threading.Thread(target=normal)
    beside.start()
    response = _send(api.url, "/predict", hostile)
    beside.join()
    assert response.status_code == 422
    assert len(response.content) < 500  # one short error, not one per key
    assert "150000 keys in one object (at most 1000)" in response.json()["detail"][0]["msg"]
    # generous for a loaded CI machine; the unbounded validation took 15 s
    assert answered["normal"] < 3.0, answered
