"""The two benchmark tables, built identically in both environments (pandas only)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "src" / "champion" / "datasets" / "data"


def load(name: str) -> tuple[pd.DataFrame, str]:
    """``titanic`` (target Survived, Name left out) or ``diamonds-binary`` (price > median)."""
    if name == "titanic":
        with gzip.open(DATA / "titanic.csv.gz") as fh:
            frame = pd.read_csv(fh)
        return frame.drop(columns=["Name"]), "Survived"
    if name == "diamonds-binary":
        with gzip.open(DATA / "diamonds.csv.gz") as fh:
            frame = pd.read_csv(fh)
        frame["expensive"] = (frame["price"] > frame["price"].median()).astype(int)
        return frame.drop(columns=["price"]), "expensive"
    raise SystemExit(f"unknown benchmark dataset {name}")
