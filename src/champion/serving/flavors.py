"""Models of any MLflow flavour: what a served model is once loaded, whatever made it.

* **scikit-learn** — loaded as the estimator, so the compiled numpy path and its
  verification apply (:mod:`champion.serving.compiled`).
* **LightGBM, XGBoost, CatBoost** with their scikit-learn API (``LGBMClassifier``,
  ``XGBRegressor``, …) — loaded natively and called on a DataFrame typed by the
  signature: classes and probabilities come from ``predict_proba``.
* **LightGBM and XGBoost boosters** (``lgb.train``, ``xgb.train``) — loaded natively
  and read by their objective (:class:`BoosterPredictor`).
* **anything else** (a native booster, a custom ``mlflow.pyfunc.PythonModel``) — loaded
  through pyfunc and called on a DataFrame typed by the signature. Its ``predict`` must
  return one prediction per row (a Series, a 1-D array or a list), or a DataFrame with a
  ``prediction`` column and, for classifiers, optionally a ``probability`` column
  (binary: the probability of the positive class; multiclass: of the predicted class).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from champion.serving.compiled import Scored, _plain
from champion.serving.validation import NUMERIC_TYPES, FeatureSpec
from champion.tracking.model_kind import booster_objective, output_task
from champion.types import Task

NATIVE = ("lightgbm", "xgboost", "catboost")


def _trained_order(names: Any, spec: FeatureSpec) -> list[str]:
    """The column order the model was fitted with (the signature's when it does not say)."""
    order = [str(n) for n in names] if names is not None else []
    return order if order and set(order) <= set(spec.names) else list(spec.names)


def typed_frame(rows: Sequence[dict[str, Any]], spec: FeatureSpec) -> pd.DataFrame:
    """Rows as a DataFrame with the signature's column types (numbers as floats, so a
    missing value is NaN; everything else as objects with None)."""
    frame = pd.DataFrame.from_records(list(rows), columns=list(spec.names))
    for name in spec.names:
        kind = spec.types[name]
        if kind in NUMERIC_TYPES:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        elif kind == "boolean":
            frame[name] = frame[name].astype(object)
        else:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


class EstimatorPredictor:
    """A native model with the scikit-learn API, on a DataFrame typed by the signature."""

    compiled = False

    def __init__(self, model: Any, spec: FeatureSpec) -> None:
        self.model, self.spec = model, spec
        self.name = type(model).__name__
        self.classifier = hasattr(model, "predict_proba") and hasattr(model, "classes_")
        self.classes: tuple[Any, ...] | None = (
            tuple(_plain(c) for c in model.classes_) if self.classifier else None
        )
        # the boosters take text only as pandas categories (LightGBM maps them back to
        # the categories it was trained on)
        self.order = _trained_order(getattr(model, "feature_names_in_", None), spec)
        self.text = [n for n in self.order if spec.types[n] == "string"]

    def predict(self, rows: Sequence[dict[str, Any]]) -> Scored:
        frame = typed_frame(rows, self.spec)[self.order]
        for name in self.text:
            frame[name] = frame[name].astype("category")
        labels = np.asarray(self.model.predict(frame)).ravel()
        if not self.classifier:
            return Scored([float(v) for v in labels], [None] * len(rows))
        proba = np.asarray(self.model.predict_proba(frame))
        p = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
        return Scored([_plain(v) for v in labels], [float(v) for v in p])


class PyfuncPredictor:
    """Any MLflow model through pyfunc (see the module docstring for its output)."""

    compiled = False

    def __init__(self, model: Any, spec: FeatureSpec, *, classifier: bool) -> None:
        self.model, self.spec, self.classifier = model, spec, classifier
        # the classes of a pyfunc classifier are not known up front: labels are compared
        # as they are sent
        self.classes: tuple[Any, ...] | None = () if classifier else None
        self.name = _pyfunc_name(model)

    def predict(self, rows: Sequence[dict[str, Any]]) -> Scored:
        out = self.model.predict(typed_frame(rows, self.spec))
        probability: list[float | None] = [None] * len(rows)
        if isinstance(out, pd.DataFrame):
            if "prediction" not in out.columns:
                raise TypeError("a pyfunc DataFrame output needs a 'prediction' column")
            if "probability" in out.columns and self.classifier:
                probability = [None if pd.isna(v) else float(v) for v in out["probability"]]
            out = out["prediction"]
        labels = np.asarray(out).ravel()
        if labels.size != len(rows):
            raise TypeError(f"the model returned {labels.size} predictions for {len(rows)} rows")
        if not self.classifier:
            return Scored([float(v) for v in labels], probability)
        return Scored([_plain(v) for v in labels], probability)


class BoosterPredictor:
    """A LightGBM or XGBoost booster (from ``lgb.train`` / ``xgb.train``), read by its
    objective: a binary one gives the positive-class probability (label 1 above 0.5), a
    multiclass one a probability per class (label: the most probable class index), any
    other a number (regression)."""

    compiled = False

    def __init__(self, booster: Any, spec: FeatureSpec, flavor: str) -> None:
        self.booster, self.spec, self.flavor = booster, spec, flavor
        self.name = f"{flavor}.{type(booster).__name__}"
        names = booster.feature_names if flavor == "xgboost" else booster.feature_name()
        self.order = _trained_order(names, spec)
        self.text = [n for n in self.order if spec.types[n] == "string"]
        if flavor == "xgboost" and "c" in (booster.feature_types or ()):
            # XGBoost 2 does not store its categories: codes would be guessed per request
            raise TypeError(
                "an XGBoost booster with categorical features cannot be served safely "
                "(its categories are not stored): log it inside a pipeline or a pyfunc"
            )
        self.kind, n_classes = booster_objective(booster, flavor)
        self.classifier = self.kind != "regression"
        self.classes: tuple[Any, ...] | None = tuple(range(n_classes)) if self.classifier else None

    def predict(self, rows: Sequence[dict[str, Any]]) -> Scored:
        frame = typed_frame(rows, self.spec)[self.order]
        for name in self.text:
            frame[name] = frame[name].astype("category")
        if self.flavor == "xgboost":
            import xgboost

            data = xgboost.DMatrix(frame, enable_categorical=bool(self.text))
            out = np.asarray(self.booster.predict(data))
        else:
            out = np.asarray(self.booster.predict(frame))
        if self.kind == "regression":
            return Scored([float(v) for v in out.ravel()], [None] * len(rows))
        if self.kind == "binary":
            p = out.ravel()
            return Scored([int(v > 0.5) for v in p], [float(v) for v in p])
        labels = out.argmax(axis=1)
        return Scored([int(v) for v in labels], [float(v) for v in out.max(axis=1)])


def load(
    uri: str, flavors: dict[str, Any], spec: FeatureSpec, classifier: bool | None
) -> tuple[Any, str]:
    """The model at ``uri``: the scikit-learn estimator (for the compiled path), or a
    predictor, and which flavour was used. ``classifier``: what the registry says, for
    pyfunc models (None: unknown, then a classifier unless its output is a float)."""
    if "sklearn" in flavors:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(uri), "sklearn"
    for flavor in NATIVE:
        if flavor in flavors:
            module = importlib.import_module(f"mlflow.{flavor}")
            native = module.load_model(uri)
            if hasattr(native, "predict") and hasattr(native, "get_params"):
                return EstimatorPredictor(native, spec), flavor
            if flavor in ("lightgbm", "xgboost"):
                return BoosterPredictor(native, spec, flavor), flavor
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(uri)
    if classifier is None:
        signature = getattr(model.metadata, "signature", None)
        classifier = output_task(signature) is not Task.REGRESSION
    return PyfuncPredictor(model, spec, classifier=classifier), "pyfunc"


def _pyfunc_name(model: Any) -> str:
    """The custom PythonModel's class, or the module that loads a non-custom pyfunc."""
    from mlflow.exceptions import MlflowException

    try:
        return type(model.unwrap_python_model()).__name__
    except MlflowException:
        loader = model.metadata.flavors.get("python_function", {}).get("loader_module")
        return f"pyfunc ({loader})"
