from __future__ import annotations

import os

import pandas as pd
import pytest

from champion.datasets import Dataset, load_dataset


@pytest.fixture(scope="session")
def titanic() -> Dataset:
    return load_dataset("titanic")


@pytest.fixture(scope="session")
def diamonds() -> Dataset:
    return load_dataset("diamonds")


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No setting leaks in from the developer's shell or a .env file."""
    for name in (
        "MODEL_NAME",
        "MLFLOW_TRACKING_URI",
        "TRAIN_PATH",
        "CURRENT_PATH",
        "DRIFT_THRESHOLD",
        "PSI_THRESHOLD",
        "KS_PVALUE_THRESHOLD",
        "AB_SPLIT_B",
        "AB_LOG_PATH",
        "EXPERIMENT_NAME",
        "COMPARISON_NAME",
        "MLFLOW_LOG",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_REGISTRY_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in os.environ if k.startswith("CHAMPION_")]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def write_csv(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="session")
def mlflow_server_url(tmp_path_factory: pytest.TempPathFactory):
    """A real MLflow tracking server with basic auth, shared by the session."""
    from servers import mlflow_server

    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture(scope="session")
def model_home(tmp_path_factory, titanic):
    """An embedded store with Titanic v1 = champion and v2 = challenger (the API tests)."""
    from api_helpers import train_two_models

    home = tmp_path_factory.mktemp("serving-models")
    train_two_models(home, titanic)
    return home
