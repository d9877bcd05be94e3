"""BentoML's service for the serving benchmark: the registered model's pickle, one row
a request (``{"features": {...}}``), its prediction back. Run by ``bentoml serve``."""

from __future__ import annotations

import os
import pickle
from typing import Any

import bentoml
import pandas as pd


@bentoml.service(workers=1)
class Titanic:
    def __init__(self) -> None:
        with open(os.environ["BENCH_MODEL_PKL"], "rb") as handle:
            self.model = pickle.load(handle)

    @bentoml.api
    def predict(self, features: dict[str, Any]) -> dict[str, Any]:
        frame = pd.DataFrame([features])
        return {"prediction": self.model.predict(frame).tolist()[0]}
