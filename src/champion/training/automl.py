"""AutoML: a budgeted FLAML search, a leaderboard, a selection rule, a refit pipeline.

1. The raw feature frame is turned into a matrix by the preprocessing of
   :mod:`champion.training.preprocessing` (fitted once for the search).
2. FLAML searches, within the time budget, over estimator families (LightGBM, XGBoost,
   HistGradientBoosting, random forest, extra trees, logistic regression), with k-fold
   cross-validation, one core per fit, and scikit-learn's usual defaults among the
   starting points. The search loss is log loss for classification, the selection metric
   for regression. Every fold's scores on every metric are recorded as it runs, so the
   leaderboard costs no extra fit.
3. Each family's best configuration becomes a leaderboard row with its mean CV scores;
   :func:`champion.training.selection.select` picks the one to ship.
4. That configuration is refit on all the rows as ``Pipeline(preprocess, model)``: it
   takes the raw feature frame, so serving needs nothing else.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from champion.datasets import Schema
from champion.errors import InvalidInputError
from champion.training.config import CLASSIFIERS, REGRESSORS, TrainConfig
from champion.training.estimator import LabelledClassifier
from champion.training.metrics import classification_scores, regression_scores
from champion.training.plugin import cross_validate, load_trainer
from champion.training.preprocessing import build_preprocessor
from champion.training.selection import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    Candidate,
    Selection,
    select,
)
from champion.types import Task

__all__ = ["TrainConfig", "TrainResult", "train"]

#: scikit-learn / LightGBM defaults evaluated first, so the search never ends below them.
STARTING_POINTS: dict[str, dict[str, Any]] = {
    "lgbm": {"n_estimators": 100, "num_leaves": 31},
    "histgb": {"n_estimators": 100, "max_leaves": 31},
}


@dataclass(frozen=True)
class TrainResult:
    """A trained model and everything learned on the way."""

    model: Any = field(repr=False)  # sklearn-compatible: raw feature frame in
    task: Task
    metric: str
    search_loss: str
    schema: Schema
    classes: tuple[Any, ...] | None
    leaderboard: tuple[Candidate, ...]
    selection: Selection
    n_rows: int
    n_trials: int
    search_seconds: float
    fit_seconds: float
    config: TrainConfig

    @property
    def cv_scores(self) -> dict[str, float]:
        """CV scores of the shipped model (at its tuned threshold, if any)."""
        return self.selection.scores

    def leaderboard_frame(self) -> pd.DataFrame:
        """One row per estimator family: CV means at 0.5, and the tuned operating point."""
        rows = []
        for c in self.leaderboard:
            row: dict[str, Any] = {"family": c.family, "selected": c is self.selection.chosen}
            row.update(c.cv)
            point = self.selection.points.get(c.family)
            if self.selection.points:
                row["threshold"] = point.threshold if point else None
                row["recall_at_threshold"] = point.recall if point else None
                row["precision_at_threshold"] = point.precision if point else None
            rows.append(row)
        return pd.DataFrame(rows)


def _params_key(family: str, params: dict[str, Any]) -> str:
    """Identity of a configuration: the estimator parameters FLAML derives from it."""
    clean = {k: v for k, v in params.items() if k != "n_jobs" and not k.startswith("FLAML_")}
    return family + json.dumps(clean, sort_keys=True, default=str)


class _FoldRecorder:
    """Collects every fold's scores per (family, configuration) during the search."""

    def __init__(self, classes: dict[str, type], flaml_task: str) -> None:
        self._classes = classes
        self._families = {cls: name for name, cls in classes.items()}
        self._task = flaml_task
        self._lock = threading.Lock()
        self.folds: dict[str, list[dict[str, float]]] = defaultdict(list)
        self.oof: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)

    def add(
        self, estimator: Any, scores: dict[str, float], oof: tuple[Any, Any] | None = None
    ) -> None:
        family = self._families.get(type(estimator), type(estimator).__name__)
        key = _params_key(family, estimator.params)
        with self._lock:
            self.folds[key].append(scores)
            if oof is not None:
                y, p = oof
                self.oof[key].append((np.asarray(y, dtype=np.int8), np.asarray(p, np.float32)))

    @property
    def n_evaluations(self) -> int:
        with self._lock:
            return len(self.folds)

    def candidate(self, family: str, config: dict[str, Any]) -> Candidate | None:
        """The leaderboard row of a configuration: fold means and pooled out-of-fold."""
        params = self._classes[family](task=self._task, n_jobs=1, **config).params
        key = _params_key(family, params)
        folds = self.folds.get(key, [])
        if not folds:
            return None
        cv = {k: float(np.nanmean([f[k] for f in folds])) for k in folds[0]}
        parts = self.oof.get(key)
        oof = None
        if parts:
            oof = (np.concatenate([y for y, _ in parts]), np.concatenate([p for _, p in parts]))
        return Candidate(family=family, config=dict(config), cv=cv, folds=len(folds), oof=oof)


