"""Experiments through the real API (uvicorn on 127.0.0.1, an embedded MLflow store, a
SQLite log), then evaluated by the lifecycle: repeat users in hash mode are the units,
a challenger that raises never fails the champion's answers and its failures are
counted, and a split changed in the middle starts a phase instead of breaking the
experiment."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import mlflow
import mlflow.models
import mlflow.sklearn
import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from champion.abtest import decide_frame
from champion.lifecycle import evaluate_and_promote, register_trained
from champion.predictionlog import EventStore, sqlite_url
from champion.serving.process import wait_for
from champion.settings import load_settings
from champion.tracking.connection import connect
from champion.tracking.registry import ModelRegistry
from champion.types import Action, Alias

from api_helpers import AUTH, TOKEN, feature_rows, set_config, two_models
from servers import api_server


def _env(home: Path, log: str) -> dict[str, str]:
    return {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": log,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
    }


def _label(client: httpx.Client, url: str, answers: list[dict], labels: list) -> None:
    items = [
        {"request_id": a["request_id"], "label": int(y)}
        for a, y in zip(answers, labels, strict=True)
    ]
    for k in range(0, len(items), 500):
        assert (
            client.post(
                f"{url}/feedback", headers=AUTH, json={"items": items[k : k + 500]}
            ).status_code
            == 200
        )


@pytest.fixture
def served(tmp_path, titanic, titanic_pair):
    """The Titanic pair (v1 champion, v2 challenger) behind a running API."""
    home = tmp_path / "home"
    two_models(home, titanic, titanic_pair)
    log = sqlite_url(tmp_path / "events.db")
    with api_server(_env(home, log), tmp_path) as api:
        wait_for(f"{api.url}/models", "both models", lambda b: b.get("challenger") is not None)
        yield api, home, log


def test_hash_mode_randomises_users_and_counts_them(served, titanic) -> None:
    api, home, log = served
    set_config(api.url, mode="hash", split_b=0.5, experiment_id="users")
    rows = feature_rows(titanic.frame, titanic.schema.features)
    target = titanic.frame[titanic.schema.target].tolist()
    answers, labels, arm = [], [], {}
    with httpx.Client(timeout=10) as client:
        for user in range(60):  # 60 users, 15 requests each
            for k in range(15):
                i = (user * 15 + k) % len(rows)
                body = {"user_id": f"user-{user}", "features": rows[i]}
                answer = client.post(f"{api.url}/predict", json=body).json()
                arm.setdefault(user, set()).add(answer["variant"])
                answers.append(answer)
                labels.append(target[i])
        _label(client, api.url, answers, labels)
    assert all(len(v) == 1 for v in arm.values())  # a user stays in one arm
    settings = load_settings(home=home, database_url=log, ab_min_labelled=50)
    decision = evaluate_and_promote(settings, apply=False).decision
    users_b = sum(v == {"B"} for v in arm.values())
    # the sample-ratio check counts users (the units randomised), not their 900 requests
    assert decision.srm.statistic == pytest.approx(abs(users_b / 60 - 0.5))
    assert decision.action != Action.INVALID
    assert decision.metrics["A"]["labelled"] + decision.metrics["B"]["labelled"] == 900


def _exploding_challenger(home: Path, titanic, good) -> None:
    """Register, as challenger, a model that raises on every call (its signature is the
    champion's, so it loads and takes every row)."""
    settings = load_settings(home=home)
    register_trained(settings, titanic, good, register_as=Alias.CHAMPION, reason="test")
    tracking = connect(settings)
    registry = ModelRegistry(tracking.client, settings.model_name, cache_ttl=0)
    champion = registry.alias(Alias.CHAMPION)
    signature = mlflow.models.get_model_info(champion.model_uri).signature
    features = titanic.frame[list(titanic.schema.features)]
    boom = FunctionTransformer(lambda x: 1 / 0, validate=False, check_inverse=False).fit(features)
    model = Pipeline([("boom", boom), ("model", good.model)])
    experiment = mlflow.get_experiment_by_name(settings.experiment_name).experiment_id
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.sklearn.log_model(
            model, name="model", signature=signature, serialization_format="cloudpickle"
        )
    registry.register(
        info.model_uri,
        run.info.run_id,
        alias=Alias.CHALLENGER,
        actor="test",
        reason="a challenger that raises",
        model_id=info.model_id,
    )


def test_a_failing_challenger_never_fails_the_champions_answers(
    tmp_path, titanic, titanic_pair
) -> None:
    home = tmp_path / "home"
    _exploding_challenger(home, titanic, titanic_pair[0])
    log = sqlite_url(tmp_path / "events.db")
    rows = feature_rows(titanic.frame, titanic.schema.features)
    target = titanic.frame[titanic.schema.target].tolist()
    with api_server(_env(home, log), tmp_path) as api:
        wait_for(f"{api.url}/models", "the challenger", lambda b: b.get("challenger") is not None)
        set_config(api.url, mode="shadow", experiment_id="boom")
        with httpx.Client(timeout=10) as client:
            responses = [
                client.post(f"{api.url}/predict", json={"user_id": i, "features": rows[i]})
                for i in range(300)
            ]
            assert {r.status_code for r in responses} == {200}
            answers = [r.json() for r in responses]
            assert {a["model_version"] for a in answers} == {"1"}
            _label(client, api.url, answers, target[:300])
            # routed to the challenger, a request is answered by the champion instead
            set_config(api.url, mode="random", split_b=1.0, experiment_id="boom-split")
            routed = client.post(f"{api.url}/predict", json={"features": rows[0]})
            assert routed.status_code == 200
            assert (routed.json()["variant"], routed.json()["model_version"]) == ("B", "1")
            metrics = client.get(f"{api.url}/metrics").text
        failures = [
            line
            for line in metrics.splitlines()
            if line.startswith("champion_model_failures_total")
        ]
        assert any(
            'slot="challenger"' in line and float(line.split()[-1]) >= 301 for line in failures
        )
    store = EventStore(log)
    row = store.prediction(answers[0]["request_id"])
    assert (row["failed_a"], row["failed_b"], row["prediction_b"]) == (0, 1, None)
    assert json.loads(row["prediction_a"]) == answers[0]["prediction"]
    store.dispose()
    settings = load_settings(home=home, database_url=log, ab_min_labelled=50)
    set_shadow = EventStore(log)  # evaluate the shadow experiment it ran
    set_shadow.set_ab_config(experiment_id="boom", mode="shadow", split_b=0.5, updated_by="t")
    set_shadow.dispose()
    decision = evaluate_and_promote(settings, apply=False).decision
    guard = next(g for g in decision.guardrails if g.name == "error_rate")
    assert guard.estimate == pytest.approx(1.0) and not guard.passed
    assert decision.metrics["B"]["error_rate"] == pytest.approx(1.0)
    assert decision.action != Action.PROMOTE


def test_a_split_change_starts_a_phase(served, titanic) -> None:
    api, home, log = served
    rows = feature_rows(titanic.frame, titanic.schema.features)
    target = titanic.frame[titanic.schema.target].tolist()
    answers, labels = [], []
    with httpx.Client(timeout=10) as client:
        for split, users in ((0.2, range(0, 400)), (0.5, range(400, 800))):
            set_config(api.url, mode="hash", split_b=split, experiment_id="ramp")
            wait_for(f"{api.url}/ab/config", "the split", lambda b, s=split: b.get("split_b") == s)
            for user in users:
                i = user % len(rows)
                answer = client.post(
                    f"{api.url}/predict", json={"user_id": user, "features": rows[i]}
                )
                answers.append(answer.json())
                labels.append(target[i])
        _label(client, api.url, answers, labels)
    store = EventStore(log)
    phases = {store.prediction(a["request_id"])["phase"] for a in answers}
    assert len(phases) == 2
    frame, _ = store.experiment_frame("ramp", champion="1", challenger="2")
    store.dispose()
    assert sorted(frame["split_b"].unique()) == [0.2, 0.5]
    settings = load_settings(home=home, database_url=log, ab_min_labelled=50)
    decision = evaluate_and_promote(settings, apply=False).decision
    assert decision.action != Action.INVALID
    # against the current split alone, the all-time counts would look broken
    merged = decide_frame(
        frame.drop(columns=["phase", "split_b"]),
        settings.ab.policy(),
        task="classification",
        mode="hash",
        split_b=0.5,
    )
    b_share = np.mean([a["variant"] == "B" for a in answers])
    assert b_share < 0.42 and merged.srm.statistic > decision.srm.statistic
