"""Labels are trusted input: ``POST /feedback`` needs the feedback (or admin) token, each
label records which, and a label the model cannot have is a 422 naming it. A read token,
when set, guards what an experiment shows; health stays open."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from champion.lifecycle import evaluate_and_promote, register_trained
from champion.predictionlog import EventStore, sqlite_url
from champion.predictionlog.schema import feedback
from champion.settings import load_settings
from champion.simulation.replay import records
from champion.training import TrainConfig, train
from champion.types import Alias

from api_helpers import TOKEN, set_config
from servers import api_server

LABELS = "label-pipeline-token-0123456789"
READ = "dashboard-read-token-0123456789"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _env(home, log, **extra: str) -> dict[str, str]:
    return {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": log,
        "CHAMPION_POLL_INTERVAL": "0.5",
        **extra,
    }


def _predict(client: httpx.Client, url: str, features: dict, n: int) -> list[str]:
    ids = []
    for i in range(n):
        response = client.post(f"{url}/predict", json={"user_id": f"u{i}", "features": features})
        assert response.status_code == 200, response.text
        ids.append(response.json()["request_id"])
    return ids


def _sources(log: str) -> dict[str, str]:
    store = EventStore(log)
    with store.engine.begin() as conn:
        rows = conn.execute(select(feedback.c.request_id, feedback.c.source)).all()
    store.dispose()
    return dict(rows)


def test_labels_need_a_token_and_record_its_kind(model_home, titanic, tmp_path) -> None:
    log = sqlite_url(tmp_path / "events.db")
    env = _env(model_home, log, CHAMPION_ADMIN_TOKEN=TOKEN, CHAMPION_FEEDBACK_TOKEN=LABELS)
    features = records(titanic.frame, titanic.schema.features)[0]
    with api_server(env, tmp_path) as api, httpx.Client(timeout=10) as client:
        ids = _predict(client, api.url, features, 4)
        url = f"{api.url}/feedback"
        label = {"request_id": ids[0], "label": 1}
        anonymous = client.post(url, json=label)
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        assert client.post(url, json=label, headers=_bearer(READ)).status_code == 403
        assert client.post(url, json=label, headers=_bearer(LABELS)).status_code == 200
        by_admin = {"request_id": ids[1], "label": 0}
        assert client.post(url, json=by_admin, headers=_bearer(TOKEN)).status_code == 200

        banana = client.post(
            url, json={"request_id": ids[2], "label": "banana"}, headers=_bearer(LABELS)
        )
        assert banana.status_code == 422
        (error,) = banana.json()["detail"]
        assert error["loc"] == ["body", "label"]
        assert "'banana' is not one of the model's classes (0, 1)" in error["msg"]
        batch = {"items": [{"request_id": ids[2], "label": 0}, {"request_id": ids[3], "label": 7}]}
        refused = client.post(url, json=batch, headers=_bearer(LABELS))
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "items", 1, "label"]
        spelled = {"items": [{"request_id": ids[2], "label": "0"}]}  # the class, as a string
        assert client.post(url, json=spelled, headers=_bearer(LABELS)).status_code == 200
        metrics = client.get(f"{api.url}/metrics").text
        assert 'champion_feedback_total{outcome="invalid"} 2.0' in metrics
    assert _sources(log) == {ids[0]: "feedback", ids[1]: "admin", ids[2]: "feedback"}


def test_without_a_token_configured_labels_are_refused(model_home, titanic, tmp_path) -> None:
    log = sqlite_url(tmp_path / "events.db")
    features = records(titanic.frame, titanic.schema.features)[0]
    with api_server(_env(model_home, log), tmp_path) as api, httpx.Client(timeout=10) as client:
        (rid,) = _predict(client, api.url, features, 1)
        response = client.post(
            f"{api.url}/feedback", json={"request_id": rid, "label": 1}, headers=_bearer("x")
        )
        assert response.status_code == 403
        assert "CHAMPION_FEEDBACK_TOKEN" in response.json()["detail"]
    assert _sources(log) == {}


def test_a_read_token_guards_the_report_and_the_models(model_home, tmp_path) -> None:
    env = _env(
        model_home,
        sqlite_url(tmp_path / "events.db"),
        CHAMPION_ADMIN_TOKEN=TOKEN,
        CHAMPION_READ_TOKEN=READ,
    )
    with api_server(env, tmp_path) as api, httpx.Client(timeout=10) as client:
        for path in ("/ab/report", "/models"):
            assert client.get(f"{api.url}{path}").status_code == 401, path
            assert client.get(f"{api.url}{path}", headers=_bearer(LABELS)).status_code == 403
            assert client.get(f"{api.url}{path}", headers=_bearer(READ)).status_code == 200
            assert client.get(f"{api.url}{path}", headers=_bearer(TOKEN)).status_code == 200
        for path in ("/health", "/ready", "/ab/config"):
            assert client.get(f"{api.url}{path}").status_code == 200, path


def test_a_regressor_takes_numbers_only(diamonds, tmp_path) -> None:
    home = tmp_path / "home"
    settings = load_settings(home=home)
    frame = diamonds.frame.sample(600, random_state=0)
    small = type(diamonds)(diamonds.name, frame, diamonds.schema, diamonds.source)
    result = train(frame, diamonds.schema, TrainConfig(budget=2, estimators=("rf",), seed=0))
    register_trained(settings, small, result, register_as=Alias.CHAMPION, reason="test")
    log = sqlite_url(tmp_path / "events.db")
    features = records(frame, diamonds.schema.features)[0]
    env = _env(home, log, CHAMPION_FEEDBACK_TOKEN=LABELS)
    with api_server(env, tmp_path) as api, httpx.Client(timeout=10) as client:
        ids = _predict(client, api.url, features, 3)
        url, auth = f"{api.url}/feedback", _bearer(LABELS)
        for bad in ("banana", True, "1234.5"):
            response = client.post(url, json={"request_id": ids[0], "label": bad}, headers=auth)
            assert response.status_code == 422, bad
            assert (
                "is not a number (the model is a regressor)" in response.json()["detail"][0]["msg"]
            )
        for good in (1234.5, 99):
            rid = ids.pop()
            response = client.post(url, json={"request_id": rid, "label": good}, headers=auth)
            assert response.status_code == 200, response.text
    assert len(_sources(log)) == 2


def test_a_steering_attempt_without_the_token_changes_no_decision(
    model_home, titanic, tmp_path
) -> None:
    """The attack: requests under chosen user ids, then one batch of labels marking every
    B answer right and every A answer wrong. Without the feedback token every label is
    refused, nothing is stored, and the evaluation has nothing to promote on; the real
    label pipeline's labels are then the only ones counted."""
    log = sqlite_url(tmp_path / "events.db")
    env = _env(model_home, log, CHAMPION_ADMIN_TOKEN=TOKEN, CHAMPION_FEEDBACK_TOKEN=LABELS)
    rows = records(titanic.frame, titanic.schema.features)
    truth = titanic.frame[titanic.schema.target].tolist()
    settings = load_settings(home=model_home, database_url=log, ab_min_labelled=50)
    with api_server(env, tmp_path) as api, httpx.Client(timeout=10) as client:
        set_config(api.url, mode="hash", split_b=0.5, experiment_id="steer")
        answers = []
        for i in range(700):
            body = {"user_id": f"attacker-{i}", "features": rows[i % len(rows)]}
            answers.append(client.post(f"{api.url}/predict", json=body).json())
        forged = [
            {
                "request_id": a["request_id"],
                "label": a["prediction"] if a["variant"] == "B" else 1 - a["prediction"],
            }
            for a in answers
        ]
        for headers in ({}, _bearer("guessed-token"), _bearer(READ)):
            refused = client.post(f"{api.url}/feedback", json={"items": forged}, headers=headers)
            assert refused.status_code in (401, 403)
        assert _sources(log) == {}
        before = evaluate_and_promote(settings, apply=False).decision
        assert before.action != "promote" and sum(before.labelled) == 0
        real = [
            {"request_id": a["request_id"], "label": int(truth[i % len(truth)])}
            for i, a in enumerate(answers)
        ]
        assert client.post(
            f"{api.url}/feedback", json={"items": real}, headers=_bearer(LABELS)
        ).json() == {"inserted": 700, "duplicates": 0}
    after = evaluate_and_promote(settings, apply=False).decision
    assert sum(after.labelled) == 700
