"""A classifier that speaks the target's own labels around a pipeline trained on codes."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


class LabelledClassifier(ClassifierMixin, BaseEstimator):
    """Wrap ``pipeline`` (trained on codes ``0..k-1``) to predict the labels ``classes``.

    Used when the target's classes are not already ``0..k-1`` (strings, booleans), since
    some estimators (XGBoost) accept only codes.
    """

    def __init__(self, pipeline: Any, classes: tuple[Any, ...]) -> None:
        self.pipeline = pipeline
        self.classes = classes

    def fit(self, X: Any, y: Any) -> LabelledClassifier:
        self.classes_ = np.array(self.classes, dtype=object)
        index = {label: code for code, label in enumerate(self.classes)}
        codes = np.array([index[v] for v in y], dtype=np.int64)
        self.pipeline_ = clone(self.pipeline).fit(X, codes)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.pipeline_.predict(X).astype(np.int64)]

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.pipeline_.predict_proba(X)
