"""Log a training run to MLflow: parameters, leaderboard, model, drift profile, dataset."""

from __future__ import annotations

import hashlib
import logging
import site
import sys
import sysconfig
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from champion.datasets import Schema
from champion.drift import ReferenceProfile
from champion.errors import BackendError
from champion.tracking.model_kind import model_task
from champion.tracking.registry import TASK_TAG, VersionInfo
from champion.training import TrainResult
from champion.types import Task

#: Where the drift reference profile of a run's training data lives among its artifacts.
PROFILE_ARTIFACT = "drift/reference_profile.json"
MODEL_NAME_IN_RUN = "model"
_REQUIREMENTS = (
    "scikit-learn",
    "numpy",
    "pandas",
    "scipy",
    "cloudpickle",
    "lightgbm",
    "xgboost",
    "champion",
)


@dataclass(frozen=True)
class LoggedRun:
    """Where a training run went in MLflow."""

    run_id: str
    experiment_id: str
    model_uri: str
    model_id: str | None
    data_digest: str


def data_digest(frame: pd.DataFrame) -> str:
    """SHA-256 over the rows and column names of ``frame`` (order-sensitive)."""
    hasher = hashlib.sha256()
    hasher.update("\x1f".join(map(str, frame.columns)).encode())
    hasher.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return hasher.hexdigest()


def _requirements() -> list[str]:
    pins = []
    for name in _REQUIREMENTS:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pins


def _input_example(features: pd.DataFrame, numeric: tuple[str, ...]) -> pd.DataFrame:
    """Three rows for the signature; numeric features as doubles, since any of them may
    arrive missing at serving time (an integer column cannot hold a missing value)."""
    complete = features.dropna()
    example = (complete if len(complete) >= 3 else features).head(3).reset_index(drop=True)
    return example.astype({name: "float64" for name in numeric})


def run_params(result: TrainResult, digest: str) -> dict[str, Any]:
    """What a training run records as parameters (read back by :func:`run_schema`)."""
    schema, selection = result.schema, result.selection
    params: dict[str, Any] = {
        "task": result.task,
        "metric": result.metric,
        "search_loss": result.search_loss,
        "budget_s": result.config.budget,
        "seed": result.config.seed,
        "cv_folds": result.config.folds,
        "estimators": ",".join(c.family for c in result.leaderboard),
        "target": schema.target,
        "numeric_features": ",".join(schema.numeric),
        "categorical_features": ",".join(schema.categorical),
        "dropped_columns": ",".join(schema.dropped),
        "trainer": result.config.trainer or "flaml",
        "preprocessing": "the trainer's own"
        if result.config.trainer
        else "numeric: median impute + standardise; categorical: "
        "missing level + one-hot (30 most frequent, rest grouped)",
        "selected_family": selection.chosen.family,
        "decision_threshold": selection.threshold if selection.threshold is not None else "",
        "precision_tolerance": result.config.precision_tolerance,
        "n_rows": result.n_rows,
        "data_sha256": digest,
    }
    params.update({f"model.{k}": v for k, v in selection.chosen.config.items()})
    return params


def run_metrics(result: TrainResult) -> dict[str, float]:
    """The shipped model's CV scores and the time the training took."""
    metrics = {f"cv_{k}": v for k, v in result.cv_scores.items() if pd.notna(v)}
    metrics.update(
        search_seconds=result.search_seconds,
        fit_seconds=result.fit_seconds,
        n_evaluations=float(result.n_trials),
    )
    return metrics


def _log_dataset(
    frame: pd.DataFrame, name: str, source: str, target: str | None, digest: str
) -> None:
    import mlflow
    import mlflow.data
    from mlflow.exceptions import MlflowException

    # MLflow's hints while it describes a dataset (integer columns, a local path that two
    # source kinds claim) are about its own schema inference, not the user's data
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\.")
        try:
            dataset = mlflow.data.from_pandas(
                frame, source=source, name=name, targets=target, digest=digest[:36]
            )
        except MlflowException:  # a source MLflow cannot resolve (a database URL)
            mlflow.set_tag("champion.data_source", source)
            dataset = mlflow.data.from_pandas(frame, name=name, targets=target, digest=digest[:36])
    mlflow.log_input(dataset, context="training")


def _log_model(result: TrainResult, features: pd.DataFrame) -> Any:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    example = _input_example(features, result.schema.numeric)
    # cloudpickle is deliberate (skops cannot hold FLAML/LightGBM pipelines); the
    # warning MLflow prints about it would only alarm users.
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    with trainer_code_by_value(result.config.trainer):
        return mlflow.sklearn.log_model(
            result.model,
            name=MODEL_NAME_IN_RUN,
            signature=infer_signature(example, result.model.predict(example)),
            input_example=example,
            serialization_format="cloudpickle",
            pip_requirements=_requirements(),
        )


@contextmanager
def trainer_code_by_value(trainer: str | None) -> Iterator[None]:
    """While pickling a plug-in trainer's model: classes defined in the trainer's own
    module, when it is not an installed package, are stored with the model, so an API
    without that module on its path can still load it."""
    import cloudpickle

    module = sys.modules.get(trainer.partition(":")[0]) if trainer else None
    installed = module is None or _installed(getattr(module, "__file__", None))
    if installed:
        yield
        return
    cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        cloudpickle.unregister_pickle_by_value(module)


