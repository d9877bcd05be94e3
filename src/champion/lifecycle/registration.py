"""Train, log the run, register the version: the step every new model goes through
(bootstrap, retraining, ``champion train``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from champion.datasets import Dataset
from champion.drift import ReferenceProfile, build_profile
from champion.lifecycle.workspace import Workspace
from champion.settings import Settings
from champion.tracking.connection import ensure_experiment, while_unreachable
from champion.tracking.registry import DATASET_TAG, VersionInfo
from champion.tracking.runs import LoggedRun, log_training_run, save_model_locally
from champion.training import TrainConfig, TrainResult, train
from champion.types import Alias

#: ``on_progress(elapsed_seconds, evaluations)`` during the search.
Progress = Callable[[float, int], None]


@dataclass(frozen=True)
class TrainOutcome:
    """What a training step produced and where it went."""

    result: TrainResult
    profile: ReferenceProfile
    run: LoggedRun | None  # None when MLFLOW_LOG=false
    version: VersionInfo | None  # None when not registered
    saved_to: Path | None = None  # local copy when MLFLOW_LOG=false
    note: str = ""


def reference_profile(settings: Settings, dataset: Dataset) -> ReferenceProfile:
    """The drift reference of ``dataset``: what later drift checks compare against."""
    schema = dataset.schema
    return build_profile(
        dataset.frame,
        schema.numeric,
        schema.categorical,
        bins=settings.drift.bins,
        meta={"dataset": dataset.name, "rows": len(dataset.frame)},
    )


def _train_unlogged(
    settings: Settings,
    dataset: Dataset,
    config: TrainConfig,
    register_as: Alias | None,
    on_progress: Progress | None,
) -> TrainOutcome:
    profile = reference_profile(settings, dataset)
    result = train(dataset.frame, dataset.schema, config, on_progress=on_progress)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = save_model_locally(
        result, profile, settings.home / "models" / f"{dataset.name}-{stamp}"
    )
    wanted = f" (--register {register_as} ignored)" if register_as else ""
    note = (
        f"MLFLOW_LOG=false: the run was not logged and no version was registered{wanted}; "
        f"the model is saved in {target}"
    )
    return TrainOutcome(result, profile, None, None, saved_to=target, note=note)


def _publish(
    ws: Workspace,
    dataset: Dataset,
    result: TrainResult,
    profile: ReferenceProfile,
    experiment_id: str,
    register_as: Alias | None,
    reason: str,
) -> TrainOutcome:
    settings = ws.settings
    # the search is the expensive part: MLflow away now is waited for (CHAMPION_MLFLOW_WAIT)
    run = while_unreachable(
        settings,
        "log the training run",
        lambda: log_training_run(
            result,
            dataset.frame,
            profile,
            experiment_id=experiment_id,
            dataset_name=dataset.name,
            source=dataset.source,
        ),
    )
    if register_as is None:
        return TrainOutcome(result, profile, run, None)
    version = while_unreachable(
        settings,
        "register the model",
        lambda: ws.registry.register(
            run.model_uri,
            run.run_id,
            alias=register_as,
            actor=settings.who,
            reason=reason,
            model_id=run.model_id,
            tags={DATASET_TAG: dataset.name, "champion.data_sha256": run.data_digest},
        ),
    )
    return TrainOutcome(result, profile, run, version)


def register_trained(
    settings: Settings,
    dataset: Dataset,
    result: TrainResult,
    *,
    register_as: Alias | None,
    reason: str,
) -> TrainOutcome:
    """Log a model already trained on ``dataset`` and register it under an alias if asked:
    what :func:`train_and_register` does after its search."""
    ws = Workspace(settings)
    ws.require_logging("registering a trained model")
    experiment_id = ensure_experiment(ws.tracking, settings.experiment_name)
    profile = reference_profile(settings, dataset)
    return _publish(ws, dataset, result, profile, experiment_id, register_as, reason)


def train_and_register(
    settings: Settings,
    dataset: Dataset,
    config: TrainConfig,
    *,
    register_as: Alias | None,
    reason: str,
    on_progress: Progress | None = None,
) -> TrainOutcome:
    """Train on ``dataset``; log the run to MLflow; register it under an alias if asked.

    With ``MLFLOW_LOG=false`` nothing is logged and nothing is registered: the model is
    saved under ``home/models`` instead, and the outcome's note says so.
    """
    if not settings.mlflow_log:
        return _train_unlogged(settings, dataset, config, register_as, on_progress)
    ws = Workspace(settings)
    experiment_id = ensure_experiment(ws.tracking, settings.experiment_name)  # fail fast
    profile = reference_profile(settings, dataset)
    result = train(dataset.frame, dataset.schema, config, on_progress=on_progress)
    return _publish(ws, dataset, result, profile, experiment_id, register_as, reason)
