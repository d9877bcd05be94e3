"""What kind of model a registered version is, for versions champion did not train:
read from its signature, and for LightGBM/XGBoost boosters (whose signature shows
probabilities) from their objective."""

from __future__ import annotations

import importlib
from typing import Any

from champion.errors import BackendError
from champion.types import Task


def output_task(signature: Any) -> Task | None:
    """What a model signature's output says: real numbers -> regression, anything else
    (integers, strings, booleans) -> classification; None without an output schema."""
    outputs = getattr(signature, "outputs", None)
    kinds = {getattr(c.type, "name", str(c.type)) for c in getattr(outputs, "inputs", None) or []}
    if not kinds:
        return None
    return (
        Task.REGRESSION
        if kinds <= {"double", "float", "float32", "float64"}
        else Task.CLASSIFICATION
    )


#: Objectives whose prediction is a probability (binary) or a row of them (multiclass).
_BINARY = {"binary", "cross_entropy", "xentropy", "binary:logistic"}
_MULTICLASS = {"multiclass", "softmax", "multiclassova", "ovr", "multi:softprob"}


def booster_objective(booster: Any, flavor: str) -> tuple[str, int]:
    """('binary' | 'multiclass' | 'regression', number of classes) of a booster."""
    if flavor == "xgboost":
        import json

        learner = json.loads(booster.save_config())["learner"]
        objective = learner["objective"]["name"]
        n_classes = int(learner["learner_model_param"].get("num_class", "0"))
    else:
        objective = str(booster.params.get("objective", "regression")).split()[0]
        n_classes = int(booster.params.get("num_class", 1))
    if objective in _BINARY:
        return "binary", 2
    if objective in _MULTICLASS:
        return "multiclass", n_classes
    if objective.startswith(("binary", "multi")):
        raise TypeError(f"booster objective {objective!r} gives no probabilities: not served")
    return "regression", 0


def model_task(uri: str) -> Task | None:
    """The task of the model at ``uri`` from what it says about itself (None: unknown)."""
    import mlflow.models
    from mlflow.exceptions import MlflowException

    try:
        info = mlflow.models.get_model_info(uri)
        flavors = info.flavors
        for flavor in ("lightgbm", "xgboost"):
            if flavor in flavors and "Booster" in str(flavors[flavor].get("model_class", "")):
                module = importlib.import_module(f"mlflow.{flavor}")
                kind, _ = booster_objective(module.load_model(uri), flavor)
                return Task.REGRESSION if kind == "regression" else Task.CLASSIFICATION
    except (MlflowException, OSError, ImportError, TypeError, KeyError):
        return None  # an unreadable model says nothing: the caller asks for a tag
    return output_task(info.signature)


#: Signature column types that are numbers (every other type is a category).
NUMERIC_TYPES = frozenset({"double", "float", "long", "integer"})


def input_columns(uri: str) -> dict[str, str]:
    """The model's input columns and their MLflow types, in signature order."""
    import mlflow.models
    from mlflow.exceptions import MlflowException

    try:
        signature = mlflow.models.get_model_info(uri).signature
    except (MlflowException, OSError) as exc:
        raise BackendError(f"cannot read {uri}: {getattr(exc, 'message', exc)}") from exc
    inputs = getattr(signature, "inputs", None)
    columns = getattr(inputs, "inputs", None) or []
    if not columns or any(getattr(c, "name", None) is None for c in columns):
        raise BackendError(f"{uri} has no column signature; log it with one to use it")
    return {c.name: getattr(c.type, "name", str(c.type)) for c in columns}
