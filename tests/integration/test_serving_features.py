"""A client that sends the record it has: keys the model does not use are ignored and
listed (a 422 only with CHAMPION_STRICT_FEATURES), and a champion and a challenger with
different feature sets are both served from the same requests, each given its own."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from champion.datasets import Dataset
from champion.lifecycle import register_trained
from champion.predictionlog import EventStore, sqlite_url
from champion.serving.process import wait_for
from champion.settings import load_settings
from champion.simulation.replay import records
from champion.training import TrainConfig, train
from champion.types import Alias

from api_helpers import TOKEN, set_config
from servers import api_server

EXTRA = ["Survived", "Name"]  # the titanic record's columns no model uses


def _env(home, log, **extra) -> dict[str, str]:
    return {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": log,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
        **extra,
    }


def test_a_whole_record_is_served_and_its_extra_keys_are_listed(
    model_home, titanic, tmp_path
) -> None:
    record = records(titanic.frame, list(titanic.frame.columns))[0]  # every column, Name too
    log = sqlite_url(tmp_path / "events.db")
    with api_server(_env(model_home, log), tmp_path) as api, httpx.Client(timeout=10) as client:
        response = client.post(f"{api.url}/predict", json={"features": record})
        assert response.status_code == 200, response.text
        assert response.json()["ignored_features"] == EXTRA
        batch = client.post(f"{api.url}/predict/batch", json={"items": [{"features": record}] * 3})
        assert [p["ignored_features"] for p in batch.json()["predictions"]] == [EXTRA] * 3
        metrics = client.get(f"{api.url}/metrics").text
        assert "champion_ignored_features_total 8.0" in metrics
        missing = {k: v for k, v in record.items() if k != "Age"}
        refused = client.post(f"{api.url}/predict", json={"features": missing})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "features", "Age"]
        typed = client.post(f"{api.url}/predict", json={"features": record | {"Fare": "cheap"}})
        assert typed.status_code == 422 and typed.json()["detail"][0]["loc"][-1] == "Fare"
    store = EventStore(log)
    row = store.prediction(response.json()["request_id"])
    store.dispose()
    assert "Name" not in row["features"]  # the log keeps what the model used


def test_strict_features_restores_the_422(model_home, titanic, tmp_path) -> None:
    record = records(titanic.frame, list(titanic.frame.columns))[0]
    env = _env(model_home, sqlite_url(tmp_path / "events.db"), CHAMPION_STRICT_FEATURES="true")
    with api_server(env, tmp_path) as api:
        refused = httpx.post(f"{api.url}/predict", json={"features": record}, timeout=10)
    assert refused.status_code == 422
    assert [e["loc"][-1] for e in refused.json()["detail"][:2]] == EXTRA


@pytest.fixture(scope="module")
def two_feature_sets(tmp_path_factory, titanic, titanic_pair):
    """v1 champion on every feature, v2 challenger without Deck and Embarked."""
    home = tmp_path_factory.mktemp("feature-sets")
    settings = load_settings(home=home)
    register_trained(settings, titanic, titanic_pair[0], register_as=Alias.CHAMPION, reason="t")
    schema = replace(titanic.schema, categorical=("Sex",))
    fewer = Dataset(titanic.name, titanic.frame, schema, titanic.source)
    small = train(fewer.frame, schema, TrainConfig(budget=2, seed=3))
    register_trained(settings, fewer, small, register_as=Alias.CHALLENGER, reason="t")
    return home


def test_models_with_different_features_are_served_from_the_same_requests(
    two_feature_sets, titanic, tmp_path
) -> None:
    log = sqlite_url(tmp_path / "events.db")
    full = records(titanic.frame, list(titanic.schema.features))
    with (
        api_server(_env(two_feature_sets, log), tmp_path) as api,
        httpx.Client(timeout=10) as client,
    ):
        wait_for(f"{api.url}/models", "both", lambda b: b.get("challenger") is not None)
        set_config(api.url, mode="hash", split_b=0.5, experiment_id="features")
        answers = [
            client.post(f"{api.url}/predict", json={"user_id": i, "features": full[i]}).json()
            for i in range(60)
        ]
        # without Deck and Embarked only the challenger can answer: routed to B it does
        lean = {k: v for k, v in full[0].items() if k not in ("Deck", "Embarked")}
        user = next(i for i, a in enumerate(answers) if a["variant"] == "B")
        short = client.post(f"{api.url}/predict", json={"user_id": user, "features": lean})
        assert short.status_code == 200 and short.json()["model_version"] == "2"
    store = EventStore(log)
    for answer in answers:
        row = store.prediction(answer["request_id"])
        assert (row["version_a"], row["version_b"]) == ("1", "2")  # both scored every row
        assert row["prediction_a"] is not None and row["prediction_b"] is not None
        if answer["variant"] == "A":
            assert answer["ignored_features"] == []
        else:
            assert answer["ignored_features"] == ["Deck", "Embarked"]
    lean_row = store.prediction(short.json()["request_id"])
    store.dispose()
    assert lean_row["version_a"] is None and lean_row["version_b"] == "2"
