"""Lifecycle steps on live data: drift of the served features, drift-triggered retraining.

Re-exported by :mod:`champion.lifecycle`; the CLI and the Airflow DAGs call them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import make_url

from champion.datasets import Dataset, Schema
from champion.drift import DriftResult, check_drift
from champion.errors import ConfigError, NotFoundError
from champion.lifecycle.experiment import open_store, registry_for, start_experiment
from champion.predictionlog import ABConfig, EventStore
from champion.settings import Settings
from champion.tracking.connection import Tracking, connect
from champion.tracking.registry import CHALLENGER, CHAMPION, ModelRegistry, VersionInfo
from champion.tracking.runs import load_profile, run_schema
from champion.training import TrainConfig


@dataclass(frozen=True)
class ServedDrift:
    """The drift check of what the API served against the champion's training data."""

    champion: str
    result: DriftResult
    rows: int
    challenger: str | None = None  # a challenger already under test, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "rows": self.rows,
            "drifted": self.result.drifted,
            "reason": self.result.reason,
            "drifted_features": list(self.result.drifted_features),
            "mean_psi": self.result.mean_psi,
        }


@dataclass(frozen=True)
class ChampionSchema:
    """What the champion was trained on, read from its MLflow run."""

    version: VersionInfo
    schema: Schema
    dataset: str


def champion_schema(tracking: Tracking, registry: ModelRegistry) -> ChampionSchema:
    champion = registry.alias(CHAMPION, refresh=True)
    if champion is None:
        raise NotFoundError(
            f"model {registry.name!r} has no champion: run `champion lifecycle bootstrap` first"
        )
    if champion.run_id is None:
        raise NotFoundError(f"champion v{champion.version} has no training run")
    schema = run_schema(tracking.client, champion.run_id)
    return ChampionSchema(champion, schema, champion.tags.get("champion.dataset", "live"))


def _frame(records: list[dict[str, Any]], schema: Schema) -> pd.DataFrame:
    """Logged feature dicts as a table with the schema's columns and dtypes."""
    frame = pd.DataFrame.from_records(records, columns=list(schema.features))
    for name in schema.numeric:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in schema.categorical:
        frame[name] = frame[name].astype("object")
    return frame


def check_served_drift(
    settings: Settings,
    *,
    window: int | None = None,
    since: datetime | None = None,
    store: EventStore | None = None,
) -> ServedDrift:
    """Compare the latest ``window`` served rows with the champion's reference profile."""
    tracking = connect(settings)
    registry = registry_for(tracking, settings)
    info = champion_schema(tracking, registry)
    challenger = registry.alias(CHALLENGER, refresh=True)
    return _served_drift(
        settings,
        tracking,
        info,
        store or open_store(settings),
        window=window,
        since=since,
        challenger=challenger.version if challenger else None,
    )


def _served_drift(
    settings: Settings,
    tracking: Tracking,
    info: ChampionSchema,
    store: EventStore,
    *,
    window: int | None,
    since: datetime | None,
    challenger: str | None,
) -> ServedDrift:
    from champion.lifecycle import drift_config

    assert info.version.run_id is not None
    profile = load_profile(tracking.client, info.version.run_id)
    records = store.served_features(limit=window or settings.drift_window, since=since)
    if not records:
        raise NotFoundError("the prediction log has no served rows yet: nothing to check")
    current = _frame(records, info.schema)
    result = check_drift(profile, current, drift_config(settings))
    return ServedDrift(info.version.version, result, len(current), challenger)


@dataclass(frozen=True)
class RetrainOutcome:
    """What a drift-retrain step saw and did."""

    drift: ServedDrift | None
    retrained: bool
    challenger: str | None = None
    run_id: str | None = None
    experiment: ABConfig | None = None
    training_rows: int = 0
    note: str = ""
    training: Any = field(default=None, repr=False, compare=False)  # the TrainOutcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drift.result.drifted if self.drift else None,
            "drift_reason": self.drift.result.reason if self.drift else None,
            "drifted_features": list(self.drift.result.drifted_features) if self.drift else [],
            "served_rows": self.drift.rows if self.drift else 0,
            "retrained": self.retrained,
            "challenger": self.challenger,
            "run_id": self.run_id,
            "experiment_id": self.experiment.experiment_id if self.experiment else None,
            "training_rows": self.training_rows,
            "note": self.note,
        }


