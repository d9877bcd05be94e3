"""A team's own training code, plugged into champion in place of the FLAML search.

    CHAMPION_TRAINER=team_trainer:train champion lifecycle bootstrap --dataset titanic

champion calls ``train`` once per cross-validation fold (the leaderboard) and once on
every row (the model it ships), for the bootstrap and for every drift retraining.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder


class CalibratedThreshold(BaseEstimator, ClassifierMixin):
    """The team's house rule: a positive needs at least ``threshold`` probability.

    Defined here, in the team's module: champion stores its code with the model, so an
    API without this module on its path still loads it.
    """

    def __init__(self, pipeline: Pipeline, threshold: float = 0.5) -> None:
        self.pipeline = pipeline
        self.threshold = threshold

    def fit(self, x: pd.DataFrame, y: pd.Series) -> CalibratedThreshold:
        self.pipeline_ = clone(self.pipeline).fit(x, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(x)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        proba = self.predict_proba(x)
        if len(self.classes_) != 2:
            return self.classes_[proba.argmax(axis=1)]
        return np.where(proba[:, 1] >= self.threshold, self.classes_[1], self.classes_[0])


def _preprocessing(schema) -> ColumnTransformer:
    text = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    return ColumnTransformer(
        [
            ("numbers", SimpleImputer(strategy="median"), list(schema.numeric)),
            ("text", text, list(schema.categorical)),
        ]
    )


def train(frame: pd.DataFrame, target: str, schema, config):
    """(training rows, target column, champion Schema, TrainConfig) -> fitted model."""
    x = frame.loc[:, list(schema.features)].astype({c: object for c in schema.categorical})
    if schema.task == "regression":
        model = HistGradientBoostingRegressor(max_iter=150, random_state=config.seed)
        return make_pipeline(_preprocessing(schema), model).fit(x, frame[target])
    model = HistGradientBoostingClassifier(max_iter=150, random_state=config.seed)
    pipeline = make_pipeline(_preprocessing(schema), model)
    return CalibratedThreshold(pipeline, threshold=0.4).fit(x, frame[target])
