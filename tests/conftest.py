from __future__ import annotations

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
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def write_csv(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)
