"""The use cases of champion, as plain typed functions.

The CLI calls them in-process; the Airflow DAGs call the very same functions, one per
task, passing only ids and small JSON. Nothing here talks to a user: progress goes
through an optional callback, results come back as frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from champion.datasets import Dataset
from champion.drift import DriftConfig, ReferenceProfile, build_profile
from champion.errors import ConfigError
from champion.lifecycle.experiment import (  # the A/B steps live in their own module
    EvaluationOutcome,
    ab_policy,
    apply_decision,
    evaluate_and_promote,
    open_store,
    start_experiment,
)
from champion.lifecycle.retrain import (  # drift on live data and retraining
    RetrainOutcome,
    ServedDrift,
    check_served_drift,
    drift_retrain,
    retrain_challenger,
)
from champion.settings import Settings
from champion.tracking.connection import connect, ensure_experiment, while_unreachable
from champion.tracking.registry import CHAMPION, ModelRegistry, VersionInfo
from champion.tracking.runs import LoggedRun, log_training_run
from champion.training import TrainConfig, TrainResult, train

Progress = Callable[[float, int], None]
RegisterAs = Literal["champion", "challenger"]


@dataclass(frozen=True)
class TrainOutcome:
    """What a training step produced and where it went."""

    result: TrainResult
    profile: ReferenceProfile
    run: LoggedRun | None  # None when MLFLOW_LOG=false
    version: VersionInfo | None  # None when not registered
    saved_to: Path | None = None  # local copy when MLFLOW_LOG=false
    note: str = ""


def drift_config(settings: Settings, **overrides: object) -> DriftConfig:
    """The drift configuration in force: settings, then non-None overrides."""
    values: dict[str, object] = {
        "rule": settings.drift_rule,
        "alpha": settings.drift_alpha,
        "psi_threshold": settings.psi_threshold,
        "drift_threshold": settings.drift_threshold,
        "share_threshold": settings.drift_share,
        "ks_floor": settings.ks_floor,
        "psi_floor": settings.psi_floor,
        "correction": settings.drift_correction,
        "bins": settings.drift_bins,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return DriftConfig(**values)  # type: ignore[arg-type]


def train_config(settings: Settings, **overrides: object) -> TrainConfig:
    """The training configuration in force: settings, then non-None overrides."""
    values: dict[str, object] = {
        "metric": settings.train_metric,
        "budget": settings.train_budget,
        "seed": settings.seed,
        "folds": settings.cv_folds,
        "precision_tolerance": settings.precision_tolerance,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**values)  # type: ignore[arg-type]


def open_registry(settings: Settings) -> ModelRegistry:
    """The registry of ``settings.model_name`` over a checked MLflow connection."""
    tracking = connect(settings)
    return ModelRegistry(
        tracking.client, settings.model_name, cache_ttl=settings.registry_cache_ttl
    )


def train_and_register(
    settings: Settings,
    dataset: Dataset,
    config: TrainConfig,
    *,
    register_as: RegisterAs | None,
    reason: str,
    on_progress: Progress | None = None,
) -> TrainOutcome:
    """Train on ``dataset``; log the run to MLflow; register it under an alias if asked.

    With ``MLFLOW_LOG=false`` nothing is logged and nothing is registered: the model is
    saved under ``home/models`` instead, and the outcome's note says so.
    """
    schema = dataset.schema
    profile = build_profile(
        dataset.frame,
        schema.numeric,
        schema.categorical,
        bins=settings.drift_bins,
        meta={"dataset": dataset.name, "rows": len(dataset.frame)},
    )
    if not settings.mlflow_log:
        result = train(dataset.frame, schema, config, on_progress=on_progress)
        import mlflow.sklearn

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = settings.home / "models" / f"{dataset.name}-{stamp}"
        mlflow.sklearn.save_model(result.model, target, serialization_format="cloudpickle")
        (target / "reference_profile.json").write_text(profile.to_json(), encoding="utf-8")
        wanted = f" (--register {register_as} ignored)" if register_as else ""
        note = (
            f"MLFLOW_LOG=false: the run was not logged and no version was registered{wanted}; "
            f"the model is saved in {target}"
        )
        return TrainOutcome(result, profile, None, None, saved_to=target, note=note)

    tracking = connect(settings)  # fail fast, before the search
    experiment_id = ensure_experiment(tracking, settings.experiment_name)
    result = train(dataset.frame, schema, config, on_progress=on_progress)
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
    version = None
    if register_as is not None:
        registry = ModelRegistry(
            tracking.client, settings.model_name, cache_ttl=settings.registry_cache_ttl
        )
        version = while_unreachable(
            settings,
            "register the model",
            lambda: registry.register(
                run.model_uri,
                run.run_id,
                alias=register_as,
                actor=settings.who,
                reason=reason,
                model_id=run.model_id,
                tags={"champion.dataset": dataset.name, "champion.data_sha256": run.data_digest},
            ),
        )
    return TrainOutcome(result, profile, run, version)


def model_status(settings: Settings) -> dict[str, str | None]:
    """The versions behind the aliases: ``{"champion": "3", "challenger": None}``."""
    from champion.tracking.registry import CHALLENGER

    registry = open_registry(settings)
    champion = registry.alias(CHAMPION, refresh=True)
    challenger = registry.alias(CHALLENGER, refresh=True)
    return {
        "champion": champion.version if champion else None,
        "challenger": challenger.version if challenger else None,
    }


@dataclass(frozen=True)
class BootstrapOutcome:
    """The champion after bootstrap, and whether this call created it."""

    champion: VersionInfo
    created: bool
    training: TrainOutcome | None


def bootstrap(
    settings: Settings,
    dataset: Dataset,
    config: TrainConfig,
    *,
    on_progress: Progress | None = None,
) -> BootstrapOutcome:
    """No champion yet? Train on the reference data and make it champion directly."""
    if not settings.mlflow_log:
        raise ConfigError("bootstrap registers a champion in MLflow: set MLFLOW_LOG=true")
    registry = open_registry(settings)
    existing = registry.alias(CHAMPION, refresh=True)
    if existing is not None:
        return BootstrapOutcome(champion=existing, created=False, training=None)
    outcome = train_and_register(
        settings,
        dataset,
        config,
        register_as=CHAMPION,
        reason=f"bootstrap: no champion existed; trained on {dataset.name}",
        on_progress=on_progress,
    )
    assert outcome.version is not None  # registered: MLFLOW_LOG is true
    return BootstrapOutcome(champion=outcome.version, created=True, training=outcome)


__all__ = [
    "BootstrapOutcome",
    "EvaluationOutcome",
    "RetrainOutcome",
    "ServedDrift",
    "TrainOutcome",
    "ab_policy",
    "apply_decision",
    "bootstrap",
    "check_served_drift",
    "drift_config",
    "drift_retrain",
    "evaluate_and_promote",
    "model_status",
    "open_registry",
    "open_store",
    "retrain_challenger",
    "start_experiment",
    "train_and_register",
    "train_config",
]
