"""``champion adopt``: a LightGBM model a team registered by hand becomes the champion
from a real shell, its drift reference is built from the file given, and the whole loop
then runs on it — served, drift found in live traffic, a challenger retrained on live
labels with its features, an A/B experiment, promotion and a rollback back to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from champion.cli import main
from champion.serving.process import wait_for
from champion.settings import load_settings
from champion.tracking.connection import connect
from champion.tracking.digest import DIGEST_TAG, version_digest
from champion.tracking.registry import SCHEMA_RUN_TAG, TASK_TAG, ModelRegistry
from champion.tracking.runs import load_profile, run_schema
from champion.types import Alias, RegistryAction

from api_helpers import AUTH, TOKEN, feature_rows
from handmade_models import TITANIC_NUMBERS, TITANIC_TEXT, lightgbm_version, team_experiment
from servers import api_server

TARGET = "Survived"


def champion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "champion", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def team(tmp_path, titanic):
    """A home whose registry holds one LightGBM version trained on the first 600 rows,
    and that training table as a CSV (Name and all)."""
    home = tmp_path / "home"
    settings = load_settings(home=home)
    home.mkdir()
    train = titanic.frame.iloc[:600]
    experiment = team_experiment(settings.tracking_uri, tmp_path / "team-artifacts")
    assert lightgbm_version(experiment, settings.model_name, train, TARGET) == "1"
    reference = tmp_path / "training.csv"
    train.to_csv(reference, index=False)
    return home, reference


def _registry(home: Path) -> ModelRegistry:
    settings = load_settings(home=home)
    return ModelRegistry(connect(settings).client, settings.model_name, cache_ttl=0)


def _drifted(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Live traffic that moved: fares tripled, passengers 15 years older."""
    rng = np.random.default_rng(seed)
    out = frame.sample(len(frame), replace=True, random_state=seed).reset_index(drop=True)
    out["Fare"] = out["Fare"] * 3 + rng.exponential(5, len(out))
    out["Age"] = out["Age"] + 15
    return out


def _traffic(client: httpx.Client, url: str, frame: pd.DataFrame, start: int) -> list[dict]:
    rows = feature_rows(frame, tuple(c for c in frame.columns if c != TARGET))
    answers = []
    for i, row in enumerate(rows):
        body = {"user_id": f"u{start + i}", "features": row}
        response = client.post(f"{url}/predict", json=body)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    items = [
        {"request_id": a["request_id"], "label": int(y)}
        for a, y in zip(answers, frame[TARGET], strict=True)
    ]
    for k in range(0, len(items), 500):
        assert (
            client.post(
                f"{url}/feedback", headers=AUTH, json={"items": items[k : k + 500]}
            ).status_code
            == 200
        )
    return answers


