"""Models champion did not train — a LightGBM classifier, an XGBoost booster and a
custom pyfunc, each registered by hand — are served with the answers their own library
gives, A/B-tested against each other, promoted and hot-swapped (real uvicorn server,
embedded MLflow store, SQLite log)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import lightgbm
import mlflow
import mlflow.lightgbm
import mlflow.pyfunc
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import xgboost

from champion.lifecycle import evaluate_and_promote, start_experiment
from champion.predictionlog import sqlite_url
from champion.serving.loading import load_model
from champion.serving.process import wait_for
from champion.settings import load_settings
from champion.tracking.registry import open_registry
from champion.tracking.runs import version_task
from champion.types import ABMode, Action, Task

from api_helpers import AUTH, TOKEN, feature_rows
from handmade_models import (
    TITANIC_NUMBERS,
    TITANIC_TEXT,
    lightgbm_version,
    pyfunc_version,
    team_experiment,
    xgboost_version,
)
from servers import api_server

TARGET = "Survived"


@pytest.fixture(scope="module")
def handmade(tmp_path_factory, titanic):
    """v1 LightGBM, v2 XGBoost booster, v3 custom pyfunc, none trained by champion."""
    root = tmp_path_factory.mktemp("handmade")
    settings = load_settings(home=root / "home")
    settings.home.mkdir(parents=True)
    experiment = team_experiment(settings.tracking_uri, root / "team-artifacts")
    name, frame = settings.model_name, titanic.frame
    versions = {
        "lightgbm": lightgbm_version(experiment, name, frame, TARGET),
        "xgboost": xgboost_version(experiment, name, frame, TARGET),
        "pyfunc": pyfunc_version(experiment, name, frame, root / "team-code"),
    }
    assert versions == {"lightgbm": "1", "xgboost": "2", "pyfunc": "3"}
    return root / "home"


def _records(frame: pd.DataFrame) -> list[dict]:
    """Whole records as a client has them: the target dropped, every other column sent."""
    return feature_rows(frame, tuple(c for c in frame.columns if c != TARGET))


def test_each_flavour_answers_what_its_library_answers(handmade, titanic) -> None:
    settings = load_settings(home=handmade)
    registry = open_registry(settings)
    frame = titanic.frame
    rows = _records(frame)
    rows[0] = {**rows[0], "Age": None, "Deck": None}  # missing values are served too
    expected = frame.copy()
    expected.loc[0, ["Age", "Deck"]] = [np.nan, np.nan]

    lgbm = load_model(registry.get("1"))
    native = mlflow.lightgbm.load_model(lgbm_uri := registry.get("1").model_uri)
    x = expected.loc[:, [*TITANIC_NUMBERS, *TITANIC_TEXT]].astype(
        {c: "category" for c in TITANIC_TEXT}
    )
    assert isinstance(native, lightgbm.LGBMClassifier), lgbm_uri
    scored = lgbm.predictor.predict(rows)
    assert scored.labels == native.predict(x).tolist()
    np.testing.assert_allclose(scored.probability, native.predict_proba(x)[:, 1], rtol=1e-12)
    assert lgbm.classes == (0, 1) and lgbm.task is Task.CLASSIFICATION

    booster = load_model(registry.get("2"))
    raw = mlflow.xgboost.load_model(registry.get("2").model_uri)
    p = raw.predict(xgboost.DMatrix(expected.loc[:, list(TITANIC_NUMBERS)].astype(float)))
    scored = booster.predictor.predict(rows)
    np.testing.assert_allclose(scored.probability, p, rtol=1e-6)
    assert scored.labels == (p > 0.5).astype(int).tolist()
    assert booster.classes == (0, 1) and booster.spec.names == TITANIC_NUMBERS

    custom = load_model(registry.get("3"))
    want = mlflow.pyfunc.load_model(registry.get("3").model_uri).predict(
        expected.loc[:, ["Fare", "Sex"]].astype({"Sex": object})
    )
    scored = custom.predictor.predict(rows)
    assert scored.labels == want["prediction"].tolist()
    assert scored.probability == pytest.approx(want["probability"].tolist())
    assert custom.estimator_name == "FareRule" and custom.task is Task.CLASSIFICATION

    # the experiment's task comes from each model itself (the booster from its objective,
    # since its signature only shows probabilities)
    assert {version_task(registry.client, registry.get(v)) for v in "123"} == {Task.CLASSIFICATION}


def _serve_and_label(client: httpx.Client, url: str, rows: list[dict], labels: list) -> list:
    answers = []
    for i, row in enumerate(rows):
        response = client.post(f"{url}/predict", json={"user_id": f"u{i}", "features": row})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    pairs = zip(answers, labels, strict=True)
    items = [{"request_id": a["request_id"], "label": int(y)} for a, y in pairs]
    for k in range(0, len(items), 500):
        assert (
            client.post(
                f"{url}/feedback", headers=AUTH, json={"items": items[k : k + 500]}
            ).status_code
            == 200
        )
    return answers


def _start(url: str, settings, **how) -> None:
    """Start the experiment as the lifecycle does; wait until the API follows it."""
    experiment = start_experiment(settings, **how).experiment_id
    wait_for(f"{url}/ab/config", "the experiment", lambda b: b["experiment_id"] == experiment)


def _set_aliases(home: Path, **aliases: str) -> None:
    """Aliases moved by hand, as a team does in the MLflow UI."""
    settings = load_settings(home=home)
    uri = settings.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for alias, version in aliases.items():
        client.set_registered_model_alias(settings.model_name, alias, version)


def test_handmade_models_are_ab_tested_promoted_and_swapped(handmade, titanic, tmp_path) -> None:
    home = tmp_path / "home"
    shutil.copytree(handmade, home)
    _set_aliases(home, champion="3", challenger="1")  # pyfunc serves, LightGBM challenges
    log = sqlite_url(tmp_path / "events.db")
    env = {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": log,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
    }
    settings = load_settings(home=home, database_url=log, ab_min_labelled=100)
    rows, labels = _records(titanic.frame), titanic.frame[TARGET].tolist()
    with api_server(env, tmp_path) as api, httpx.Client(timeout=20) as client:
        wait_for(f"{api.url}/models", "both models", lambda b: b.get("challenger") is not None)
        _start(api.url, settings, mode=ABMode.SHADOW)
        answers = _serve_and_label(client, api.url, rows, labels)
        assert {a["model_version"] for a in answers} == {"3"}
        # the pyfunc uses two columns: the rest of each record is listed, not refused
        assert set(answers[0]["ignored_features"]) >= {"Name", "Pclass", "Deck"}

        outcome = evaluate_and_promote(settings)
        assert outcome.decision.action is Action.PROMOTE, outcome.decision.reasons
        assert outcome.applied
        wait_for(f"{api.url}/models", "the swap", lambda b: b["champion"]["version"] == "1")
        assert (
            client.post(f"{api.url}/predict", json={"features": rows[1]}).json()["model_version"]
            == "1"
        )

        # then the XGBoost booster (other features) against the LightGBM champion
        _set_aliases(home, challenger="2")
        wait_for(
            f"{api.url}/models",
            "the booster",
            lambda b: (b.get("challenger") or {}).get("version") == "2",
        )
        _start(api.url, settings, mode=ABMode.HASH, split_b=0.5)
        answers = _serve_and_label(client, api.url, rows, labels)
        assert {a["model_version"] for a in answers} == {"1", "2"}
        by_version = {a["model_version"]: a for a in answers}
        assert "Sex" in by_version["2"]["ignored_features"]  # numeric-only booster
        assert "Sex" not in by_version["1"]["ignored_features"]
        decision = evaluate_and_promote(settings, apply=False).decision
        assert decision.action is not Action.INVALID, decision.reasons
        labelled = decision.metrics["A"]["labelled"] + decision.metrics["B"]["labelled"]
        assert labelled == len(rows)

        open_registry(settings).promote(actor="test", reason="the team prefers the booster")
        wait_for(f"{api.url}/models", "the swap", lambda b: b["champion"]["version"] == "2")
        answer = client.post(f"{api.url}/predict", json={"features": rows[1]}).json()
        raw = mlflow.xgboost.load_model(f"models:/{settings.model_name}/2")
        p = raw.predict(xgboost.DMatrix(titanic.frame.loc[[1], list(TITANIC_NUMBERS)]))[0]
        assert answer["model_version"] == "2"
        assert answer["probability"] == pytest.approx(p, rel=1e-6)