def _validate(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> tuple[Task, str]:
    if schema.target is None or schema.target not in frame.columns:
        raise InvalidInputError("training needs a target column: give --target COL")
    task = Task(config.task or schema.task or Task.CLASSIFICATION)
    y = frame[schema.target]
    if y.isna().all():
        raise InvalidInputError(f"target {schema.target!r} has no values")
    n = int(y.notna().sum())
    if n < config.min_rows:
        raise InvalidInputError(
            f"too few rows to train: {n} labelled rows, need at least {config.min_rows}"
        )
    metric = config.metric or ("recall" if task == Task.CLASSIFICATION else "mae")
    allowed = CLASSIFICATION_METRICS if task == Task.CLASSIFICATION else REGRESSION_METRICS
    if metric not in allowed:
        raise InvalidInputError(
            f"metric {metric!r} does not fit a {task} task; choose from {', '.join(allowed)}"
        )
    if task == Task.CLASSIFICATION:
        counts = y.value_counts()
        if len(counts) < 2:
            raise InvalidInputError(
                f"target {schema.target!r} has a single class ({counts.index[0]!r}); "
                "a classifier needs at least two"
            )
        small = counts[counts < config.folds]
        if not small.empty:
            raise InvalidInputError(
                f"class {small.index[0]!r} of {schema.target!r} has {int(small.iloc[0])} rows; "
                f"each class needs at least {config.folds} (one per CV fold)"
            )
    elif not pd.api.types.is_numeric_dtype(y):
        raise InvalidInputError(f"regression target {schema.target!r} must be numeric")
    return task, metric


@dataclass(frozen=True)
class Prepared:
    """The training rows, encoded for the search."""

    task: Task
    metric: str
    search_loss: str
    flaml_task: str  # binary | multiclass | regression
    families: tuple[str, ...]
    features: pd.DataFrame  # the raw feature frame of the labelled rows
    target: pd.Series  # the labels as given
    y: np.ndarray  # the labels as the search sees them (class codes, or floats)
    classes: tuple[Any, ...] | None
    preprocessor: Any  # fitted on ``features``
    matrix: Any  # ``features`` through the preprocessor


def prepare(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> Prepared:
    """Check the data and the configuration; encode the labelled rows once."""
    task, metric = _validate(frame, schema, config)
    assert schema.target is not None  # _validate checked it
    data = frame.loc[frame[schema.target].notna()].reset_index(drop=True)
    features = data.loc[:, list(schema.features)]
    classes: tuple[Any, ...] | None = None
    if task == Task.CLASSIFICATION:
        codes, uniques = pd.factorize(data[schema.target], sort=True)
        classes, y = tuple(uniques.tolist()), codes.astype(np.int64)
        flaml_task = "binary" if len(classes) == 2 else "multiclass"
        families = config.estimators or CLASSIFIERS
        search_loss = "log_loss"
    else:
        y = data[schema.target].to_numpy(dtype=np.float64)
        flaml_task = "regression"
        families = tuple(f for f in (config.estimators or REGRESSORS) if f != "lrl2")
        search_loss = metric
    preprocessor = build_preprocessor(schema)
    matrix = preprocessor.fit_transform(features)
    return Prepared(
        task,
        metric,
        search_loss,
        flaml_task,
        tuple(families),
        features,
        data[schema.target],
        y,
        classes,
        preprocessor,
        matrix,
    )


def _fold_metric(prepared: Prepared, recorder: _FoldRecorder) -> Callable[..., Any]:
    """FLAML's metric callback: the search loss, every fold's scores recorded on the way."""
    n_classes = len(prepared.classes) if prepared.classes else 0

    def metric_fn(X_val, y_val, estimator, labels, X_train, y_train, *args: Any, **kw: Any):
        if prepared.flaml_task == "regression":
            scores = regression_scores(y_val, estimator.predict(X_val))
            loss = (
                1.0 - scores["r2"] if prepared.search_loss == "r2" else scores[prepared.search_loss]
            )
            recorder.add(estimator, scores)
        else:
            proba = estimator.predict_proba(X_val)
            scores = classification_scores(y_val, proba, n_classes)
            loss = scores["log_loss"]
            oof = (y_val, np.asarray(proba)[:, 1]) if prepared.flaml_task == "binary" else None
            recorder.add(estimator, scores, oof)
        return loss, {k: v for k, v in scores.items() if np.isfinite(v)}

    return metric_fn


def search(
    prepared: Prepared,
    config: TrainConfig,
    recorder: _FoldRecorder,
    on_progress: Callable[[float, int], None] | None,
) -> tuple[Any, float]:
    """The budgeted FLAML search (on its own thread, so progress can tick): the fitted
    AutoML object and the seconds it took."""
    from flaml import AutoML  # heavy import, only when training

    automl = AutoML()
    settings = {
        "task": prepared.flaml_task,
        "metric": _fold_metric(prepared, recorder),
        "time_budget": config.budget,
        "estimator_list": list(prepared.families),
        "eval_method": "cv",
        "n_splits": config.folds,
        "split_type": "stratified" if prepared.task == Task.CLASSIFICATION else "uniform",
        "n_jobs": 1,
        "seed": config.seed,
        "sample": False,
        "retrain_full": False,
        "starting_points": {k: v for k, v in STARTING_POINTS.items() if k in prepared.families},
        "train_time_limit": max(config.budget / 3, 5.0),
        "verbose": 0,
        "mlflow_logging": False,
        "log_file_name": "",
    }
    start = time.monotonic()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with threadpool_limits(limits=1):  # see refit()
                automl.fit(X_train=prepared.matrix, y_train=prepared.y, **settings)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=run, name="champion-automl", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.25)
        if on_progress:
            on_progress(time.monotonic() - start, recorder.n_evaluations)
    if errors:
        raise errors[0]
    if automl.best_estimator is None:
        raise InvalidInputError(f"the search found no model in {config.budget:g} s; raise --budget")
    return automl, time.monotonic() - start


def leaderboard(automl: Any, recorder: _FoldRecorder) -> list[Candidate]:
    """Each family's best configuration with its CV scores, as recorded in the search."""
    return [
        cand
        for family, best in automl.best_config_per_estimator.items()
        if best is not None and (cand := recorder.candidate(family, best)) is not None
    ]


def refit(
    prepared: Prepared,
    chosen: Candidate,
    estimator_class: type,
    config: TrainConfig,
    threshold: float | None,
) -> tuple[Any, float]:
    """The chosen configuration refit on every row as one pipeline that takes the raw
    feature frame: the model to ship, and the seconds the fit took."""
    start = time.monotonic()
    model = _final_model(
        prepared.preprocessor,
        estimator_class,
        prepared.flaml_task,
        chosen.config,
        config.seed,
        prepared.classes,
        threshold,
    )
    labelled = isinstance(model, LabelledClassifier)
    # One thread per native pool: scikit-learn, LightGBM and XGBoost each ship an OpenMP
    # runtime, and their idle spinning threads slow each other down by 10x or more when
    # they alternate in one process (HistGradientBoosting fits after an XGBoost search).
    # The search is one fit per core by design anyway.
    with threadpool_limits(limits=1):
        model.fit(prepared.features, prepared.target if labelled else prepared.y)
    return model, time.monotonic() - start


def train(
    frame: pd.DataFrame,
    schema: Schema,
    config: TrainConfig | None = None,
    *,
    on_progress: Callable[[float, int], None] | None = None,
) -> TrainResult:
    """Prepare, search, rank, select and refit; ``on_progress(elapsed_seconds,
    evaluations)`` ticks during the search."""
    config = config or TrainConfig()
    if config.trainer is not None:
        return _train_plugin(frame, schema, config, on_progress)
    prepared = prepare(frame, schema, config)
    classes = _estimator_classes(prepared.flaml_task, prepared.families)
    recorder = _FoldRecorder(classes, prepared.flaml_task)
    automl, search_seconds = search(prepared, config, recorder, on_progress)
    board = leaderboard(automl, recorder)
    selection = select(
        board,
        metric=prepared.metric,
        search_loss=prepared.search_loss,
        precision_tolerance=config.precision_tolerance,
        min_precision=config.min_precision,
    )
    chosen = selection.chosen
    model, fit_seconds = refit(
        prepared, chosen, classes[chosen.family], config, selection.threshold
    )
    board.sort(key=lambda c: c.cv[prepared.search_loss])
    return TrainResult(
        model=model,
        task=prepared.task,
        metric=prepared.metric,
        search_loss=prepared.search_loss,
        schema=schema,
        classes=prepared.classes,
        leaderboard=tuple(board),
        selection=selection,
        n_rows=len(prepared.features),
        n_trials=recorder.n_evaluations,
        search_seconds=search_seconds,
        fit_seconds=fit_seconds,
        config=config,
    )


def _train_plugin(
    frame: pd.DataFrame,
    schema: Schema,
    config: TrainConfig,
    on_progress: Callable[[float, int], None] | None,
) -> TrainResult:
    """The team's trainer (:mod:`champion.training.plugin`), cross-validated and refit."""
    assert config.trainer is not None
    trainer = load_trainer(config.trainer)  # fails first, before any data work
    task, metric = _validate(frame, schema, config)
    assert schema.target is not None
    labelled = frame.loc[frame[schema.target].notna(), [*schema.features, schema.target]]
    rows = labelled.reset_index(drop=True)
    schema = replace(schema, task=task)  # the trainer is told the task in force
    fit = cross_validate(trainer, rows, schema, config, task, metric, on_progress)
    return TrainResult(
        model=fit.model,
        task=task,
        metric=metric,
        search_loss="log_loss" if task == Task.CLASSIFICATION else metric,
        schema=schema,
        classes=fit.classes,
        leaderboard=(fit.candidate,),
        selection=fit.selection,
        n_rows=len(rows),
        n_trials=config.folds + 1,
        search_seconds=fit.cv_seconds,
        fit_seconds=fit.fit_seconds,
        config=config,
    )


def _estimator_classes(flaml_task: str, families: tuple[str, ...]) -> dict[str, type]:
    from flaml.automl.task.factory import task_factory

    task = task_factory(flaml_task, None, None)
    return {name: task.estimator_class_from_str(name) for name in families}


def _final_model(
    preprocessor: Any,
    flaml_class: type,
    flaml_task: str,
    config: dict[str, Any],
    seed: int,
    classes: tuple[Any, ...] | None,
    threshold: float | None = None,
) -> Any:
    wrapper = flaml_class(task=flaml_task, n_jobs=1, **config)
    params = dict(wrapper.params)
    if "random_state" in params or flaml_class.__name__.startswith(("LGBM", "XGB")):
        params["random_state"] = seed
    model: Any = Pipeline(
        [("preprocess", clone(preprocessor)), ("model", wrapper.estimator_class(**params))]
    )
    if threshold is not None:
        model = FixedThresholdClassifier(
            model, threshold=threshold, response_method="predict_proba"
        )
    if classes is None or classes == tuple(range(len(classes))):
        return model
    return LabelledClassifier(model, classes)