def _installed(path: str | None) -> bool:
    if path is None:
        return True
    roots = [*site.getsitepackages(), site.getusersitepackages(), sysconfig.get_path("stdlib")]
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(Path(root).resolve()) for root in roots if root)


def log_training_run(
    result: TrainResult,
    frame: pd.DataFrame,
    profile: ReferenceProfile,
    *,
    experiment_id: str,
    dataset_name: str,
    source: str,
    tags: dict[str, str] | None = None,
) -> LoggedRun:
    """Log ``result`` (trained on ``frame``) as one MLflow run; return where it went."""
    import mlflow
    from mlflow.exceptions import MlflowException

    digest = data_digest(frame)
    reason = result.selection.reason
    try:
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{dataset_name}") as run:
            mlflow.set_tags(
                {
                    "champion.kind": "training",
                    "champion.dataset": dataset_name,
                    "champion.selection": reason[:4000],
                    "mlflow.note.content": reason,
                    **(tags or {}),
                }
            )
            mlflow.log_params({k: str(v)[:6000] for k, v in run_params(result, digest).items()})
            mlflow.log_metrics(run_metrics(result))
            board = result.leaderboard_frame()
            mlflow.log_table(board, artifact_file="leaderboard.json")
            mlflow.log_text(board.to_csv(index=False), "leaderboard.csv")
            mlflow.log_dict(profile.to_dict(), PROFILE_ARTIFACT)
            _log_dataset(frame, dataset_name, source, result.schema.target, digest)
            info = _log_model(result, frame.loc[:, list(result.schema.features)])
    except MlflowException as exc:
        raise BackendError(f"MLflow failed to log the training run: {exc.message}") from exc
    return LoggedRun(
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        model_uri=info.model_uri,
        model_id=getattr(info, "model_id", None),
        data_digest=digest,
    )


def log_adoption_run(
    schema: Schema,
    frame: pd.DataFrame,
    profile: ReferenceProfile,
    *,
    experiment_id: str,
    model_uri: str,
    dataset_name: str,
    source: str,
) -> str:
    """Record what champion needs of a version it did not train — its task, target,
    features (read back by :func:`run_schema`) and the drift reference profile of
    ``frame`` — as one run; return the run id."""
    import mlflow
    from mlflow.exceptions import MlflowException

    digest = data_digest(frame)
    params = {
        "task": schema.task,
        "target": schema.target,
        "numeric_features": ",".join(schema.numeric),
        "categorical_features": ",".join(schema.categorical),
        "dropped_columns": ",".join(schema.dropped),
        "adopted_model": model_uri,
        "n_rows": len(frame),
        "data_sha256": digest,
    }
    try:
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"adopt-{dataset_name}") as run:
            mlflow.set_tags(
                {
                    "champion.kind": "adoption",
                    "champion.dataset": dataset_name,
                    "champion.adopted": model_uri,
                }
            )
            mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
            mlflow.log_dict(profile.to_dict(), PROFILE_ARTIFACT)
            _log_dataset(frame, dataset_name, source, schema.target, digest)
    except MlflowException as exc:
        raise BackendError(f"MLflow failed to log the adoption run: {exc.message}") from exc
    return str(run.info.run_id)


def save_model_locally(result: TrainResult, profile: ReferenceProfile, target: Path) -> Path:
    """Without MLflow logging: the model in MLflow's format, and its drift profile, in
    ``target`` (a new folder)."""
    import mlflow.sklearn

    with trainer_code_by_value(result.config.trainer):
        mlflow.sklearn.save_model(result.model, target, serialization_format="cloudpickle")
    (target / "reference_profile.json").write_text(profile.to_json(), encoding="utf-8")
    return target


def load_profile(client: Any, run_id: str) -> ReferenceProfile:
    """The drift reference profile stored with a training run."""
    import json
    import tempfile

    from mlflow.exceptions import MlflowException

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, PROFILE_ARTIFACT, tmp)
            with open(path, encoding="utf-8") as fh:
                return ReferenceProfile.from_dict(json.load(fh))
    except MlflowException as exc:
        raise BackendError(f"run {run_id} has no drift profile: {exc.message}") from exc


def run_schema(client: Any, run_id: str) -> Schema:
    """The task, target and features a training run recorded in its params."""
    from mlflow.exceptions import MlflowException

    try:
        params = client.get_run(run_id).data.params
    except MlflowException as exc:
        raise BackendError(f"MLflow failed to read run {run_id}: {exc.message}") from exc

    def names(key: str) -> tuple[str, ...]:
        return tuple(n for n in params.get(key, "").split(",") if n)

    task = params.get("task")
    return Schema(
        target=params.get("target"),
        task=Task(task) if task in tuple(Task) else None,
        numeric=names("numeric_features"),
        categorical=names("categorical_features"),
    )


def version_task(client: Any, info: VersionInfo) -> Task | None:
    """A version's task: its schema run's ``task`` param, else its ``champion.task`` tag,
    else what its signature's output says (real numbers: regression; labels:
    classification). None when none of these tells."""
    if info.schema_run is not None:
        task = run_schema(client, info.schema_run).task
        if task is not None:
            return task
    tagged = info.tags.get(TASK_TAG)
    if tagged in tuple(Task):
        return Task(tagged)
    return model_task(info.model_uri)
