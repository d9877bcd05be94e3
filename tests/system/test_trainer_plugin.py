"""The trainer plug-in across the loop, from a real shell: ``CHAMPION_TRAINER`` makes the
bootstrap champion, an API whose path lacks the team's module still serves it (the
module's classes travel with the model), and ``--trainer`` makes the drift-retrained
challenger too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from champion.serving.process import wait_for
from champion.settings import load_settings
from champion.tracking.connection import connect
from champion.tracking.registry import ModelRegistry
from champion.types import Alias

from api_helpers import AUTH, TOKEN, feature_rows
from servers import api_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "byo"


def champion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "champion", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_teams_trainer_makes_champion_and_challenger(tmp_path, titanic) -> None:
    home = tmp_path / "home"
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env = {
        **base,
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": f"sqlite:///{tmp_path / 'events.db'}",
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
        "CHAMPION_RETRAIN_MIN_ROWS": "200",
        "CHAMPION_CV_FOLDS": "3",
    }
    with_module = {**env, "PYTHONPATH": str(EXAMPLES), "CHAMPION_TRAINER": "team_trainer:train"}
    done = champion(with_module, "lifecycle", "bootstrap", "--dataset", "titanic")
    assert done.returncode == 0, done.stderr
    assert "team_trainer:train" in done.stdout  # the leaderboard names the trainer

    settings = load_settings(home=home)
    registry = ModelRegistry(connect(settings).client, settings.model_name, cache_ttl=0)
    first = registry.alias(Alias.CHAMPION)
    params = registry.client.get_run(first.run_id).data.params
    assert params["trainer"] == "team_trainer:train"
    assert params["preprocessing"] == "the trainer's own"

    assert "PYTHONPATH" not in env  # the API cannot import team_trainer
    with api_server(env, tmp_path) as api, httpx.Client(timeout=20) as client:
        assert client.get(f"{api.url}/models").json()["champion"]["estimator"] == (
            "CalibratedThreshold"
        )
        frame = titanic.frame.sample(400, replace=True, random_state=3).reset_index(drop=True)
        frame["Fare"] = frame["Fare"] * 3 + np.random.default_rng(3).exponential(5, len(frame))
        rows = feature_rows(frame, titanic.schema.features)
        answers = [
            client.post(f"{api.url}/predict", json={"user_id": i, "features": row}).json()
            for i, row in enumerate(rows)
        ]
        assert {a["model_version"] for a in answers} == {"1"}
        items = [
            {"request_id": a["request_id"], "label": int(y)}
            for a, y in zip(answers, frame["Survived"], strict=True)
        ]
        assert (
            client.post(f"{api.url}/feedback", headers=AUTH, json={"items": items}).status_code
            == 200
        )

        step = champion(
            {**env, "PYTHONPATH": str(EXAMPLES)},
            "lifecycle", "drift-retrain", "--trainer", "team_trainer:train", "--json",
        )  # fmt: skip
        assert step.returncode == 0, step.stderr
        outcome = json.loads(step.stdout)
        assert outcome["drifted"] and outcome["retrained"], outcome
        challenger = registry.get(outcome["challenger"])
        assert registry.client.get_run(challenger.run_id).data.params["trainer"] == (
            "team_trainer:train"
        )
        body = wait_for(f"{api.url}/models", "the challenger", lambda b: bool(b.get("challenger")))
        assert body["challenger"]["estimator"] == "CalibratedThreshold"
