"""Shared by the API tests: trained models in an embedded store, request helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from champion.datasets import Dataset
from champion.lifecycle import train_and_register
from champion.settings import load_settings
from champion.simulation.replay import records

TOKEN = "test-admin-token-0123456789"


def train_two_models(home: Path, titanic: Dataset) -> None:
    """v1 = champion, v2 = challenger (different seeds), in an embedded store at ``home``."""
    settings = load_settings(home=home)
    for alias, seed in (("champion", 1), ("challenger", 9)):
        train_and_register(
            settings,
            titanic,
            settings.training.config(budget=2, seed=seed),
            register_as=alias,  # type: ignore[arg-type]
            reason=f"test {alias}",
        )


def feature_rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    return records(frame, columns)


def set_config(url: str, **body: Any) -> dict[str, Any]:
    response = httpx.put(
        f"{url}/ab/config", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()