def retrain_challenger(
    settings: Settings,
    config: TrainConfig,
    *,
    reason: str,
    store: EventStore | None = None,
    on_progress: Any = None,
) -> RetrainOutcome:
    """Train on the latest ``retrain_rows`` labelled rows of the log and register the
    model as ``challenger`` (the champion's features and target, read from its run).

    With fewer than ``retrain_min_rows`` labelled rows nothing is trained: the outcome
    says so (``retrained`` false) — the labels have not arrived yet, not an error.
    """
    if not settings.mlflow_log:
        raise ConfigError("retraining registers a challenger in MLflow: set MLFLOW_LOG=true")
    tracking = connect(settings)
    info = champion_schema(tracking, registry_for(tracking, settings))
    return _retrain(settings, config, info, store or open_store(settings), reason, on_progress)


def _retrain(
    settings: Settings,
    config: TrainConfig,
    info: ChampionSchema,
    store: EventStore,
    reason: str,
    on_progress: Any,
) -> RetrainOutcome:
    from champion.lifecycle import train_and_register

    labelled = store.labelled_rows(limit=settings.retrain_rows)
    if len(labelled) < settings.retrain_min_rows:
        return RetrainOutcome(
            None,
            False,
            note=f"only {len(labelled)} labelled rows (need {settings.retrain_min_rows}): "
            "retraining waits for labels",
        )
    assert info.schema.target is not None
    frame = _frame([features for features, _ in labelled], info.schema)
    frame[info.schema.target] = [label for _, label in labelled]
    source = make_url(settings.events_url).render_as_string(hide_password=True)
    dataset = Dataset(f"{info.dataset}-live", frame, info.schema, source=source)
    outcome = train_and_register(
        settings,
        dataset,
        config,
        register_as=CHALLENGER,
        reason=f"retrained on {len(frame)} live labelled rows: {reason}",
        on_progress=on_progress,
    )
    return RetrainOutcome(
        None,
        True,
        challenger=outcome.version.version if outcome.version else None,
        run_id=outcome.run.run_id if outcome.run else None,
        training_rows=len(frame),
        note=f"challenger trained on {len(frame)} labelled rows",
        training=outcome,
    )


def drift_retrain(
    settings: Settings,
    config: TrainConfig,
    *,
    force: bool = False,
    mode: str | None = None,
    split_b: float | None = None,
    store: EventStore | None = None,
    on_progress: Any = None,
) -> RetrainOutcome:
    """The drift-retrain step whole: check drift; only on drift (or ``force``) retrain
    (:func:`retrain_challenger`) and start an experiment against the champion.

    Nothing happens while a challenger is already under test.
    """
    if not settings.mlflow_log:
        raise ConfigError("drift-retrain registers a challenger in MLflow: set MLFLOW_LOG=true")
    store = store or open_store(settings)
    tracking = connect(settings)
    registry = registry_for(tracking, settings)
    existing = registry.alias(CHALLENGER, refresh=True)
    if existing is not None:
        return RetrainOutcome(
            None, False, note=f"challenger v{existing.version} is already under test: no retrain"
        )
    info = champion_schema(tracking, registry)
    drift = _served_drift(settings, tracking, info, store, window=None, since=None, challenger=None)
    if not drift.result.drifted and not force:
        return RetrainOutcome(drift, False, note=f"no drift: {drift.result.reason}")
    why = f"drift: {drift.result.reason}" if drift.result.drifted else "forced retraining"
    retrained = _retrain(settings, config, info, store, why, on_progress)
    if not retrained.retrained:
        return replace(retrained, drift=drift)
    experiment = start_experiment(settings, mode=mode, split_b=split_b, store=store)
    return replace(
        retrained, drift=drift, experiment=experiment, note=f"{retrained.note}; experiment started"
    )
