"""Shared by the API tests: trained models in an embedded store, request helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from champion.datasets import Dataset
from champion.lifecycle import register_trained
from champion.settings import load_settings
from champion.simulation.replay import records
from champion.training import TrainResult
from champion.types import Alias

TOKEN = "test-admin-token-0123456789"


def two_models(home: Path, titanic: Dataset, pair: tuple[TrainResult, TrainResult]) -> None:
    """v1 = champion, v2 = challenger (the session's ``titanic_pair``), registered in an
    embedded store at ``home``."""
    settings = load_settings(home=home)
    for alias, result in zip(Alias, pair, strict=True):
        register_trained(settings, titanic, result, register_as=alias, reason=f"test {alias}")


def feature_rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    return records(frame, columns)


def set_config(url: str, **body: Any) -> dict[str, Any]:
    response = httpx.put(
        f"{url}/ab/config", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


#: The admin token as a bearer credential (the admin token is also accepted by /feedback).
AUTH = {"Authorization": f"Bearer {TOKEN}"}
