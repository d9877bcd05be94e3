"""Shared by every test: an environment with no champion setting leaking in, the bundled
datasets, the two Titanic models trained once per session, and the tier markers.

Tiers (a test's directory gives its marker): ``unit`` — pure modules and in-process ASGI,
fast; ``integration`` — real components (an MLflow store, SQLite, uvicorn, the CLI as a
child process); ``system`` — whole stacks; ``statistics`` — simulations that prove the
statistics. ``python -m pytest tests/unit`` (or ``-m unit``) is the fast loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from champion.datasets import Dataset, load_dataset
from champion.settings import VARIABLES
from champion.training import TrainConfig, TrainResult, train

TIERS = ("unit", "integration", "system", "statistics")
#: Variables MLflow itself reads, which a developer's shell may hold.
MLFLOW_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_TOKEN")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def titanic() -> Dataset:
    return load_dataset("titanic")


@pytest.fixture(scope="session")
def diamonds() -> Dataset:
    return load_dataset("diamonds")


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No setting leaks in from the developer's shell or a .env file."""
    names = {name for names in VARIABLES.values() for name in names} | set(MLFLOW_VARIABLES)
    names |= {k for k in os.environ if k.startswith("CHAMPION_")}
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    # mlflow.set_tracking_uri / set_registry_uri also write os.environ, which a later
    # module-scoped server (started before this fixture runs) would inherit
    import mlflow

    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(name, None)


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
def titanic_pair(titanic) -> tuple[TrainResult, TrainResult]:
    """Two Titanic models (2-second searches, seeds 1 and 9), trained once per session;
    tests register them into stores of their own (``api_helpers.two_models``)."""
    return tuple(  # type: ignore[return-value]
        train(titanic.frame, titanic.schema, TrainConfig(budget=2, seed=seed)) for seed in (1, 9)
    )


@pytest.fixture(scope="session")
def model_home(tmp_path_factory, titanic, titanic_pair):
    """An embedded store with Titanic v1 = champion and v2 = challenger (the API tests)."""
    from api_helpers import two_models

    home = tmp_path_factory.mktemp("serving-models")
    two_models(home, titanic, titanic_pair)
    return home
