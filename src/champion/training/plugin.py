"""A team's own training code in place of the FLAML search.

A trainer is a plain function, named ``package.module:function`` (``CHAMPION_TRAINER``
or ``--trainer``)::

    def train(frame: pd.DataFrame, target: str, schema: Schema, config: TrainConfig):
        ...  # frame: the labelled rows, the schema's features and the target column
        return fitted_estimator  # scikit-learn compatible, takes the raw feature frame

The estimator (or pipeline) it returns must take a DataFrame of the schema's feature
columns as they are (missing values included) and have ``predict``; a classifier also
``predict_proba`` and ``classes_``. champion cross-validates the function itself — it
is called once per fold and scored on the held-out rows, which is the leaderboard — and
then once more on every row for the model to ship; the reference profile, the MLflow
run and the registration around it are the same as for a FLAML model.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from champion.datasets import Schema
from champion.errors import ConfigError, InvalidInputError
from champion.training.config import TrainConfig
from champion.training.metrics import classification_scores, regression_scores
from champion.training.selection import Candidate, Selection
from champion.types import Task

Trainer = Callable[[pd.DataFrame, str, Schema, TrainConfig], Any]


@dataclass(frozen=True)
class PluginTrainer:
    """A trainer function and the path it was imported from."""

    path: str
    function: Trainer

    @property
    def name(self) -> str:
        return self.path.rsplit(":", 1)[-1]


def load_trainer(path: str) -> PluginTrainer:
    """Import ``package.module:function``; ConfigError (one line) when it cannot be."""
    module_name, _, attribute = path.strip().partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"trainer must be package.module:function, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an import that fails for any reason, said in one line
        raise ConfigError(
            f"trainer {path}: cannot import {module_name} ({type(exc).__name__}: {exc})"
        ) from exc
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise ConfigError(f"trainer {path}: {module_name} has no {attribute!r}")
    if not callable(found):
        raise ConfigError(f"trainer {path}: {attribute!r} is not a function")
    return PluginTrainer(path, found)


def _fit(
    trainer: PluginTrainer,
    rows: pd.DataFrame,
    schema: Schema,
    config: TrainConfig,
    task: Task,
    where: str,
) -> Any:
    assert schema.target is not None
    try:
        model = trainer.function(rows.reset_index(drop=True), schema.target, schema, config)
    except Exception as exc:  # the team's code failed: say where, in one line
        raise InvalidInputError(
            f"trainer {trainer.path} failed on {where}: {type(exc).__name__}: {exc}"
        ) from exc
    needs = ["predict"] + (["predict_proba", "classes_"] if task == Task.CLASSIFICATION else [])
    lacking = [name for name in needs if not hasattr(model, name)]
    if lacking:
        raise InvalidInputError(
            f"trainer {trainer.path} returned {type(model).__name__}, which has no "
            f"{', '.join(lacking)}: return a fitted scikit-learn compatible {task} model"
        )
    return model


Pooled = tuple[np.ndarray, np.ndarray]  # (class codes, positive-class probabilities)


def _held_out(
    model: Any,
    rows: pd.DataFrame,
    schema: Schema,
    classes: tuple[Any, ...] | None,
    trainer: PluginTrainer,
) -> tuple[dict[str, float], Pooled | None]:
    """Scores of ``model`` on held-out ``rows`` (and, binary, the out-of-fold pairs)."""
    features, y = rows.loc[:, list(schema.features)], rows[schema.target]
    try:
        if classes is None:
            pred = np.asarray(model.predict(features), dtype=np.float64).ravel()
        else:
            raw = np.asarray(model.predict_proba(features), dtype=np.float64)
            pred = np.zeros((len(rows), len(classes)))
            for j, label in enumerate(getattr(model, "classes_", ())):
                pred[:, classes.index(_plain(label))] = raw[:, j]
    except Exception as exc:
        raise InvalidInputError(
            f"trainer {trainer.path}: its model fails on the raw feature frame "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if len(pred) != len(rows):
        raise InvalidInputError(
            f"trainer {trainer.path}: its model returned {len(pred)} predictions "
            f"for {len(rows)} rows"
        )
    if classes is None:
        return regression_scores(y.to_numpy(dtype=np.float64), pred), None
    codes = np.array([classes.index(_plain(v)) for v in y])
    pooled = (codes, pred[:, 1]) if len(classes) == 2 else None
    return classification_scores(codes, pred, len(classes)), pooled


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _splits(rows: pd.DataFrame, target: str, task: Task, config: TrainConfig) -> list[Any]:
    kind = StratifiedKFold if task == Task.CLASSIFICATION else KFold
    splitter = kind(n_splits=config.folds, shuffle=True, random_state=config.seed)
    return list(splitter.split(rows, rows[target]))


@dataclass(frozen=True)
class PluginFit:
    """A cross-validated trainer: its leaderboard row, the model refit on every row."""

    model: Any
    candidate: Candidate
    selection: Selection
    classes: tuple[Any, ...] | None
    cv_seconds: float
    fit_seconds: float


def cross_validate(
    trainer: PluginTrainer,
    rows: pd.DataFrame,
    schema: Schema,
    config: TrainConfig,
    task: Task,
    metric: str,
    on_progress: Callable[[float, int], None] | None = None,
) -> PluginFit:
    """Call the trainer on each fold, score it on the held-out rows, then refit on all."""
    assert schema.target is not None
    classes = None
    if task == Task.CLASSIFICATION:
        classes = tuple(_plain(v) for v in sorted(pd.unique(rows[schema.target])))
    start = time.monotonic()
    folds: list[dict[str, float]] = []
    pooled: list[Pooled] = []
    for k, (train, test) in enumerate(_splits(rows, schema.target, task, config), start=1):
        where = f"fold {k} of {config.folds}"
        model = _fit(trainer, rows.iloc[train], schema, config, task, where)
        scores, pairs = _held_out(model, rows.iloc[test], schema, classes, trainer)
        folds.append(scores)
        pooled.extend([pairs] if pairs is not None else [])
        if on_progress:
            on_progress(time.monotonic() - start, k)
    cv_seconds = time.monotonic() - start
    cv = {key: float(np.nanmean([f[key] for f in folds])) for key in folds[0]}
    oof = None
    if pooled:
        oof = (np.concatenate([c for c, _ in pooled]), np.concatenate([p for _, p in pooled]))
    candidate = Candidate(trainer.name, {"trainer": trainer.path}, cv, len(folds), oof)
    reason = (
        f"trainer {trainer.path} (no search): cross-validated over {len(folds)} folds, "
        f"CV {metric} {cv.get(metric, float('nan')):.4g}, then refit on all {len(rows)} rows"
    )
    selection = Selection(candidate, candidate, (candidate.family,), reason)
    fit_start = time.monotonic()
    model = _fit(trainer, rows, schema, config, task, "all rows")
    _held_out(model, rows.head(5), schema, classes, trainer)  # the shipped model works too
    return PluginFit(model, candidate, selection, classes, cv_seconds, time.monotonic() - fit_start)