def test_an_adopted_model_runs_the_whole_loop(team, titanic, tmp_path) -> None:
    home, reference = team
    log = f"sqlite:///{tmp_path / 'events.db'}"
    env = {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": log,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
        "CHAMPION_TRAIN_BUDGET": "4",
        "CHAMPION_RETRAIN_MIN_ROWS": "200",
        "CHAMPION_AB_MIN_LABELLED": "100",
        "CHAMPION_ACTOR": "team-lead",
    }
    done = champion(env, "adopt", "models:/champion-model/1", "--reference", str(reference),
                    "--target", TARGET)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "champion -> champion-model v1" in done.stdout

    registry = _registry(home)
    adopted = registry.alias(Alias.CHAMPION)
    assert adopted is not None and adopted.version == "1"
    event = registry.history()[-1]
    assert (event.action, event.alias, event.version, event.actor) == (
        RegistryAction.ADOPT, "champion", "1", "team-lead"
    )  # fmt: skip
    assert adopted.tags[TASK_TAG] == "classification"
    assert adopted.tags[DIGEST_TAG] == version_digest(adopted.model_uri)  # the API checks it
    schema = run_schema(registry.client, adopted.tags[SCHEMA_RUN_TAG])
    assert schema.target == TARGET
    assert set(schema.numeric) == set(TITANIC_NUMBERS)
    assert set(schema.categorical) == set(TITANIC_TEXT)
    profile = load_profile(registry.client, adopted.tags[SCHEMA_RUN_TAG])
    assert profile.meta["rows"] == 600
    assert set(profile.features) == {*TITANIC_NUMBERS, *TITANIC_TEXT}

    with api_server(env, tmp_path) as api, httpx.Client(timeout=20) as client:
        models = client.get(f"{api.url}/models").json()
        assert models["champion"]["estimator"] == "LGBMClassifier"
        assert models["champion"]["integrity"] == "verified"
        _traffic(client, api.url, _drifted(titanic.frame.iloc[600:], seed=1), 0)

        step = champion(env, "lifecycle", "drift-retrain", "--json")
        assert step.returncode == 0, step.stderr
        outcome = json.loads(step.stdout)
        assert outcome["drifted"] and {"Fare", "Age"} <= set(outcome["drifted_features"])
        assert outcome["retrained"] and outcome["challenger"] == "2"
        assert outcome["experiment_id"]
        retrained = run_schema(registry.client, registry.get("2").run_id)
        assert set(retrained.features) == set(schema.features) and retrained.target == TARGET

        wait_for(f"{api.url}/models", "the challenger", lambda b: b.get("challenger") is not None)
        wait_for(f"{api.url}/ab/config", "the experiment",
                 lambda b: b["experiment_id"] == outcome["experiment_id"])  # fmt: skip
        answers = _traffic(client, api.url, _drifted(titanic.frame, seed=2), 1000)
        assert {a["model_version"] for a in answers} == {"1", "2"}

        step = champion(env, "ab", "evaluate", "--json")  # looks, does not act
        assert step.returncode == 0, step.stderr
        evaluation = json.loads(step.stdout)
        assert evaluation["decision"]["action"] != "invalid", evaluation
        assert evaluation["champion"] == "1" and evaluation["challenger"] == "2"

        assert champion(env, "promote", "--reason", "the team agrees").returncode == 0
        wait_for(f"{api.url}/models", "the swap", lambda b: b["champion"]["version"] == "2")
        back = champion(env, "rollback", "--reason", "back to our own model")
        assert back.returncode == 0, back.stderr
        assert "v1" in back.stdout  # the champion before the promotion was the adopted one
        wait_for(f"{api.url}/models", "the rollback", lambda b: b["champion"]["version"] == "1")


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["champion-model/1"], "model must be models:/<name>/<version>"),
        (["models:/champion-model/9", "--reference", "{ref}", "--target", TARGET],
         "has no version 9"),
        (["models:/champion-model/1"], "a champion needs --reference"),
        (["models:/champion-model/1", "--reference", "{ref}"], "go together"),
        (["models:/champion-model/1", "--reference", "{ref}", "--target", "Nope"],
         "no column(s) 'Nope'"),
        (["models:/champion-model/1", "--reference", "{no_fare}", "--target", TARGET],
         "no column(s) 'Fare'"),
        (["models:/champion-model/1", "--reference", "{text_age}", "--target", TARGET],
         "'Age' hold text"),
        (["models:/champion-model/1", "--as", "best"], "--as must be one of"),
        (["models:/champion-model/1", "--as", "challenger"], "has no champion"),
    ],
)  # fmt: skip
def test_bad_adoptions_are_one_line_and_change_nothing(
    team, monkeypatch, capsys, tmp_path, args, message
) -> None:
    home, reference = team
    monkeypatch.setenv("CHAMPION_HOME", str(home))
    frame = pd.read_csv(reference)
    files = {"ref": reference, "no_fare": tmp_path / "no_fare.csv", "text_age": tmp_path / "t.csv"}
    frame.drop(columns="Fare").to_csv(files["no_fare"], index=False)
    frame.assign(Age=["about 30", *frame["Age"][1:]]).to_csv(files["text_age"], index=False)
    argv = ["adopt", *(a.format(**{k: str(v) for k, v in files.items()}) for a in args)]
    code, _, err = run(argv, capsys)
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    registry = _registry(home)
    assert registry.alias(Alias.CHAMPION) is None and registry.history() == []


def test_a_challenger_is_adopted_beside_an_adopted_champion(team, monkeypatch, capsys, titanic):
    home, reference = team
    monkeypatch.setenv("CHAMPION_HOME", str(home))
    settings = load_settings(home=home)
    experiment = team_experiment(settings.tracking_uri, home.parent / "team-artifacts")
    assert lightgbm_version(experiment, settings.model_name, titanic.frame, TARGET) == "2"
    ok = ["adopt", "models:/champion-model/1", "--reference", str(reference), "--target", TARGET]
    assert run(ok, capsys)[0] == 0
    code, out, err = run(["adopt", "models:/champion-model/2", "--as", "challenger"], capsys)
    assert code == 0, err
    assert "challenger -> champion-model v2" in out and "champion ab start" in out
    registry = _registry(home)
    assert registry.alias(Alias.CHALLENGER).version == "2"
    assert registry.get("2").tags[TASK_TAG] == "classification"
    # a second challenger waits for the first one's decision unless forced
    code, _, err = run(["adopt", "models:/champion-model@challenger", "--as", "champion"], capsys)
    assert code == 2 and "a champion needs --reference" in err
    code, _, err = run(["adopt", "models:/champion-model/1", "--as", "challenger"], capsys)
    assert code == 1 and "cannot challenge itself" in err
