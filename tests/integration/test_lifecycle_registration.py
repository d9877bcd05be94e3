"""Training -> MLflow run -> registry -> aliases, through the lifecycle functions and the
CLI, on the embedded store (and once against the basic-auth server)."""

from __future__ import annotations

import json

import mlflow
import mlflow.sklearn
import pandas as pd
import pytest

from champion.cli import main
from champion.lifecycle import bootstrap, train_and_register
from champion.settings import load_settings
from champion.tracking.connection import connect
from champion.tracking.registry import open_registry
from champion.tracking.runs import load_profile
from champion.types import Alias


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_bootstrap_logs_everything_and_is_idempotent(tmp_path, titanic) -> None:
    settings = load_settings(home=tmp_path, train_budget=3)
    outcome = bootstrap(settings, titanic, settings.training.config())
    assert outcome.created and outcome.champion.version == "1"
    assert outcome.champion.aliases == (Alias.CHAMPION,)
    assert open_registry(settings).alias(Alias.CHAMPION, refresh=True).version == "1"

    run = outcome.training.run
    client = connect(settings).client
    data = client.get_run(run.run_id).data
    assert data.params["selected_family"] == outcome.training.result.selection.chosen.family
    assert data.params["data_sha256"] == run.data_digest and len(run.data_digest) == 64
    assert data.params["numeric_features"] == "Pclass,Age,SibSp,Parch,Fare"
    assert data.metrics["cv_recall"] == pytest.approx(outcome.training.result.cv_scores["recall"])
    artifacts = {a.path for a in client.list_artifacts(run.run_id)}
    assert {"leaderboard.json", "leaderboard.csv", "drift"} <= artifacts
    inputs = client.get_run(run.run_id).inputs.dataset_inputs
    assert inputs and inputs[0].dataset.name == "titanic"

    # the profile stored with the run is the one drift checks will use
    profile = load_profile(client, run.run_id)
    assert profile.features == titanic.schema.features and profile.n_rows == 891

    # the registered champion loads by alias and predicts the raw frame
    model = mlflow.sklearn.load_model(f"models:/{settings.model_name}@champion")
    raw = titanic.frame[list(titanic.schema.features)].head(10)
    assert (model.predict(raw) == outcome.training.result.model.predict(raw)).all()

    again = bootstrap(settings, titanic, settings.training.config())
    assert not again.created and again.champion.version == "1" and again.training is None


def test_diamonds_regression_logs_and_registers(tmp_path, diamonds) -> None:
    from champion.datasets import Dataset

    settings = load_settings(home=tmp_path, model_name="diamonds-price")
    small = Dataset(
        "diamonds", diamonds.frame.sample(3000, random_state=0), diamonds.schema, diamonds.source
    )
    outcome = train_and_register(
        settings, small, settings.training.config(budget=3), register_as="challenger", reason="test"
    )
    assert outcome.version.aliases == ("challenger",)
    metrics = connect(settings).client.get_run(outcome.run.run_id).data.metrics
    assert metrics["cv_mae"] > 0 and metrics["cv_r2"] > 0.8
    model = mlflow.sklearn.load_model("models:/diamonds-price@challenger")
    assert model.predict(small.frame.head(3)).shape == (3,)


def test_mlflow_log_false_says_so(tmp_path, titanic) -> None:
    settings = load_settings(home=tmp_path, mlflow_log=False)
    outcome = train_and_register(
        settings, titanic, settings.training.config(budget=2), register_as="champion", reason="t"
    )
    assert outcome.run is None and outcome.version is None
    assert "not logged and no version was registered (--register champion ignored)" in outcome.note
    assert (outcome.saved_to / "MLmodel").exists()
    assert not (tmp_path / "mlflow.db").exists()  # nothing touched MLflow


def test_cli_train_promote_rollback_history(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CHAMPION_HOME", str(tmp_path))
    code, out, _ = run_cli(
        ["train", "--dataset", "titanic", "--budget", "2", "--register", "champion"], capsys
    )
    assert code == 0 and "registered champion-model v1 (champion)" in out and "Leaderboard" in out
    code, out, _ = run_cli(
        [
            "train",
            "--dataset",
            "titanic",
            "--budget",
            "2",
            "--register",
            "challenger",
            "--reason",
            "drift in Age",
        ],
        capsys,
    )
    assert code == 0 and "v2 (challenger)" in out
    code, out, _ = run_cli(["promote", "--reason", "B significantly better"], capsys)
    assert code == 0 and "champion -> v2 (was v1)" in out
    code, out, _ = run_cli(["rollback", "--reason", "complaints"], capsys)
    assert code == 0 and "champion -> v1 (rolled back from v2)" in out
    code, out, _ = run_cli(["registry", "list"], capsys)
    assert code == 0 and "champion" in out
    code, out, _ = run_cli(["registry", "history"], capsys)
    assert code == 0 and "Alias history" in out
    code, out, _ = run_cli(["registry", "history", "--json"], capsys)
    events = json.loads(out)
    assert [(e["action"], e["version"]) for e in events if e["alias"] == "champion"] == [
        ("register", "1"),
        ("promote", "2"),
        ("rollback", "1"),
    ]
    assert events[-1]["reason"] == "complaints" and events[-1]["actor"]
    code, out, _ = run_cli(["registry", "list", "--json"], capsys)
    assert {v["version"]: v["aliases"] for v in json.loads(out)} == {"2": [], "1": ["champion"]}
    code, _, err = run_cli(["rollback"], capsys)
    assert code == 2 and "nothing to roll back to" in err


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["train", "--dataset", "titanic", "--target", "survived"],
            {},
            "target column 'survived' not found",
        ),
        (
            ["train", "--dataset", "titanic", "--metric", "mae"],
            {},
            "does not fit a classification task",
        ),
        (["train", "--dataset", "titanic", "--register", "production"], {}, "--register must be"),
        (["train", "--dataset", "titanic", "--budget", "0"], {}, "budget must be positive"),
        (["promote"], {}, "no challenger to promote"),
        (["registry", "list"], {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, "is unreachable"),
        (
            ["train", "--dataset", "titanic"],
            {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
            "is unreachable",
        ),
    ],
)
def test_cli_bad_input_exits_2(argv, env, message, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CHAMPION_HOME", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, out, err = run_cli(argv, capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x,y\n" + "".join(f"{i},1\n" for i in range(100)), "single class"),
        ("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)), "too few rows"),
    ],
)
def test_cli_bad_training_data(content, message, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CHAMPION_HOME", str(tmp_path))
    path = tmp_path / "data.csv"
    path.write_text(content)
    code, _, err = run_cli(
        ["train", "--data", str(path), "--target", "y", "--task", "classification"], capsys
    )
    assert code == 2 and message in err


def test_training_against_the_auth_server(mlflow_server_url, tmp_path, titanic) -> None:
    server = mlflow_server_url
    settings = load_settings(
        home=tmp_path,
        mlflow_tracking_uri=server.url,
        mlflow_username=server.username,
        mlflow_password=server.password,
        model_name="titanic-server",
        train_budget=2,
    )
    outcome = bootstrap(settings, titanic, settings.training.config())
    assert outcome.created
    registry = open_registry(settings)
    assert registry.alias(Alias.CHAMPION).version == outcome.champion.version
    model = mlflow.sklearn.load_model("models:/titanic-server@champion")
    assert len(model.predict(titanic.frame.head(4))) == 4
    board = json.loads(
        mlflow.artifacts.load_text(f"runs:/{outcome.training.run.run_id}/leaderboard.json")
    )
    assert pd.DataFrame(board["data"], columns=board["columns"])["selected"].sum() == 1
